"""Money is never lost or counted twice, Responses API: for every response whose usage the API
reported, the token and dollar metrics equal the API's figures, once, however the response was
observed (returned, streamed, the stream helper, polled, polled from another thread, resumed after a
cut, a function-call loop), whatever happened to the background queue, retried requests or the
instrumentor between responses, and however often an ended response is read again.

And priced right: the expected dollars come from a hand-written table in this file (never from the
price book under test), under drawn price terms: the requested tier (served as asked by the fake),
the completion window (discounted only for a background, non-streamed, standard-tier request) and
the client's host (a data-residency host adds 10%)."""

from __future__ import annotations

import contextlib
from decimal import Decimal
from typing import Any

import pytest
import regional
from driver import Driver, newer_params_as_extra_body
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from responses_helpers import MODEL, PRICES, drain, drain_manager, in_thread
from test_invariant import tokens

from openai_fake_api.responses_scripts import CodeCall, FunctionCall, ResponseScript, Text, Usage
from opentelemetry.instrumentation.openai_assistants import AssistantsInstrumentor
from opentelemetry.instrumentation.openai_assistants import model as m

TOKEN_KINDS = ("input_tokens", "output_tokens", "cached_input_tokens", "cache_write_tokens")
STEADY = ("queued", "in_progress")
FUNCTION = [{"type": "function", "name": "lookup", "parameters": {"type": "object", "properties": {}}}]


# --- reading and working out the figures --------------------------------------------------------

def collected(reader: InMemoryMetricReader) -> dict[str, list[Any]]:
    """Data points by metric name."""
    found: dict[str, list[Any]] = {}
    data = reader.get_metrics_data()
    for resource in data.resource_metrics if data else ():
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                found.setdefault(metric.name, []).extend(metric.data.data_points)
    return found


def of_responses(points: dict[str, list[Any]]) -> dict[str, list[Any]]:
    return {name: [p for p in found if p.attributes.get("openai.api.type") == "responses"]
            for name, found in points.items()}


def dropped(points: dict[str, list[Any]]) -> dict[str, int]:
    """Background tasks the full queue turned away, by kind (a response's account, a container read)."""
    return {p.attributes["openai_cost.fetch.kind"]: int(p.value) for p in points.get("openai_cost.fetches", [])
            if p.attributes["openai_cost.fetch.outcome"] == "dropped"}


def token_spend(points: dict[str, list[Any]]) -> float:
    return sum(p.value for p in points.get("openai_cost.spend", []) if p.attributes["openai_cost.kind"] in TOKEN_KINDS)


def usage_of(response: Any) -> m.Usage:
    """The usage the API reported on ``response``, as the accounting core's record."""
    u = response.usage
    return m.Usage(u.input_tokens, u.output_tokens, cached_input_tokens=u.input_tokens_details.cached_tokens,
                   cache_write_tokens=u.input_tokens_details.cache_write_tokens,
                   reasoning_tokens=u.output_tokens_details.reasoning_tokens)


# --- priced right: an independent hand table ---------------------------------------------------------

# USD per 1M tokens of the test model (the override the instrumentor is given: responses_helpers.PRICES).
HAND_RATES = {"input": Decimal(2), "cached": Decimal("0.5"), "write": Decimal("2.5"), "output": Decimal(8)}
# The served tier's multiplier (openai.com/api/pricing: flex at Batch rates, half); None: no price known
# (no priority multiplier for this model), so nothing is counted for it, never 0 dollars of a wrong rate.
HAND_TIERS: dict[Any, Any] = {None: Decimal(1), "default": Decimal(1), "auto": Decimal(1), "flex": Decimal("0.5"),
                              "priority": None}
