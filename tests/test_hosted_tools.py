"""Hosted-tool money over real HTTP against the fake API, on its fake clock: containers billed once
by the rule of their date and tier, search, file search and image fees, unknown tools unpriced."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from responses_helpers import MODEL, PRICES, points, total
from spanutil import attrs, named

from openai_fake_api.responses_scripts import ResponseScript, Usage, WebSearch

MIN = 60
FEBRUARY = int(datetime(2026, 2, 10, 9, 0, tzinfo=UTC).timestamp())  # per container
APRIL = int(datetime(2026, 4, 14, 9, 0, tzinfo=UTC).timestamp())  # per 20-minute session
JULY = int(datetime(2026, 7, 14, 9, 0, tzinfo=UTC).timestamp())  # per minute, 5-minute minimum
NOVEMBER = int(datetime(2026, 11, 3, 9, 0, tzinfo=UTC).timestamp())


@pytest.fixture
def traced(otel: Any, fake_api: Any) -> Any:
    otel.instrument(prices=PRICES, container_clock=fake_api.clock.now)
    return otel


def respond(api: Any, script: str, tools: list[Any], **kwargs: Any) -> Any:
    return api(api.client.responses.create, model=MODEL, input="Compute it", metadata={"script": script},
               tools=tools, **kwargs)


def container_spend(otel: Any) -> float:
    return round(total(otel, "openai_cost.spend", **{"openai_cost.kind": "container"}), 9)


def ci_spans(otel: Any) -> list[dict[str, Any]]:
    return [attrs(s) for s in named(otel.spans(), "execute_tool code_interpreter")]


# 4g, created, used by three responses at 1, 12 and 30 minutes, deleted at 47 minutes:
# February one container $0.12; April 3 sessions x $0.12; July 47 minutes x $0.006.
@pytest.mark.parametrize(("start", "expected", "rule"), [
    (FEBRUARY, 0.12, "per_container"), (APRIL, 0.36, "per_session"), (JULY, 0.282, "per_minute"),
])
def test_container_of_a_conversation_billed_once_by_the_rule_of_its_date(
    api: Any, fake_api: Any, traced: Any, start: int, expected: float, rule: str
) -> None:
    fake_api.clock.set(start)
    container = api(api.client.containers.create, name="work", memory_limit="4g")
    conversation = api(api.client.conversations.create)
    tools = [{"type": "code_interpreter", "container": container.id}]
    traced.instrumentor.force_flush()
    for advance in (1, 11, 18):
        fake_api.clock.advance(advance * MIN)
        respond(api, "code_interpreter", tools, conversation=conversation.id)
        traced.instrumentor.force_flush()
    fake_api.clock.advance(17 * MIN)
    api(api.client.containers.delete, container.id)
    assert container_spend(traced) == expected
    spans = ci_spans(traced)
    assert len(spans) == 3
    assert {(s["openai_cost.container.rule"], s["openai_cost.container.tier"], s["openai_cost.container.life"])
            for s in spans} == {(rule, "4g", "observed")}
    if rule == "per_minute":  # the first use opens it (5-minute minimum), then 12 and 30 minutes owed
        assert [s["openai_cost.container_usd"] for s in spans] == [0.03, 0.042, 0.108]
        assert [s["openai_cost.container.charge"] for s in spans] == ["opening", "incurred", "incurred"]
    settled = points(traced, "openai_cost.containers", **{"openai_cost.container.rule": rule})
    assert [p.value for p in settled] == [1]
    live = points(traced, "openai_cost.containers.live")
    assert [p.value for p in live] == [0], [(p.attributes, p.value) for p in live]


# An auto 16g container shared by three responses of one conversation, 5 minutes apart, then left
# to expire 20 minutes after its last use: a life of 30 minutes. April: 2 sessions x $0.48;
# July: 30 minutes x $0.024. Its tier and timestamps come from one background retrieve.
@pytest.mark.parametrize(("start", "expected"), [(APRIL, 0.96), (JULY, 0.72)])
def test_auto_container_seen_in_responses_is_retrieved_once_and_settled_at_expiry(
    api: Any, fake_api: Any, traced: Any, start: int, expected: float
) -> None:
    fake_api.clock.set(start)
    conversation = api(api.client.conversations.create)
    tools = [{"type": "code_interpreter", "container": {"type": "auto", "memory_limit": "16g"}}]
    for i in range(3):
        if i:
            fake_api.clock.advance(5 * MIN)
        respond(api, "code_interpreter", tools, conversation=conversation.id)
        traced.instrumentor.force_flush()
    named_ids = {s["responses.item.container_id"] for s in ci_spans(traced)}
    assert len(named_ids) == 1  # one container for the whole conversation
    fake_api.clock.advance(19 * MIN)
    traced.instrumentor.force_flush()
    assert [p.value for p in points(traced, "openai_cost.containers.live")] == [1]  # alive until 30 minutes
    fake_api.clock.advance(1 * MIN)
    assert container_spend(traced) == expected
    assert [p.value for p in points(traced, "openai_cost.containers", **{"openai_cost.container.life": "observed"})
            ] == [1]
    assert [p.value for p in points(traced, "openai_cost.containers.live")] == [0]
    fetched = points(traced, "openai_cost.fetches", **{"openai_cost.fetch.kind": "container"})
    assert [(p.attributes["openai_cost.fetch.outcome"], p.value) for p in fetched] == [("ok", 1)]


def test_auto_container_without_a_call_is_counted_and_assumed_only_when_asked(
    api: Any, fake_api: Any, otel: Any
) -> None:
    fake_api.clock.set(JULY)
    otel.instrument(prices=PRICES, container_clock=fake_api.clock.now, assume_auto_container=True)
    fake_api.response_scripts["idle_container"] = ResponseScript([], usage=Usage(50, 10), open_container=True)
    respond(api, "idle_container", [{"type": "code_interpreter", "container": {"type": "auto"}}])
    assert total(otel, "openai_cost.containers.auto_without_call") == 1
    (response,) = [attrs(s) for s in named(otel.spans(), "chat ")]
    assert response["openai_cost.rollup.container_usd"] == 0.0075  # the 5-minute minimum of 1g, inferred
    assert [p.value for p in points(otel, "openai_cost.containers", **{"openai_cost.container.life": "inferred"})
            ] == [1]


@pytest.mark.parametrize(("script", "tool", "fee"), [
    ("searches_reported", "web_search", 0.03),  # tool_usage.web_search.num_requests = 3
    ("searches_unreported", "web_search", 0.01),  # no tool_usage: the one search action, not the page open
    ("searches_reported", "web_search_preview", 0.075),  # 3 at $25/1k on a non-reasoning model
    ("file_search", "file_search", 0.0025),
    ("image", "image_generation", 0.04244),  # gpt-image-1: 40 input x $5 + 1,056 output x $40, per 1M
])
def test_tool_fees_on_their_tool_span_and_in_the_spend(
    api: Any, fake_api: Any, traced: Any, script: str, tool: str, fee: float
) -> None:
    fake_api.clock.set(NOVEMBER)
    searches = [WebSearch("search"), WebSearch("open_page")]
    fake_api.response_scripts["searches_reported"] = ResponseScript(searches, usage=Usage(100, 10), web_searches=3)
    fake_api.response_scripts["searches_unreported"] = ResponseScript(searches, report_usage=False)
    respond(api, script, [{"type": tool, "vector_store_ids": ["vs_1"]} if tool == "file_search" else {"type": tool}])
    kind = "web_search" if tool.startswith("web_search") else tool
    assert round(total(traced, "openai_cost.spend", **{"openai_cost.kind": kind}), 9) == fee
    spans = traced.spans()
    carrying = [attrs(s) for s in spans if f"openai_cost.{kind}_usd" in attrs(s) and s.name.startswith("execute")]
    assert [round(a[f"openai_cost.{kind}_usd"], 9) for a in carrying] == [fee]
    (response,) = [attrs(s) for s in named(spans, "chat ")]
    assert round(response[f"openai_cost.rollup.{kind}_usd"], 9) == fee


def test_unknown_tool_has_a_reason_and_no_cost(api: Any, fake_api: Any, traced: Any) -> None:
    fake_api.clock.set(NOVEMBER)
    respond(api, "unknown", [])
    (response,) = [attrs(s) for s in named(traced.spans(), "chat ")]
    assert "no fee known for tool call type 'hologram_call'" in response["openai_cost.unpriced_reason"]
    assert total(traced, "openai_cost.spend", **{"openai_cost.kind": "hologram_call"}) == 0
    assert points(traced, "openai_cost.spend", **{"openai_cost.kind": "hologram_call"}) == []


@pytest.mark.parametrize("store", ["redis", "memory"])
def test_containers_across_processes(fake_api: Any, redis_url: str, store: str) -> None:
    """Three processes use one 4g container at one moment; each one's clock says it has expired since
    (used at 1 minute, idle 20): a life of 21 minutes, sessions of 20 and 1 minutes, the second billed
    its 5-minute minimum: 25 x $0.006 in July, billed once through Redis."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    import openai

    fake_api.clock.set(JULY)
    container = openai.OpenAI(base_url=fake_api.base_url, api_key="sk-test").containers.create(
        name="shared", memory_limit="4g")
    fake_api.clock.advance(MIN)
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root / "src"), str(root)])}
    args = [sys.executable, str(Path(__file__).with_name("container_worker.py")), fake_api.base_url, container.id,
            redis_url if store == "redis" else "", str(JULY + 40 * MIN)]
    workers = [subprocess.Popen(args, env=env, stdout=subprocess.PIPE, text=True) for _ in range(3)]
    results = [json.loads(w.communicate(timeout=120)[0].strip().splitlines()[-1]) for w in workers]
    billed = round(sum(r["usd"] for r in results), 9)
    if store == "redis":
        assert billed == 0.15 and sum(r["settled"] for r in results) == 1
    else:
        assert billed == 0.45  # what per-process memory would bill: why the Redis store holds claims
