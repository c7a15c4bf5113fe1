"""Responses API: one span per response however it is observed, usage and money exactly as reported."""

from __future__ import annotations

import inspect
from typing import Any

import openai
import pytest
from responses_helpers import MODEL, PRICES, drain, drain_manager, hand_cost, in_thread, total
from sdk import STREAM_RESET_ERROR
from spanutil import assert_tree_is_sound, attrs, children, named, one


@pytest.fixture
def traced(otel: Any) -> Any:
    otel.instrument(prices=PRICES)
    return otel


def create(api: Any, script: str = "text", **kwargs: Any) -> Any:
    return api(api.client.responses.create, model=MODEL, input="Hello there", metadata={"script": script}, **kwargs)


def test_plain_create_reports_usage_and_money_exactly(api: Any, traced: Any) -> None:
    response = create(api, "cached")
    span = one(traced.spans(), "chat ")
    a = attrs(span)
    assert span.name == f"chat {MODEL}"
    assert a["openai.api.type"] == "responses" and a["gen_ai.operation.name"] == "chat"
    assert a["gen_ai.response.id"] == response.id
    usage = response.usage
    assert a["gen_ai.usage.input_tokens"] == usage.input_tokens == 2000
    assert a["gen_ai.usage.output_tokens"] == usage.output_tokens == 300
    assert a["gen_ai.usage.cache_read.input_tokens"] == 1200
    assert a["gen_ai.usage.cache_creation.input_tokens"] == 500
    assert a["openai_cost.usage.reasoning_tokens"] == 200
    assert a["openai_cost.usage.source"] == "reported"
    assert a["openai_cost.input_tokens_usd"] == hand_cost(300, "input")
    assert a["openai_cost.cached_input_tokens_usd"] == hand_cost(1200, "cached")
    assert a["openai_cost.cache_write_tokens_usd"] == hand_cost(500, "write")
    assert a["openai_cost.output_tokens_usd"] == hand_cost(300, "output")
    assert a["gen_ai.response.finish_reasons"] == ("stop",)
    assert a["openai.response.service_tier"] == "default"
    assert "error.type" not in a
    tokens = {p.attributes["gen_ai.token.type"]: p.sum for p in traced.metrics()["gen_ai.client.token.usage"]
              if p.attributes.get("openai.api.type") == "responses"}
    assert tokens == {"input": 2000, "output": 300}
    cached = total(traced, "openai_cost.spend", **{"openai.api.type": "responses",
                                                   "openai_cost.kind": "cached_input_tokens"})
    assert cached == hand_cost(1200, "cached")
    runs = [p for p in traced.metrics()["openai_cost.runs"] if p.attributes["openai.api.type"] == "responses"]
    assert [(p.attributes["openai_cost.status"], p.value) for p in runs] == [("completed", 1)]


@pytest.mark.parametrize("surface", ["create_stream", "stream_helper"])
def test_streamed_response_is_one_span_with_tool_spans_timed_by_items(api: Any, traced: Any, surface: str) -> None:
    if surface == "create_stream":
        events = drain(api, create(api, "every_tool", stream=True))
        final = events[-1].response
    else:
        final = drain_manager(api, api.client.responses.stream(model=MODEL, input="Hi",
                                                               metadata={"script": "every_tool"}))
    spans = traced.spans()
    assert_tree_is_sound(spans)
    root = one(spans, "chat ")
    tools = children(spans, root)
    kinds = [attrs(s)["responses.item.type"] for s in tools]
    assert kinds == ["code_interpreter", "web_search", "web_search", "file_search", "image_generation",
                     "mcp_list_tools", "mcp", "shell"]
    assert {attrs(s)["responses.item.timing"] for s in tools} == {"stream"}
    assert all(s.start_time > root.start_time and s.end_time <= root.end_time for s in tools)
    assert attrs(root)["gen_ai.usage.input_tokens"] == final.usage.input_tokens == 9000
    by_type = {attrs(s)["responses.item.type"]: attrs(s) for s in tools}
    assert by_type["file_search"]["gen_ai.tool.type"] == "datastore"
    assert by_type["code_interpreter"]["gen_ai.tool.type"] == "extension"
    assert by_type["code_interpreter"]["responses.item.container_id"].startswith("cntr")
    assert by_type["mcp"]["gen_ai.tool.name"] == "lookup"
    assert "gen_ai.tool.call.arguments" not in by_type["code_interpreter"]  # content is opt-in


