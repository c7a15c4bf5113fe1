"""A misbehaving API, a failing app handler or a dead collector never reach the app through us.

Each scenario runs twice on one fake API: uninstrumented, then instrumented. The app must see the same
results (``spanutil.shape``) and the same exception (type and message) both times; every span started
must be ended, no run may stay tracked once swept, and our loggers say nothing above DEBUG.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
import warnings
from typing import Any, Callable, Optional

import openai
import pytest
from openai import AssistantEventHandler, AsyncAssistantEventHandler
from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import StatusCode
from sdk import STREAM_RESET_ERROR, http
from spanutil import assert_tree_is_sound, attrs, children, named, one, shape
from test_runs import start

PACKAGE_LOGGER = "opentelemetry.instrumentation.openai_assistants"
RUN = r"/threads/[^/]+/runs/run_[^/]+$"  # one run, as polled
RUNS = r"/threads/[^/]+/runs$"  # run creation
FAR_FUTURE_S = 30 * 24 * 3600.0

class Ledger(SpanProcessor):
    """Every span started and every span ended, to show none is left open."""

    def __init__(self) -> None:
        self.started: set[int] = set()
        self.ended: set[int] = set()
        self._lock = threading.Lock()

    def on_start(self, span: Span, parent_context: Optional[Context] = None) -> None:
        with self._lock:
            self.started.add(span.context.span_id)

    def on_end(self, span: ReadableSpan) -> None:
        with self._lock:
            self.ended.add(span.context.span_id)


# --- what the app does ------------------------------------------------------------------------------

Arm = Callable[[], None]  # plans the scenario's faults, once its assistant and thread exist
Scenario = Callable[[Any, Arm, list], None]  # (api, arm, results the app saw)
Plan = tuple[tuple[str, str, dict[str, Any]], ...]  # (path regex, kind, options) for fake_api.faults.add


def _poll(script: str, client: Optional[Callable[[Any], Any]] = None, list_steps: bool = False) -> Scenario:
    def scenario(api: Any, arm: Arm, seen: list) -> None:
        assistant, thread = start(api, script)
        arm()
        runs = (client(api.client) if client else api.client).beta.threads.runs
        run = api(runs.create_and_poll, thread_id=thread.id, assistant_id=assistant.id)
        seen.append(run)
        if list_steps:
            seen.append(api(runs.steps.list, run.id, thread_id=thread.id))
        seen.append(api(api.client.beta.threads.messages.list, thread.id))

    return scenario


def _stream(script: str, handler: Optional[Callable[[str], Any]] = None) -> Scenario:
    def scenario(api: Any, arm: Arm, seen: list) -> None:
        assistant, thread = start(api, script)
        arm()
        runs = api.client.beta.threads.runs
        options = {"event_handler": handler(api.kind)} if handler else {}
        stream = api.stream(runs.stream(thread_id=thread.id, assistant_id=assistant.id, **options))
        seen.append(api.wait(stream.get_final_run()))
        seen.append(api.wait(stream.get_final_messages()))
        seen.append(api.wait(stream.get_final_run_steps()))

    return scenario


async def _aevents(stream: Any) -> list[Any]:
    return [event async for event in stream]


def _raw_stream(script: str) -> Scenario:
    def scenario(api: Any, arm: Arm, seen: list) -> None:
        assistant, thread = start(api, script)
        arm()
        stream = api(api.client.beta.threads.runs.create, thread_id=thread.id, assistant_id=assistant.id,
                     stream=True)
        seen.extend(api.wait(_aevents(stream)) if api.kind == "async" else list(stream))

    return scenario


class _Boom(AssistantEventHandler):
    def on_text_delta(self, delta: Any, snapshot: Any) -> None:
        raise ValueError("the app's handler broke")


class _AsyncBoom(AsyncAssistantEventHandler):
    async def on_text_delta(self, delta: Any, snapshot: Any) -> None:
        raise ValueError("the app's handler broke")


def _boom(kind: str) -> Any:
    return _AsyncBoom() if kind == "async" else _Boom()


def _fast_timeout(client: Any) -> Any:
    return client.with_options(timeout=0.1, max_retries=0)


def _one_retry(client: Any) -> Any:
    return client.with_options(max_retries=1)


# name: (what the app does, faults, the exception the app gets or None, invoke_agent spans expected)
SCENARIOS: dict[str, tuple[Scenario, Plan, Optional[type], int]] = {
    "429_retried": (_poll("text"), ((RUNS, "429", {"method": "POST"}),), None, 1),
    "429_exhausted": (_poll("text", _one_retry), ((RUNS, "429", {"method": "POST", "count": None}),),
                      openai.RateLimitError, 1),
    "500_retried_on_poll": (_poll("text"), ((RUN, "500", {"method": "GET", "count": 2}),), None, 1),
    "500_exhausted_on_poll": (_poll("code_interpreter", _one_retry),
                              ((RUN, "500", {"method": "GET", "count": None}),), openai.InternalServerError, 1),
    "timeout_on_create": (_poll("text", _fast_timeout), ((RUNS, "delay", {"method": "POST", "seconds": 0.4}),),
                          openai.APITimeoutError, 1),
    "timeout_on_poll": (_poll("text", _fast_timeout), ((RUN, "delay", {"method": "GET", "seconds": 0.4}),),
                        openai.APITimeoutError, 1),
    "reset_retried": (_poll("text"), ((RUN, "reset", {"method": "GET"}),), None, 1),
    "reset_mid_stream": (_stream("code_interpreter"), ((RUNS, "reset", {"method": "POST", "after_events": 6}),),
                         http.ReadError, 1),
    "reset_mid_raw_stream": (_raw_stream("code_interpreter"),
                             ((RUNS, "reset", {"method": "POST", "after_events": 9}),), STREAM_RESET_ERROR, 1),
    "handler_raises": (_stream("text", _boom), (), ValueError, 1),
    "status_paused_polled": (_poll("text"), ((RUN, "status_paused", {"method": "GET", "count": 3}),), None, 1),
    "status_paused_streamed": (_stream("code_interpreter"), ((RUNS, "status_paused", {"count": None}),), None, 1),
}
for _kind in ("unknown_tool_type", "legacy_code_tool", "usage_null", "missing_optional"):
    SCENARIOS[f"{_kind}_polled"] = (_poll("code_interpreter_multi", list_steps=True),
                                    ((r"/threads/", _kind, {"count": None}),), None, 1)
    SCENARIOS[f"{_kind}_streamed"] = (_stream("code_interpreter"), ((RUNS, _kind, {"count": None}),), None, 1)
    SCENARIOS[f"{_kind}_raw_stream"] = (_raw_stream("function"), ((RUNS, _kind, {"count": None}),), None, 1)


# --- the same over the Responses API ---------------------------------------------------------------

RESPONSES = r"/responses$"  # response creation
RESPONSE = r"/responses/resp_[^/]+$"  # one response, as polled


def _respond(script: str, how: str, client: Optional[Callable[[Any], Any]] = None) -> Scenario:
    """One response of ``script``: ``returned``, ``polled`` (background), ``raw_stream`` or ``stream``."""

    def scenario(api: Any, arm: Arm, seen: list) -> None:
        arm()
        responses = (client(api.client) if client else api.client).responses
        options = {"model": "gpt-4o-mini", "input": "Hi", "metadata": {"script": script}}
        if how == "stream":
            stream = api.stream(responses.stream(**options))
            seen.append(api.wait(stream.get_final_response()))
            return
        if how == "raw_stream":
            stream = api(responses.create, stream=True, **options)
            seen.extend(api.wait(_aevents(stream)) if api.kind == "async" else list(stream))
            return
        response = api(responses.create, background=how == "polled", **options)
        while response.status in ("queued", "in_progress"):
            response = api(responses.retrieve, response.id)
        seen.append(response)

    return scenario


SCENARIOS.update({
    "responses_429_retried": (_respond("text", "returned"), ((RESPONSES, "429", {"method": "POST"}),), None, 1),
    "responses_429_exhausted": (_respond("text", "returned", _one_retry),
                                ((RESPONSES, "429", {"method": "POST", "count": None}),), openai.RateLimitError, 1),
    "responses_500_exhausted_on_poll": (_respond("code_interpreter", "polled", _one_retry),
                                        ((RESPONSE, "500", {"method": "GET", "count": None}),),
                                        openai.InternalServerError, 1),
    "responses_timeout_on_create": (_respond("text", "returned", _fast_timeout),
                                    ((RESPONSES, "delay", {"method": "POST", "seconds": 0.4}),),
                                    openai.APITimeoutError, 1),
    "responses_reset_retried_on_poll": (_respond("text", "polled"), ((RESPONSE, "reset", {"method": "GET"}),),
                                        None, 1),
    "responses_reset_mid_stream": (_respond("every_tool", "stream"),
                                   ((RESPONSES, "reset", {"method": "POST", "after_events": 6}),),
                                   STREAM_RESET_ERROR, 1),
    "responses_reset_mid_raw_stream": (_respond("every_tool", "raw_stream"),
                                       ((RESPONSES, "reset", {"method": "POST", "after_events": 9}),),
                                       STREAM_RESET_ERROR, 1),
})
for _kind in ("usage_null", "missing_optional", "status_paused"):
    for _how in ("returned", "polled", "raw_stream"):
        SCENARIOS[f"responses_{_kind}_{_how}"] = (_respond("every_tool", _how),
                                                  ((r"/responses", _kind, {"count": None}),), None, 1)


def _top(name: str) -> str:
    return "chat " if name.startswith("responses_") else "invoke_agent"


# --- the harness ------------------------------------------------------------------------------------

Outcome = tuple[list[Any], Optional[tuple[type, str]]]


def _outcome(api: Any, fake: Any, scenario: Scenario, plan: Plan, keep_faults: bool = False) -> Outcome:
    """What the app saw (shapes) and the exception it got, if any."""
    seen: list[Any] = []
    error: Optional[tuple[type, str]] = None

    def arm() -> None:
        for path, kind, options in plan:
            fake.faults.add(path, kind, **options)

    try:
        scenario(api, arm, seen)
    except Exception as exc:
        error = (type(exc), str(exc))
    finally:
        if not keep_faults:
            fake.faults.clear()
    with warnings.catch_warnings():  # pydantic warns when dumping the off-schema objects
        warnings.simplefilter("ignore", UserWarning)
        return [shape(r) for r in seen], error


def _loud_records(caplog: Any) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name.startswith(PACKAGE_LOGGER) and r.levelno > logging.DEBUG]


def _settle(otel: Any) -> list[ReadableSpan]:
    """Spans once background work is done and runs never seen to end are swept, as time would."""
    runs, responses = otel.instrumentor._tracker, otel.instrumentor._responses
    otel.spans()
    for tracker in (runs, responses):
        tracker.sweep(now_s=time.time() + FAR_FUTURE_S)
    spans = otel.spans()
    assert runs.live_runs() == 0 and responses.live_responses() == 0
    return spans


@pytest.fixture
def ledger(otel: Any) -> Ledger:
    ledger = Ledger()
    otel.tracer_provider.add_span_processor(ledger)
    return ledger


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_the_app_sees_what_it_sees_without_us(name: str, api: Any, otel: Any, fake_api: Any, ledger: Ledger,
                                              caplog: Any) -> None:
    scenario, plan, error_type, run_spans = SCENARIOS[name]
    caplog.set_level(logging.DEBUG, logger=PACKAGE_LOGGER)
    plain = _outcome(api, fake_api, scenario, plan)
    assert (plain[1][0] if plain[1] else None) is error_type, plain[1]
    otel.instrument()
    traced = _outcome(api, fake_api, scenario, plan)
    assert traced == plain
    spans = _settle(otel)
    assert_tree_is_sound(spans)
    assert ledger.started and ledger.started == ledger.ended
    assert len(named(spans, _top(name))) == run_spans
    otel.instrumentor.uninstrument()
    assert ledger.started == ledger.ended
    assert _loud_records(caplog) == []
    fake_api.validation_errors.clear()  # off-schema payloads are sent on purpose


def test_a_refused_creation_is_a_failed_run_span(api: Any, otel: Any, fake_api: Any) -> None:
    otel.instrument()
    scenario, plan, error_type, _ = SCENARIOS["429_exhausted"]
    assert _outcome(api, fake_api, scenario, plan)[1][0] is error_type  # type: ignore[index]
    span = one(_settle(otel), "invoke_agent")
    assert span.status.status_code == StatusCode.ERROR
    assert attrs(span)["error.type"] == "RateLimitError"
    assert attrs(span)["assistants.run.end_reason"] == "request_failed"


def test_a_broken_stream_leaves_the_run_to_the_sweep(api: Any, otel: Any, fake_api: Any) -> None:
    otel.instrument()
    scenario, plan, _, _ = SCENARIOS["reset_mid_stream"]
    assert _outcome(api, fake_api, scenario, plan)[1] is not None
    otel.spans()
    assert otel.instrumentor._tracker.live_runs() == 1  # the run may go on server-side
    span = one(_settle(otel), "invoke_agent")
    assert attrs(span)["assistants.run.end_reason"] == "unobserved"
    assert span.status.status_code == StatusCode.ERROR


@pytest.mark.parametrize("kind", ["unknown_tool_type", "legacy_code_tool"])
def test_odd_tool_calls_still_become_tool_spans(kind: str, api: Any, otel: Any, fake_api: Any) -> None:
    otel.instrument()
    scenario, plan, _, _ = SCENARIOS[f"{kind}_polled"]
    assert _outcome(api, fake_api, scenario, plan, keep_faults=True)[1] is None  # our step reads see them too
    tools = named(_settle(otel), "execute_tool")
    assert len(tools) == 2
    expected = "browser" if kind == "unknown_tool_type" else "code_interpreter"
    assert {attrs(t)["gen_ai.tool.name"] for t in tools} == {expected}
    fake_api.validation_errors.clear()


def test_our_rate_limited_fetch_is_counted_and_the_run_still_ends(api: Any, otel: Any, fake_api: Any,
                                                                  caplog: Any) -> None:
    caplog.set_level(logging.DEBUG, logger=PACKAGE_LOGGER)
    scenario, plan = _poll("code_interpreter"), ((r"/steps$", "429", {"method": "GET", "count": None}),)
    plain = _outcome(api, fake_api, scenario, plan)
    assert plain[1] is None
    otel.instrument()
    assert _outcome(api, fake_api, scenario, plan, keep_faults=True) == plain
    spans = _settle(otel)
    fake_api.faults.clear()
    assert_tree_is_sound(spans)
    run = one(spans, "invoke_agent")
    assert children(spans, run) == []  # the steps could not be read
    assert fake_api.count("GET", r"/steps$") >= 1
    outcomes = {(p.attributes["openai_cost.fetch.kind"], p.attributes["openai_cost.fetch.outcome"]): p.value
                for p in otel.metrics()["openai_cost.fetches"]}
    assert outcomes.get(("steps", "error"), 0) >= 1
    assert ("steps", "ok") not in outcomes
    assert _loud_records(caplog) == []


class _Recording(OTLPSpanExporter):
    """An OTLP exporter that notes the thread of every export call."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.threads: list[int] = []

    def export(self, spans: Any) -> Any:
        self.threads.append(threading.get_ident())
        return super().export(spans)


def test_a_dead_collector_does_not_touch_the_app(api: Any, otel: Any, fake_api: Any, caplog: Any) -> None:
    with socket.socket() as probe:  # a port nobody listens on once closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    exporter = _Recording(endpoint=f"http://127.0.0.1:{port}/v1/traces", timeout=0.5)
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=1, max_export_batch_size=1))
    otel.tracer_provider = provider
    caplog.set_level(logging.DEBUG, logger=PACKAGE_LOGGER)
    scenario = _poll("code_interpreter")
    plain = _outcome(api, fake_api, scenario, ())
    otel.instrument()
    app_thread = threading.get_ident()
    for _ in range(3):
        assert _outcome(api, fake_api, scenario, ()) == plain
    assert otel.instrumentor.force_flush(10_000)
    deadline = time.monotonic() + 10
    while not exporter.threads and time.monotonic() < deadline:
        time.sleep(0.01)
    assert exporter.threads, "the exporter was never called"
    assert app_thread not in exporter.threads
    otel.instrumentor.uninstrument()
    threading.Thread(target=provider.shutdown, daemon=True).start()  # gives up on the dead port by itself
    assert _loud_records(caplog) == []