HAND_WINDOWS = {"2h": Decimal("0.7"), "8h": Decimal("0.6")}  # background guide: 30% and 40% below Standard
HAND_REGIONAL = Decimal("1.1")  # data residency: +10% (this model counts as released after 2026-03-05)
REGIONAL_HOSTS = ("eu.api.openai.com", "us.api.openai.com")
STREAMED = frozenset({"create_stream", "stream_helper", "background_resumed", "background_cut_then_polled"})
# The model named by the regional rule, as GPT-5.4 and later are: the uplift can be seen on it.
TERMS_PRICES = {**PRICES, "token_modifiers": {"regional": [
    {"effective_from": "2026-03-05", "models": [MODEL], "multiplier": "1.1"}]}}


def hand_usd(response: Any, asked: dict[str, Any], streamed: bool, host: str) -> Decimal:
    """What ``response`` costs by the hand table, under the terms it was asked and served with."""
    factor = HAND_TIERS.get(response.service_tier)
    if factor is None:
        return Decimal(0)  # unpriced: no dollars counted
    window = asked.get("background_options", {}).get("completion_window")
    if window in HAND_WINDOWS and response.background and not streamed and response.service_tier in (
            None, "default", "auto"):
        factor *= HAND_WINDOWS[window]
    if host in REGIONAL_HOSTS:
        factor *= HAND_REGIONAL
    u = usage_of(response)
    tokens = {"input": u.input_tokens - u.cached_input_tokens - u.cache_write_tokens,
              "cached": u.cached_input_tokens, "write": u.cache_write_tokens, "output": u.output_tokens}
    return sum((Decimal(n) * HAND_RATES[k] * factor / 1_000_000 for k, n in tokens.items()), Decimal(0))


def driver_for(mix: dict[str, Any], fake_url: str) -> Driver:
    host = mix.get("host", "api.openai.com")
    return regional.driver(mix["kind"], fake_url, "fake" if host == "api.openai.com" else host)


asked_terms = st.fixed_dictionaries({}, optional={
    "service_tier": st.sampled_from(["default", "flex", "auto", "priority"]),
    "background_options": st.fixed_dictionaries({"completion_window": st.sampled_from(["soonest", "2h", "8h"])}),
})


# --- observing one response the way an app might -------------------------------------------------

def create(api: Driver, script: str, **kwargs: Any) -> Any:
    return api(api.client.responses.create, model=MODEL, input="Six times seven?", metadata={"script": script},
               **getattr(api, "asked", {}), **kwargs)


def poll(kind: str, client: Any, response: Any) -> Any:
    """Retrieve ``response`` until it ends (returns an awaitable on the async client)."""
    if kind == "sync":
        while response.status in STEADY:
            response = client.responses.retrieve(response.id)
        return response

    async def apoll() -> Any:
        current = response
        while current.status in STEADY:
            current = await client.responses.retrieve(current.id)
        return current

    return apoll()


def read_until_cut(api: Driver, stream: Any) -> list[Any]:
    """Read a raw SSE stream until it ends or its connection drops; the events that arrived."""
    seen: list[Any] = []
    if api.kind == "sync":
        with contextlib.suppress(Exception):
            for item in stream:
                seen.append(item)
        return seen

    async def read() -> None:
        with contextlib.suppress(Exception):
            async for item in stream:
                seen.append(item)

    api.wait(read())
    return seen


def resumed(api: Driver, fake_api: Any, script: str, cut: int, how: str) -> Any:
    """A background stream cut after ``cut`` events, resumed from the last event seen with
    ``retrieve(stream=True, starting_after=)`` or ``responses.stream(response_id=, starting_after=)``."""
    fake_api.faults.add(r"^/v1/responses$", "reset", method="POST", after_events=cut)
    seen = read_until_cut(api, create(api, script, background=True, stream=True))
    response = seen[-1].response if hasattr(seen[-1], "response") else None
    if response is not None and response.status not in STEADY:
        return response
    event(f"resumed with {how}")
    ident, after = seen[0].response.id, seen[-1].sequence_number
    if how == "stream_helper":
        return drain_manager(api, api.client.responses.stream(response_id=ident, starting_after=after))
    return drain(api, api(api.client.responses.retrieve, ident, stream=True, starting_after=after))[-1].response