def test_background_response_polled_from_another_thread(api: Any, traced: Any, fake_api: Any) -> None:
    created = create(api, "cached", background=True)
    assert created.status == "queued"

    def poll(client: Any) -> Any:
        async def apoll() -> Any:
            response = await client.responses.retrieve(created.id)
            while response.status in ("queued", "in_progress"):
                response = await client.responses.retrieve(created.id)
            return response

        if api.kind == "async":
            return apoll()
        response = client.responses.retrieve(created.id)
        while response.status in ("queued", "in_progress"):
            response = client.responses.retrieve(created.id)
        return response

    final = in_thread(api, poll)
    assert final.status == "completed"
    spans = traced.spans()
    root = one(spans, "chat ")
    assert attrs(root)["gen_ai.usage.input_tokens"] == 2000
    assert attrs(root)["responses.background"] is True
    assert attrs(root)["openai_cost.usage.source"] == "reported"
    assert fake_api.count("GET", r"/responses/") >= 2
    assert len(spans) == 1  # polls add no spans


def test_background_response_resumed_by_stream(api: Any, traced: Any) -> None:
    created = create(api, "code_interpreter", background=True)
    first = drain(api, api(api.client.responses.retrieve, created.id, stream=True))
    assert first[-1].type == "response.completed"
    seq = first[3].sequence_number
    final = drain_manager(api, api.client.responses.stream(response_id=created.id, starting_after=seq))
    assert final.status == "completed"
    spans = traced.spans()
    root = one(spans, "chat ")
    assert attrs(root)["gen_ai.response.id"] == created.id
    assert [attrs(s)["gen_ai.tool.name"] for s in children(spans, root)] == ["code_interpreter"]


def test_cancelled_background_response_is_estimated_not_zero(api: Any, traced: Any) -> None:
    created = create(api, "text", background=True)
    cancelled = api(api.client.responses.cancel, created.id)
    assert cancelled.status == "cancelled" and cancelled.usage is None
    a = attrs(one(traced.spans(), "chat "))
    assert a["error.type"] == "cancelled" and a["responses.status"] == "cancelled"
    assert a["openai_cost.usage.source"] == "estimated"
    assert a["gen_ai.usage.input_tokens"] > 0
    assert a["openai_cost.input_tokens_usd"] > 0


def test_stream_cut_mid_way_is_estimated_from_what_was_seen(api: Any, traced: Any, fake_api: Any) -> None:
    fake_api.faults.add(r"^/v1/responses$", "reset", after_events=20)
    client = api.new_client(max_retries=0)
    with pytest.raises(STREAM_RESET_ERROR):
        drain(api, api(client.responses.create, model=MODEL, input="Say many words", stream=True,
                       metadata={"script": "long"}))
    api.wait(client.close())
    a = attrs(one(traced.spans(), "chat "))
    assert a["responses.end_reason"] == "stream_closed" and a["error.type"] == "stream_closed"
    assert a["openai_cost.usage.source"] == "estimated"
    assert 0 < a["gen_ai.usage.output_tokens"] < 280
    assert a["gen_ai.usage.input_tokens"] > 0


def test_conversation_of_several_responses_adds_up(api: Any, traced: Any) -> None:
    conversation = api(api.client.conversations.create)
    responses = [create(api, "cached", conversation=conversation.id) for _ in range(3)]
    spans = named(traced.spans(), "chat ")
    assert [attrs(s)["gen_ai.conversation.id"] for s in spans] == [conversation.id] * 3
    assert sorted(attrs(s)["gen_ai.response.id"] for s in spans) == sorted(r.id for r in responses)
    expected = 3 * (hand_cost(300, "input") + hand_cost(1200, "cached") + hand_cost(500, "write")
                    + hand_cost(300, "output"))
    spent = total(traced, "openai_cost.spend", **{"openai.api.type": "responses"})
    assert spent == pytest.approx(expected, rel=1e-12)


def test_function_call_span_is_linked_from_the_response_sending_its_output(api: Any, traced: Any) -> None:
    first = create(api, "function", tools=[{"type": "function", "name": "get_weather", "parameters": {}}])
    call = first.output[0]
    second = api(api.client.responses.create, model=MODEL, previous_response_id=first.id,
                 input=[{"type": "function_call_output", "call_id": call.call_id, "output": "sunny"}])
    assert second.status == "completed"
    spans = traced.spans()
    chats = named(spans, "chat ")
    tool = one(spans, "execute_tool ")
    assert tool.name == "execute_tool get_weather"
    assert attrs(tool)["gen_ai.tool.call.id"] == call.call_id and attrs(tool)["gen_ai.tool.type"] == "function"
    later = next(s for s in chats if attrs(s)["gen_ai.response.id"] == second.id)
    assert [link.context.span_id for link in later.links] == [tool.context.span_id]
    assert attrs(later)["responses.previous_response_id"] == first.id
    earlier = next(s for s in chats if attrs(s)["gen_ai.response.id"] == first.id)
    assert attrs(earlier)["gen_ai.response.finish_reasons"] == ("tool_calls",)


def test_refused_creation_is_a_failed_span(api: Any, traced: Any, fake_api: Any) -> None:
    fake_api.faults.add(r"^/v1/responses$", "server_error")
    client = api.new_client(max_retries=0)
    with pytest.raises(openai.InternalServerError):
        api(client.responses.create, model=MODEL, input="Hi")
    api.wait(client.close())
    a = attrs(one(traced.spans(), "chat "))
    assert a["error.type"] == "InternalServerError" and a["responses.end_reason"] == "request_failed"
    assert "openai_cost.input_tokens_usd" not in a


@pytest.mark.parametrize("script,status,error", [("fail", "failed", "server_error"),
                                                 ("incomplete", "incomplete", "incomplete")])
def test_unsuccessful_responses_are_errors(api: Any, traced: Any, script: str, status: str, error: str) -> None:
    create(api, script)
    a = attrs(one(traced.spans(), "chat "))
    assert a["responses.status"] == status and a["error.type"] == error
    assert a["openai_cost.usage.source"] == "reported"


def test_either_api_can_be_turned_off(api: Any, otel: Any) -> None:
    otel.instrument(responses=False)
    create(api)
    assert named(otel.spans(), "chat ") == []
    otel.instrumentor.uninstrument()
    otel.instrument(assistants=False)
    create(api)
    assistant = api(api.client.beta.assistants.create, model="gpt-4o-mini", name="Off")
    assert assistant.id
    assert [s.name for s in otel.spans()] == [f"chat {MODEL}"]


def test_money_and_metrics_without_spans(api: Any, otel: Any) -> None:
    otel.instrument(prices=PRICES, responses_spans=False)
    create(api, "cached")
    assert otel.spans() == []
    assert total(otel, "openai_cost.spend", **{"openai.api.type": "responses",
                                               "openai_cost.kind": "output_tokens"}) == hand_cost(300, "output")


def test_served_tier_prices_the_tokens_and_a_flex_response_gets_no_window_discount(api: Any, traced: Any) -> None:
    window = {"background_options": {"completion_window": "8h"}}  # openai 2.x sends it with extra_body
    typed = "background_options" in inspect.signature(api.client.responses.create).parameters
    options = window if typed else {"extra_body": window}
    created = create(api, "cached", service_tier="flex", background=True, **options)
    response = created
    while response.status in ("queued", "in_progress"):
        response = api(api.client.responses.retrieve, created.id)
    assert response.service_tier == "flex"
    a = attrs(one(traced.spans(), "chat "))
    # flex at Batch rates (half); the 8-hour window needs Standard processing (the SDK's BackgroundOptions):
    # no window discount on a flex response.
    discount = 0.5
    assert a["openai_cost.input_tokens_usd"] == pytest.approx(hand_cost(300, "input") * discount, rel=1e-12)
    assert a["openai_cost.cached_input_tokens_usd"] == pytest.approx(hand_cost(1200, "cached") * discount,
                                                                     rel=1e-12)
    assert a["openai_cost.cache_write_tokens_usd"] == pytest.approx(hand_cost(500, "write") * discount, rel=1e-12)
    assert a["openai_cost.output_tokens_usd"] == pytest.approx(hand_cost(300, "output") * discount, rel=1e-12)
    assert a["openai_cost.price.modifiers"].split(",") == ["flex"]
    assert a["openai.request.service_tier"] == "flex" and a["openai.response.service_tier"] == "flex"