def observe(api: Driver, fake_api: Any, plan: dict[str, Any], script: str) -> list[Any]:
    """One plan to its end; the responses as the app last read them."""
    style = plan["style"]
    if style == "create":
        return [create(api, script)]
    if style == "create_stream":
        return [drain(api, create(api, script, stream=True))[-1].response]
    if style == "stream_helper":
        stream = api.client.responses.stream
        asked = newer_params_as_extra_body(stream, dict(getattr(api, "asked", {})))
        return [drain_manager(api, stream(model=MODEL, input="Six times seven?", metadata={"script": script},
                                          **asked))]
    if style == "background_poll":
        return [api.wait(poll(api.kind, api.client, create(api, script, background=True)))]
    if style == "background_poll_elsewhere":
        created = create(api, script, background=True)
        return [in_thread(api, lambda client: poll(api.kind, client, created))]
    if style == "background_cut_then_polled":  # the app falls back to polling when its stream drops
        fake_api.faults.add(r"^/v1/responses$", "reset", method="POST", after_events=plan["cut"])
        seen = read_until_cut(api, create(api, script, background=True, stream=True))
        return [api.wait(poll(api.kind, api.client, seen[-1].response if hasattr(seen[-1], "response")
                              else api(api.client.responses.retrieve, seen[0].response.id)))]
    if style == "background_resumed":
        return [resumed(api, fake_api, script, plan["cut"], plan["resume_with"])]
    first = create(api, script, tools=FUNCTION)  # function_loop: the call, then its output
    call = next(item for item in first.output if item.type == "function_call")
    second = api(api.client.responses.create, model=MODEL, previous_response_id=first.id, tools=FUNCTION,
                 input=[{"type": "function_call_output", "call_id": call.call_id, "output": "42"}])
    return [first, second]


# --- the invariant, over random mixes ---------------------------------------------------------------

STYLES = ("create", "create_stream", "stream_helper", "background_poll", "background_poll_elsewhere",
          "background_resumed", "background_cut_then_polled", "function_loop")