def test_a_tier_without_a_price_is_unpriced_not_zero(api: Any, traced: Any) -> None:
    create(api, "cached", service_tier="priority")
    a = attrs(one(traced.spans(), "chat "))
    assert a["gen_ai.usage.input_tokens"] == 2000
    assert not [k for k in a if k.startswith("openai_cost.") and k.endswith("_usd")]
    assert a["openai_cost.unpriced_reason"]
    unpriced = total(traced, "openai_cost.unpriced.tokens", **{"openai.api.type": "responses"})
    assert unpriced == 2300
    assert total(traced, "openai_cost.spend", **{"openai.api.type": "responses"}) == 0


def test_responses_created_elsewhere_follow_trace_observed_runs(api: Any, otel: Any) -> None:
    other = api.new_client()
    created = api(other.responses.create, model=MODEL, input="Hi", background=True)
    otel.instrument(trace_observed_runs=True)
    response = api(api.client.responses.retrieve, created.id)
    while response.status in ("queued", "in_progress"):
        response = api(api.client.responses.retrieve, created.id)
    api(api.client.responses.retrieve, created.id)  # seen again once ended: no second span
    assert [attrs(s)["gen_ai.response.id"] for s in named(otel.spans(), "chat ")] == [created.id]
    otel.instrumentor.uninstrument()
    otel.exporter.clear()
    later = api(other.responses.create, model=MODEL, input="Hi", background=True)
    otel.instrument()
    while api(api.client.responses.retrieve, later.id).status in ("queued", "in_progress"):
        pass
    assert named(otel.spans(), "chat ") == []
    api.wait(other.close())


# --- issue 17 defect 1: a background response living past the unobserved timeout --------------------
# 50,000 input and 40,000 output tokens of the hand-priced model: $0.10 + $0.32 = $0.42, whatever the
# sweep did while the response ran (three hours on the fake clock).
TIMEOUT_S = 1.0
BIG = (50_000, 40_000)


def _spent(otel: Any) -> tuple[dict[str, int], float, list[tuple[str, int]]]:
    points = otel.metrics()
    tokens = {p.attributes["gen_ai.token.type"]: int(p.sum) for p in points.get("gen_ai.client.token.usage", [])
              if p.attributes.get("openai.api.type") == "responses"}
    runs = [(p.attributes["openai_cost.status"], p.value) for p in points.get("openai_cost.runs", [])]
    return tokens, round(total(otel, "openai_cost.spend", **{"openai.api.type": "responses"}), 12), runs


@pytest.mark.parametrize("seen", ["polled_past_the_timeout", "terminal_after_an_unobserved_end"])
def test_a_long_background_response_keeps_its_reported_usage(api: Any, otel: Any, fake_api: Any,
                                                             seen: str) -> None:
    import time

    from openai_fake_api.responses_scripts import ResponseScript, Text, Usage

    otel.instrument(prices=PRICES, unobserved_run_timeout_s=TIMEOUT_S)
    fake_api.response_scripts["long"] = ResponseScript([Text("Done.")], usage=Usage(*BIG), work_s=3 * 3600)
    created = create(api, "long", background=True)  # no window: priced at the standard rates
    tracker = otel.instrumentor._responses
    assert api(api.client.responses.retrieve, created.id).status == "in_progress"  # three hours of work begin
    if seen == "polled_past_the_timeout":
        for _ in range(4):  # polled for twice the timeout: each poll is life
            time.sleep(TIMEOUT_S / 2)
            assert api(api.client.responses.retrieve, created.id).status in ("queued", "in_progress")
            tracker.sweep()
    else:  # not polled for longer than the timeout: ended unobserved, provisionally
        tracker.sweep(time.time() + 2 * TIMEOUT_S)
        assert otel.spans() == []
    fake_api.clock.advance(3 * 3600)
    final = api(api.client.responses.retrieve, created.id)
    while final.status in ("queued", "in_progress"):
        final = api(api.client.responses.retrieve, created.id)
    assert (final.status, final.usage.input_tokens, final.usage.output_tokens) == ("completed", *BIG)
    tracker.sweep(time.time() + 10 * 3600)  # any later sweep finds nothing left to count
    tracker.sweep(time.time() + 20 * 3600)
    a = attrs(one(otel.spans(), "chat "))
    assert (a["responses.end_reason"], a["openai_cost.usage.source"]) == ("observed", "reported")
    assert _spent(otel) == ({"input": BIG[0], "output": BIG[1]}, 0.42, [("completed", 1)])