@st.composite
def usages(draw: Any) -> Usage:
    """Reported usage: cached reads and cache writes inside input, reasoning inside output."""
    tokens_in, tokens_out = draw(st.integers(1, 6000)), draw(st.integers(0, 900))
    cached = draw(st.sampled_from([0, 0, tokens_in // 2, tokens_in]))
    written = draw(st.sampled_from([0, 0, (tokens_in - cached) // 3, tokens_in - cached]))
    return Usage(tokens_in, tokens_out, cached=cached, cache_write=written,
                 reasoning=draw(st.integers(0, tokens_out)))


plans = st.fixed_dictionaries({
    "style": st.sampled_from(STYLES),
    "usage": usages(),
    "then": usages(),  # the second response of a function-call loop
    "code": st.booleans(),  # a code call: its auto container is read in the background (always on a tiny queue)
    "dropped": st.booleans(),  # the background queue has no room when the response ends
    "fault": st.sampled_from([None, None, "rate_limit", "server_error"]),  # one request retried
    "fault_on": st.sampled_from(["POST", "GET"]),
    "cut": st.integers(1, 8),  # events before a background stream drops (then resumed or polled)
    "resume_with": st.sampled_from(["retrieve", "stream_helper"]),
    "restart_before": st.booleans(),  # uninstrument and instrument again before this response
    "seen_again": st.booleans(),  # the app reads the responses of the plan before again, once ended
    "asked": asked_terms,  # price terms of the first request: tier, completion window
})
mixes = st.fixed_dictionaries({"kind": st.sampled_from(["sync", "async"]), "tiny_queue": st.booleans(),
                               "trace_observed_runs": st.booleans(),
                               "ended_limit": st.sampled_from([1, 1000]),  # 1: what 1,000 others ending do
                               "host": st.sampled_from(["api.openai.com", *REGIONAL_HOSTS]),
                               "plans": st.lists(plans, min_size=1, max_size=5)})


def script_of(plan: dict[str, Any], code: bool) -> ResponseScript:
    answer = [CodeCall("print(6 * 7)", logs=["42\n"])] if code else []
    answer.append(Text("Forty-two."))
    if plan["style"] == "function_loop":
        return ResponseScript([FunctionCall("lookup")], usage=plan["usage"],
                              then=ResponseScript(answer, usage=plan["then"]))
    return ResponseScript(answer, usage=plan["usage"])


def reported(response: Any, plan: dict[str, Any], index: int) -> None:
    """The fake API reported the plan's usage, exactly: the figures the metrics must match."""
    usage = plan["then"] if index else plan["usage"]
    assert response.status == "completed" and response.usage is not None
    u = usage_of(response)
    assert (u.input_tokens, u.output_tokens, u.cached_input_tokens, u.cache_write_tokens, u.reasoning_tokens) == (
        usage.input, usage.output, usage.cached, usage.cache_write, usage.reasoning)


def standing_faults(fake_api: Any, mix: dict[str, Any]) -> None:
    """Only the faults meant for the whole mix: with a tiny queue, slow container reads keep it busy."""
    fake_api.faults.clear()
    if mix["tiny_queue"]:
        fake_api.faults.add(r"/containers", "delay", count=None, method="GET", seconds=0.2)


QUIET = {"kind": "sync", "tiny_queue": False, "trace_observed_runs": False, "ended_limit": 1000}


def plan(style: str, **changes: Any) -> dict[str, Any]:
    """A plan for an explicit example: the defaults, changed."""
    return {"style": style, "usage": Usage(3000, 400, cached=1000, cache_write=700, reasoning=150),
            "then": Usage(3200, 50, cached=3000), "code": False, "dropped": False, "fault": None,
            "fault_on": "POST", "cut": 3, "resume_with": "retrieve", "restart_before": False, "seen_again": False,
            **changes}


@settings(max_examples=50, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(mix=mixes)
@example(mix={**QUIET, "kind": "async", "plans": [  # every style once, resumed both ways
    plan("background_resumed"), plan("background_resumed", resume_with="stream_helper", restart_before=True),
    *(plan(style, fault=fault, fault_on=on) for style, fault, on in [
        ("create", "rate_limit", "POST"), ("create_stream", "server_error", "POST"), ("stream_helper", None, "GET"),
        ("background_poll", "server_error", "GET"), ("background_poll_elsewhere", "rate_limit", "GET"),
        ("function_loop", None, "POST")])]})
@example(mix={**QUIET, "trace_observed_runs": True, "ended_limit": 1, "plans": [  # ended ones read again
    plan("function_loop"), plan("create", seen_again=True), plan("create", seen_again=True, restart_before=True)]})
@example(mix={**QUIET, "tiny_queue": True,  # slow container reads fill the queue: real drops
              "plans": [plan("create"), plan("create_stream"), plan("function_loop"), plan("stream_helper")]})
@example(mix={**QUIET, "host": "eu.api.openai.com", "plans": [  # price terms: each precondition of the window
    plan("background_poll", asked={"background_options": {"completion_window": "8h"}}),
    plan("background_poll_elsewhere",
         asked={"service_tier": "flex", "background_options": {"completion_window": "2h"}}),
    plan("background_resumed", asked={"background_options": {"completion_window": "8h"}}),
    plan("create", asked={"service_tier": "priority", "background_options": {"completion_window": "2h"}})]})
def test_response_metrics_equal_what_the_api_reported_whatever_happened(fake_api: Any, mix: dict[str, Any]) -> None:
    reader = InMemoryMetricReader()
    meters = MeterProvider(metric_readers=[reader])
    instrumentor = AssistantsInstrumentor()
    options: dict[str, Any] = {"tracer_provider": TracerProvider(), "meter_provider": meters,
                               "prices": TERMS_PRICES,
                               "trace_observed_runs": mix["trace_observed_runs"]}
    if mix["tiny_queue"]:
        options.update(fetch_concurrency=1, fetch_queue_size=1)
    standing_faults(fake_api, mix)
    instrumentor.instrument(**options)
    assert instrumentor._ended_responses is not None
    instrumentor._ended_responses.limit = mix["ended_limit"]
    api = driver_for(mix, fake_api.base_url)
    finals: list[Any] = []
    priced = Decimal(0)  # by the hand table
    ended: list[Any] = []
    turned_away = 0  # responses ended while the queue was made to say it had no room
    try:
        for i, plan in enumerate(mix["plans"]):
            if plan["restart_before"]:
                instrumentor.uninstrument()
                instrumentor.instrument(**options)
            name = f"mix{i}"
            fake_api.response_scripts[name] = script_of(plan, code=plan["code"] or mix["tiny_queue"])
            if plan["fault"]:
                fake_api.faults.add(r"^/v1/responses", plan["fault"], method=plan["fault_on"])
            background = instrumentor._background
            if plan["dropped"]:
                background.submit = lambda *args, **kwargs: False
            if plan["seen_again"]:
                for earlier in ended:
                    assert api(api.client.responses.retrieve, earlier.id).status == "completed"
            api.asked = plan.get("asked", {})  # type: ignore[attr-defined]
            ended = observe(api, fake_api, plan, name)
            api.asked = {}  # type: ignore[attr-defined]
            for index, response in enumerate(ended):
                reported(response, plan, index)
                priced += hand_usd(response, {} if index else plan.get("asked", {}), plan["style"] in STREAMED,
                                   mix.get("host", "api.openai.com"))
            finals.extend(ended)
            turned_away += len(ended) if plan["dropped"] else 0
            if not mix["tiny_queue"]:  # else the next response ends while slow reads fill the queue
                assert instrumentor.force_flush(10_000)
            vars(background).pop("submit", None)
            standing_faults(fake_api, mix)
        assert instrumentor.force_flush(10_000)
        everything = collected(reader)
        points = of_responses(everything)
        event(f"responses: {len(finals)}")
        event(f"dropped by a really full queue: {dropped(everything).get('response', 0) > turned_away}")
        assert tokens(points) == {"input": sum(r.usage.input_tokens for r in finals),
                                  "output": sum(r.usage.output_tokens for r in finals)}
        event(f"priced: {sorted({r.service_tier or '' for r in finals})}, host {mix.get('host', 'api.openai.com')}")
        assert token_spend(points) == pytest.approx(float(priced), rel=1e-12, abs=1e-15)
        assert sum(p.value for p in points.get("openai_cost.runs", [])) == len(finals)
    finally:
        instrumentor.uninstrument()
        instrumentor._ended_runs = instrumentor._ended_responses = None  # the next example is a new process
        instrumentor._sessions = None
        api.close()
        meters.shutdown()


# --- a finished response seen again is not traced twice ---------------------------------------------

@pytest.mark.parametrize("between", ["restart", "others_ended"])
def test_a_finished_response_seen_again_is_not_traced_twice(api: Driver, otel: Any, between: str) -> None:
    otel.instrument(prices=PRICES, trace_observed_runs=True)
    request = {"input": "Six times seven?", "metadata": {"script": "cached"}}
    first = api(api.client.responses.create, model=MODEL, **request)
    if between == "restart":
        otel.instrumentor.uninstrument()
        otel.instrument(prices=PRICES, trace_observed_runs=True)
    else:  # what 1,000 other responses ending would do: the first leaves the list of ended ones
        otel.instrumentor._responses._ended.limit = 1
        api(api.client.responses.create, model=MODEL, **request)
    assert api(api.client.responses.retrieve, first.id).status == "completed"
    points = of_responses(otel.metrics())
    runs = 1 if between == "restart" else 2
    assert sum(p.value for p in points["openai_cost.runs"]) == runs
    assert tokens(points) == {"input": runs * 2000, "output": runs * 300}
    assert [s.attributes["gen_ai.response.id"] for s in otel.spans()].count(first.id) == 1


def test_a_forked_child_starts_with_no_responses_and_a_free_lock() -> None:
    """Defect 7 for responses: the child never emits the parent's responses nor waits on its lock."""
    import os

    from opentelemetry.instrumentation.openai_assistants.config import Settings
    from opentelemetry.instrumentation.openai_assistants.responses.tracker import ResponseTracker

    tracker = ResponseTracker(Settings(), finish=lambda state: None)
    tracker._live["resp_parent"] = object()  # type: ignore[assignment]  # a response in flight
    with tracker._lock:  # another thread holds the lock at fork time
        pid = os.fork()
        if pid == 0:
            ok = tracker._lock.acquire(timeout=2) and not tracker._live
            os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert "resp_parent" in tracker._live  # the parent keeps its own


# --- issue 17 defect 1: background responses living past the unobserved timeout ---------------------

LONG_WORK_S = 3 * 3600  # on the fake clock
lifetimes = st.fixed_dictionaries({
    "kind": st.sampled_from(["sync", "async"]),
    "responses": st.lists(st.fixed_dictionaries({
        "usage": usages(),
        # between polls: False, the app polls on; True, it is silent past the timeout (ended unobserved,
        # provisionally) and polls again later
        "silences": st.lists(st.booleans(), min_size=1, max_size=4),
    }), min_size=1, max_size=3),
})


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(life=lifetimes)
def test_long_background_responses_count_their_reported_usage_once(fake_api: Any, life: dict[str, Any]) -> None:
    import time

    reader = InMemoryMetricReader()
    meters = MeterProvider(metric_readers=[reader])
    instrumentor = AssistantsInstrumentor()
    instrumentor.instrument(tracer_provider=TracerProvider(), meter_provider=meters, prices=PRICES,
                            unobserved_run_timeout_s=60.0)
    api = Driver(life["kind"], fake_api.base_url)
    finals = []
    try:
        tracker = instrumentor._responses
        assert tracker is not None
        for i, drawn in enumerate(life["responses"]):
            fake_api.response_scripts[f"long{i}"] = ResponseScript([Text("Forty-two.")], usage=drawn["usage"],
                                                                   work_s=LONG_WORK_S)
            created = create(api, f"long{i}", background=True)
            assert api(api.client.responses.retrieve, created.id).status == "in_progress"
            for silent in drawn["silences"]:
                if silent:
                    event("ended unobserved, then polled")
                    tracker.sweep(time.time() + 120.0)
                assert api(api.client.responses.retrieve, created.id).status == "in_progress"
            fake_api.clock.advance(LONG_WORK_S)
            finals.append(api.wait(poll(api.kind, api.client, created)))
        tracker.sweep(time.time() + 10 * 3600)
        tracker.sweep(time.time() + 20 * 3600)
        assert instrumentor.force_flush(10_000)
        points = of_responses(collected(reader))
        assert tokens(points) == {"input": sum(r.usage.input_tokens for r in finals),
                                  "output": sum(r.usage.output_tokens for r in finals)}
        expected = sum((hand_usd(r, {}, False, "127.0.0.1") for r in finals), Decimal(0))
        assert token_spend(points) == pytest.approx(float(expected), rel=1e-12, abs=1e-15)
        assert [(p.attributes["openai_cost.status"], p.value) for p in points["openai_cost.runs"]] == [
            ("completed", len(finals))]
    finally:
        instrumentor.uninstrument()
        instrumentor._ended_runs = instrumentor._ended_responses = None
        instrumentor._sessions = None
        api.close()
        meters.shutdown()