def test_a_background_response_never_seen_again_is_estimated_once_its_ending_is_final(api: Any, otel: Any,
                                                                                      fake_api: Any) -> None:
    import time

    otel.instrument(prices=PRICES, unobserved_run_timeout_s=TIMEOUT_S)
    create(api, "text", background=True)
    tracker = otel.instrumentor._responses
    now = time.time()
    tracker.sweep(now + 2 * TIMEOUT_S)  # provisional: its end may still be seen
    assert otel.spans() == [] and _spent(otel)[0] == {}
    tracker.sweep(now + 9 * 3600)  # past the longest completion window: final
    a = attrs(one(otel.spans(), "chat "))
    assert (a["responses.end_reason"], a["openai_cost.usage.source"]) == ("unobserved", "estimated")
    tokens, spent, runs = _spent(otel)
    assert tokens == {"input": a["gen_ai.usage.input_tokens"], "output": a["gen_ai.usage.output_tokens"]}
    assert spent > 0 and runs == [("unobserved", 1)]


# --- issue 17 defect 9: with trace_observed_runs, money never depends on the ended-id heuristic -------

@pytest.mark.parametrize("store", ["memory", "redis"])
def test_observed_responses_are_billed_once_whatever_the_ended_list_forgot(api: Any, otel: Any,
                                                                           request: Any, store: str) -> None:
    """Responses created elsewhere, all ended in the same API second; the list of ended ids keeps one.
    Each is billed once: one first seen after another was forgotten too, one seen again after it was
    forgotten never twice, and one another process claimed in the shared store never here."""
    import uuid

    from opentelemetry.instrumentation.openai_assistants.accounting.sessions import (
        MemorySessionStore,
        RedisSessionStore,
    )
    from opentelemetry.instrumentation.openai_assistants.ended import EndedIds

    other = api.new_client()
    first, second, late, elsewhere = (create_with(api, other) for _ in range(4))
    if store == "redis":
        import redis

        shared: Any = RedisSessionStore(redis.Redis.from_url(request.getfixturevalue("redis_url")),
                                        prefix=f"test:{uuid.uuid4().hex}:")
    else:
        shared = MemorySessionStore()
    assert shared.claim_response(elsewhere)  # another process sharing the store billed this one
    otel.instrumentor._ended_responses = EndedIds(limit=1)
    otel.instrument(prices=PRICES, trace_observed_runs=True, session_store=shared)
    for response_id in (first, second, late, first, elsewhere, late):
        assert api(api.client.responses.retrieve, response_id).status == "completed"
    traced = sorted(attrs(s)["gen_ai.response.id"] for s in named(otel.spans(), "chat "))
    assert traced == sorted([first, second, late])
    points = otel.metrics()
    runs = sum(p.value for p in points["openai_cost.runs"])
    tokens = {p.attributes["gen_ai.token.type"]: int(p.sum) for p in points["gen_ai.client.token.usage"]}
    assert (runs, tokens) == (3, {"input": 3 * 2000, "output": 3 * 300})
    api.wait(other.close())


def create_with(api: Any, client: Any) -> str:
    """A response created by an uninstrumented process (before instrument()), polled there to its end."""
    created = api(client.responses.create, model=MODEL, input="Hi", metadata={"script": "cached"}, background=True)
    while api(client.responses.retrieve, created.id).status in ("queued", "in_progress"):
        pass
    return str(created.id)
