"""Whatever the API sends, reading it, tracking it, accounting for it and writing spans never raise,
and every attribute written is a valid OpenTelemetry attribute value.

Payloads are arbitrary JSON, or shaped like runs, steps, messages and stream events with fields
missing, mistyped or of unknown kinds; they go in as plain dicts and as the SDK's own (unvalidated)
models, the way ``openai`` builds them.
"""

from __future__ import annotations

import dataclasses
import itertools
import warnings
from decimal import Decimal
from typing import Any

import wrapt
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from openai._models import construct_type
from openai.types.beta import Assistant as SdkAssistant
from openai.types.beta import AssistantStreamEvent
from openai.types.beta.threads import Message as SdkMessage
from openai.types.beta.threads import Run as SdkRun
from openai.types.beta.threads.runs import RunStep as SdkRunStep
from openai.types.responses import Response as SdkResponse
from openai.types.responses import ResponseOutputItem as SdkOutputItem
from openai.types.responses import ResponseStreamEvent
from opentelemetry.context import Context
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from opentelemetry.instrumentation.openai_assistants import model
from opentelemetry.instrumentation.openai_assistants.accounting.account import account_run
from opentelemetry.instrumentation.openai_assistants.accounting.estimator import RunContext, estimate_run
from opentelemetry.instrumentation.openai_assistants.accounting.pricing import PriceBook
from opentelemetry.instrumentation.openai_assistants.accounting.tokens import default_counter
from opentelemetry.instrumentation.openai_assistants.assistants import observe
from opentelemetry.instrumentation.openai_assistants.assistants.report import RunReporter
from opentelemetry.instrumentation.openai_assistants.assistants.state import RunState
from opentelemetry.instrumentation.openai_assistants.assistants.streams import RunStreamWatcher
from opentelemetry.instrumentation.openai_assistants.assistants.tracker import RunTracker
from opentelemetry.instrumentation.openai_assistants.background import Background
from opentelemetry.instrumentation.openai_assistants.config import Settings
from opentelemetry.instrumentation.openai_assistants.frontends import Call
from opentelemetry.instrumentation.openai_assistants.metrics import Instruments
from opentelemetry.instrumentation.openai_assistants.responses import observe as responses_observe
from opentelemetry.instrumentation.openai_assistants.responses.pipeline import ResponseFinisher
from opentelemetry.instrumentation.openai_assistants.responses.state import ResponseState
from opentelemetry.instrumentation.openai_assistants.responses.tracker import ResponseTracker
from opentelemetry.instrumentation.openai_assistants.telemetry import Telemetry

PROPERTIES = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
INT64 = (-(2**63), 2**63 - 1)
PRICES = PriceBook()
COUNTER = default_counter()

# --- payloads -------------------------------------------------------------------------------------

scalars = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(), st.text(max_size=12))
anything = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                         st.dictionaries(st.text(max_size=8), inner, max_size=3)),
                        max_leaves=12)
times = st.one_of(st.integers(0, 2**32), st.integers(-(2**70), 2**70), st.floats(), anything)
RUN_IDS, THREAD_IDS, STEP_IDS, CALL_IDS = ["run_a", "run_b"], ["thread_a"], ["step_a", "step_b"], ["call_a", "call_b"]
MODELS = ["gpt-4o-mini", "gpt-4o", "gpt-4-turbo-preview", "gpt-4-1106-preview", "my-deployment"]


def either(*strategies: Any) -> Any:
    """The plausible value or anything else."""
    return st.one_of(*strategies, anything)


def shaped(required: dict[str, Any], optional: dict[str, Any], strict: bool = False) -> Any:
    """A dict with the ``required`` keys (plausible, or unless ``strict`` half the time anything) and some
    ``optional`` ones."""
    rest = {k: either(v) for k, v in optional.items()}
    if strict:
        return st.fixed_dictionaries(required, optional=rest)
    return st.one_of(st.fixed_dictionaries(required, optional=rest),
                     st.fixed_dictionaries({k: either(v) for k, v in required.items()}, optional=rest))


usage = shaped({"prompt_tokens": st.integers(-5, 2**66), "completion_tokens": st.integers(-5, 2**66)},
               {"total_tokens": st.integers(0, 10**6)})
error = shaped({}, {"code": st.sampled_from(["server_error", "rate_limit_exceeded"]), "message": st.text()})
tool_def = shaped({"type": st.sampled_from(["code_interpreter", "file_search", "function", "code", "browser"])},
                  {"function": shaped({"name": st.text(max_size=8)}, {"parameters": anything})})
outputs = st.lists(either(
    shaped({"type": st.just("logs")}, {"logs": st.text(max_size=20)}),
    shaped({"type": st.just("image")}, {"image": shaped({"file_id": st.text(max_size=5)}, {})}),
), max_size=3)
code_payload = shaped({}, {"input": st.text(max_size=30), "outputs": outputs})
tool_call = shaped(
    {"type": st.sampled_from(["code_interpreter", "code", "function", "file_search", "browser"])},
    {"id": st.sampled_from(CALL_IDS), "index": st.integers(-2, 3), "code_interpreter": code_payload,
     "code": code_payload, "file_search": shaped({}, {"results": st.lists(anything, max_size=2)}),
     "function": shaped({}, {"name": st.text(max_size=8), "arguments": st.text(max_size=20),
                             "output": st.text(max_size=20)}),
     "browser": anything},
)
step_details = shaped({"type": st.sampled_from(["message_creation", "tool_calls", "thinking"])},
                      {"message_creation": shaped({"message_id": st.sampled_from(["msg_a", "msg_b"])}, {}),
                       "tool_calls": st.lists(tool_call, max_size=3)})
RUN_KEYS = {"id": st.sampled_from(RUN_IDS), "object": st.just("thread.run"), "thread_id": st.sampled_from(THREAD_IDS)}
RUN_FIELDS = {"status": st.sampled_from(["queued", "in_progress", "requires_action", "completed", "failed", "cancelled",
                                "expired", "incomplete", "cancelling", "paused"]),
     "assistant_id": st.sampled_from(["asst_a"]), "model": st.sampled_from(MODELS),
     "instructions": st.text(max_size=20), "tools": st.lists(tool_def, max_size=3),
     "created_at": times, "started_at": times, "completed_at": times, "failed_at": times, "cancelled_at": times,
     "expires_at": times, "usage": usage, "last_error": error,
     "incomplete_details": shaped({}, {"reason": st.text(max_size=10)}),
     "required_action": shaped({}, {"type": st.just("submit_tool_outputs"), "submit_tool_outputs": shaped(
         {"tool_calls": st.lists(tool_call, max_size=2)}, {})}),
     "truncation_strategy": shaped({"type": st.sampled_from(["auto", "last_messages"])},
                                   {"last_messages": st.integers(-3, 5)}),
     "metadata": st.dictionaries(st.text(max_size=5), scalars, max_size=3)}
run = shaped(RUN_KEYS, RUN_FIELDS)
created_run = shaped({**RUN_KEYS, "status": st.sampled_from(["queued", "in_progress", "requires_action"])},
                     {k: v for k, v in RUN_FIELDS.items() if k != "status"}, strict=True)
step = shaped(
    {"id": st.sampled_from(STEP_IDS), "object": st.just("thread.run.step"), "run_id": st.sampled_from(RUN_IDS)},
    {"thread_id": st.sampled_from(THREAD_IDS), "type": st.sampled_from(["message_creation", "tool_calls", "x"]),
     "status": st.sampled_from(["in_progress", "completed", "failed", "expired", "cancelled"]),
     "step_details": step_details, "usage": usage, "created_at": times, "completed_at": times,
     "failed_at": times, "expired_at": times, "last_error": error},
)
content_part = either(
    shaped({"type": st.just("text")}, {"text": either(shaped({"value": st.text(max_size=30)}, {}))}),
    shaped({"type": st.just("refusal")}, {"refusal": st.text(max_size=10)}),
    shaped({"type": st.sampled_from(["image_file", "image_url"])}, {}),
)
message = shaped(
    {"id": st.sampled_from(["msg_a", "msg_b"]), "object": st.just("thread.message")},
    {"thread_id": st.sampled_from(THREAD_IDS), "role": st.sampled_from(["user", "assistant", "system"]),
     "content": either(st.lists(content_part, max_size=3), st.text(max_size=20)),
     "run_id": st.sampled_from(RUN_IDS), "assistant_id": st.just("asst_a"), "created_at": times},
)
assistant = shaped({"id": st.just("asst_a"), "object": st.just("assistant")},
                   {"name": st.text(max_size=8), "model": st.sampled_from(MODELS), "tools": st.lists(tool_def),
                    "instructions": st.text(max_size=10), "metadata": anything})
step_delta = shaped({"id": st.sampled_from(STEP_IDS), "object": st.just("thread.run.step.delta")},
                    {"delta": shaped({}, {"step_details": shaped(
                        {"type": st.just("tool_calls")}, {"tool_calls": st.lists(tool_call, max_size=2)})})})
page = shaped({"object": st.just("list"), "data": st.lists(st.one_of(run, step, message), max_size=3)},
              {"has_more": st.booleans()})
api_object = st.one_of(run, step, message, assistant, page, anything)
EVENT_NAMES = ["thread.created", "thread.run.created", "thread.run.queued", "thread.run.in_progress",
               "thread.run.requires_action", "thread.run.completed", "thread.run.failed", "thread.run.incomplete",
               "thread.run.step.created", "thread.run.step.in_progress", "thread.run.step.delta",
               "thread.run.step.completed", "thread.run.step.failed", "thread.message.created",
               "thread.message.completed", "thread.message.incomplete", "thread.run.step.weird", "error"]
stream_event = st.fixed_dictionaries({"event": either(st.sampled_from(EVENT_NAMES)),
                               "data": st.one_of(run, step, step_delta, message, anything)})


@st.composite
def as_sdk(draw: Any, payload: Any, sdk_type: Any) -> Any:
    """The payload as a plain dict, or as the SDK builds it from a response body (without validation)."""
    value = draw(payload)
    if not draw(st.booleans()) or not isinstance(value, dict):
        return value
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return construct_type(type_=sdk_type, value=value)


def sdk_object() -> Any:
    return st.one_of(as_sdk(run, SdkRun), as_sdk(step, SdkRunStep), as_sdk(message, SdkMessage),
                     as_sdk(assistant, SdkAssistant), api_object)


sdk_event = as_sdk(stream_event, AssistantStreamEvent)

# --- checks ---------------------------------------------------------------------------------------

_PRIMITIVES = (str, bool, int, float)


def valid_value(value: Any) -> bool:
    """An OTel attribute value that every exporter can encode (OTLP ints are 64-bit)."""
    if isinstance(value, _PRIMITIVES):
        return not isinstance(value, int) or isinstance(value, bool) or INT64[0] <= value <= INT64[1]
    if isinstance(value, (list, tuple)):
        return all(valid_value(v) and not isinstance(v, (list, tuple)) for v in value) and \
            len({type(v) for v in value}) <= 1
    return False


def check_attributes(where: str, attributes: Any) -> None:
    for key, value in dict(attributes or {}).items():
        assert isinstance(key, str) and key, (where, key)
        assert valid_value(value), (where, key, value)


class _CheckedSpan(wrapt.ObjectProxy):  # type: ignore[misc]
    """A span that checks every attribute set on it before the SDK sanitises it."""

    def set_attribute(self, key: str, value: Any) -> Any:
        check_attributes("set_attribute", {key: value})
        return self.__wrapped__.set_attribute(key, value)

    def set_attributes(self, attributes: Any) -> Any:
        check_attributes("set_attributes", attributes)
        return self.__wrapped__.set_attributes(attributes)


class _CheckedTracer(wrapt.ObjectProxy):  # type: ignore[misc]
    def start_span(self, name: str, *args: Any, **kwargs: Any) -> Any:
        assert isinstance(name, str)
        check_attributes(f"start_span {name}", kwargs.get("attributes"))
        return _CheckedSpan(self.__wrapped__.start_span(name, *args, **kwargs))


class _CheckedInstrument(wrapt.ObjectProxy):  # type: ignore[misc]
    def add(self, amount: Any, attributes: Any = None, *args: Any, **kwargs: Any) -> Any:
        return self._check(amount, attributes, self.__wrapped__.add, args, kwargs)

    def record(self, amount: Any, attributes: Any = None, *args: Any, **kwargs: Any) -> Any:
        return self._check(amount, attributes, self.__wrapped__.record, args, kwargs)

    @staticmethod
    def _check(amount: Any, attributes: Any, fn: Any, args: Any, kwargs: Any) -> Any:
        assert isinstance(amount, (int, float)) and not isinstance(amount, bool), amount
        assert amount == amount, "NaN measurement"
        check_attributes("metric", attributes)
        return fn(amount, attributes, *args, **kwargs)


def checked_telemetry(settings_: Settings) -> tuple[Telemetry, InMemorySpanExporter, InMemoryMetricReader]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    instruments = Instruments(MeterProvider(metric_readers=[reader]).get_meter("test"))
    for name, value in list(vars(instruments).items()):
        setattr(instruments, name, _CheckedInstrument(value))
    return Telemetry(_CheckedTracer(provider.get_tracer("test")), instruments, settings_), exporter, reader


def check_exported(exporter: InMemorySpanExporter, reader: InMemoryMetricReader) -> None:
    for span in exporter.get_finished_spans():
        assert span.end_time is not None and span.start_time is not None and span.start_time <= span.end_time
        check_attributes(span.name, span.attributes)
        for ev in span.events:
            check_attributes(ev.name, ev.attributes)
    data = reader.get_metrics_data()
    for resource in data.resource_metrics if data else ():
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                for point in metric.data.data_points:
                    check_attributes(metric.name, point.attributes)


def check_record(record: Any) -> None:
    """A record of ``model`` with every field of its declared kind (strings are strings, counts ints)."""
    if record is None:
        return
    assert dataclasses.is_dataclass(record)
    for f in dataclasses.fields(record):
        value = getattr(record, f.name)
        kind = str(f.type)
        if value is None:
            assert "Optional" in kind or kind == "Any", (type(record).__name__, f.name)
        elif kind.startswith(("str", "Optional[str]")):
            assert isinstance(value, str), (f.name, value)
        elif kind.startswith(("int", "Optional[int]")):
            assert isinstance(value, int) and not isinstance(value, bool), (f.name, value)
        elif kind.startswith("list["):
            assert isinstance(value, list)
            for item in value:
                if dataclasses.is_dataclass(item):
                    check_record(item)
        elif dataclasses.is_dataclass(value):
            check_record(value)


# --- properties -----------------------------------------------------------------------------------


@PROPERTIES
@given(sdk_object(), st.one_of(tool_call, step_delta, anything))
def test_readers_are_total(obj: Any, piece: Any) -> None:
    for reader in (observe.run, observe.step, observe.message, observe.assistant, observe.tool_call,
                   observe.usage):
        check_record(reader(obj))
    observe.metadata(obj)
    observe.tool_definitions(observe.get(obj, "tools"))
    body, uncounted = observe.content_text(observe.get(obj, "content"))
    assert isinstance(body, str) and isinstance(uncounted, int)
    for m in observe.request_messages(observe.get(obj, "messages"), "thread_a"):
        check_record(m)
    list(observe.page_items(obj))
    calls: list[model.ToolCall] = []
    for _ in range(2):
        check_record(observe.merge_tool_call_delta(calls, piece))


def _call(body: Any, path: str) -> Call:
    return Call(method="post", path=path, body=body if isinstance(body, dict) else {}, started_ns=1_700_000_000 * 10**9,
                context=Context(), client=None)


@PROPERTIES
@given(
    first=st.one_of(st.tuples(st.just("object"), as_sdk(created_run, SdkRun)),
                    st.tuples(st.just("event"), as_sdk(st.fixed_dictionaries(
                        {"event": st.just("thread.run.created"), "data": created_run}), AssistantStreamEvent))),
    observations=st.lists(st.one_of(st.tuples(st.just("object"), as_sdk(step, SdkRunStep)),
                                    st.tuples(st.just("event"), sdk_event),
                                    st.tuples(st.just("object"), sdk_object())), max_size=12),
    body=anything,
    path=st.sampled_from(["threads/thread_a/runs", "threads/runs", "threads/thread_a/runs/run_a",
                          "threads/thread_a/runs", "threads/runs",
                          "threads/thread_a/runs/run_a/submit_tool_outputs"]),
    trace_observed=st.booleans(),
    capture=st.booleans(),
    with_account=st.booleans(),
)
def test_tracker_and_span_builder_never_raise_nor_write_bad_attributes(
    first: tuple[str, Any], observations: list[tuple[str, Any]], body: Any, path: str, trace_observed: bool,
    capture: bool, with_account: bool,
) -> None:
    config = Settings(trace_observed_runs=trace_observed, capture_content=capture, content_max_length=32,
                      metadata_keys=("", "team", "a"), metadata_metric_labels=True)
    finished: list[RunState] = []
    tracker = RunTracker(config, finish=finished.append)
    call = _call(body, path)
    tracker.call_started(call)
    watcher = RunStreamWatcher(tracker, call)
    for kind, obj in [first, *observations]:
        if kind == "object":
            tracker.observe(call, obj)
        else:
            watcher.event(obj)
    watcher.closed(RuntimeError("stream broke") if observations else None)
    tracker.call_ended(call, None)
    tracker.sweep(now_s=2**40)
    tracker.end_all("shutdown")
    assert tracker.live_runs() == 0
    telemetry, exporter, reader = checked_telemetry(config)
    for state in finished:
        account = None
        if with_account:
            account = account_run(state.run, [s.step for s in state.ordered_steps()], prices=PRICES,
                                  messages=state.messages, request=state.request, counter=COUNTER)
        telemetry.invocation_ended(RunReporter(config).run(state), account)
    check_exported(exporter, reader)
    event(f"runs ended: {min(len(finished), 2)}, spans: {min(len(exporter.get_finished_spans()), 5)}")


# Records as ``observe`` makes them: integers within 64 bits, token counts and part counts not negative.
ints = st.one_of(st.integers(0, 2**32), st.integers(-(2**63), 2**63 - 1))
opt_ints = st.one_of(st.none(), ints)
counts = st.integers(0, 3)
texts = st.one_of(st.text(max_size=30), st.sampled_from(MODELS))
tokens = st.one_of(st.integers(0, 10**6), st.integers(0, 2**40))
usages = st.builds(model.Usage, input_tokens=tokens, output_tokens=tokens)
model_calls = st.builds(model.ToolCall, id=st.sampled_from([*CALL_IDS, ""]),
                        type=st.sampled_from(["code_interpreter", "code", "function", "file_search", "browser"]),
                        name=texts, arguments=st.one_of(st.none(), texts), output=st.one_of(st.none(), texts),
                        logs=st.lists(st.text(max_size=10), max_size=2), images=counts, results=counts)
model_steps = st.builds(model.Step, id=st.sampled_from(STEP_IDS), run_id=st.just("run_a"),
                        thread_id=st.sampled_from([*THREAD_IDS, ""]),
                        type=st.sampled_from(["message_creation", "tool_calls", "x"]),
                        status=st.sampled_from(["completed", "failed", "in_progress", "?"]),
                        created_at=opt_ints, completed_at=opt_ints, message_id=st.sampled_from([None, "msg_a"]),
                        tool_calls=st.lists(model_calls, max_size=3), usage=st.one_of(st.none(), usages))
model_tools = st.builds(model.ToolDefinition, type=st.sampled_from(["code_interpreter", "code", "function", "x"]),
                        name=st.one_of(st.none(), texts), schema_json=st.one_of(st.none(), texts))
model_runs = st.builds(model.Run, id=st.sampled_from(["run_a", ""]), thread_id=st.sampled_from([*THREAD_IDS, ""]),
                       status=st.sampled_from(["completed", "failed", "expired", "in_progress", "?"]),
                       model=st.one_of(st.none(), texts), instructions=st.one_of(st.none(), texts),
                       tools=st.lists(model_tools, max_size=3), created_at=opt_ints, completed_at=opt_ints,
                       usage=st.one_of(st.none(), usages), truncation_last_messages=st.one_of(st.none(), ints))
model_messages = st.builds(model.Message, id=st.sampled_from(["msg_a", "msg_b", ""]), thread_id=st.just("thread_a"),
                           role=st.sampled_from(["user", "assistant", "tool"]), text=st.text(max_size=40),
                           uncounted_parts=counts, created_at=opt_ints)


@PROPERTIES
@given(run_=model_runs, steps=st.lists(model_steps, max_size=4), messages=st.lists(model_messages, max_size=3),
       history=st.lists(model_messages, max_size=3), compare=st.booleans())
def test_estimator_and_accounting_never_raise(run_: model.Run, steps: list[model.Step],
                                              messages: list[model.Message], history: list[model.Message],
                                              compare: bool) -> None:
    by_id = {m.id: m for m in messages}
    request = model.RunRequest(additional_instructions="be brief", additional_messages=messages[:1])
    estimates = estimate_run(RunContext(run_, steps, by_id, history, request), COUNTER)
    assert len(estimates) == len(steps)
    for estimate in estimates:
        check_record(estimate.usage)
    account = account_run(run_, steps, prices=PRICES, messages=by_id, history=history, request=request,
                          counter=COUNTER, compare_estimates=compare)
    for cost in itertools.chain(account.cost_usd.values(),
                                (s.input_usd for s in account.steps), (s.output_usd for s in account.steps)):
        assert cost is None or (isinstance(cost, Decimal) and cost.is_finite() and cost >= 0), cost
    telemetry, exporter, reader = checked_telemetry(Settings())
    state = RunState(run=run_, parent=Context(), started_ns=10**18, client=None, provider="openai",
                     ended_ns=10**18 + 5)
    for s in steps:
        state.step(s)
    telemetry.invocation_ended(RunReporter(Settings()).run(state), account)
    check_exported(exporter, reader)


def test_numbers_no_exporter_could_encode_are_dropped() -> None:
    assert observe.integer(float("inf")) is None and observe.integer(float("nan")) is None
    assert observe.integer(2**63) is None and observe.integer(2**63 - 1) == 2**63 - 1
    assert observe.usage({"prompt_tokens": 2**64, "completion_tokens": 1}) is None
    assert observe.usage({"prompt_tokens": -1, "completion_tokens": 1}) is None
    parsed = observe.run({"id": "run_a", "thread_id": "thread_a", "created_at": float("inf")})
    assert parsed is not None and parsed.created_at is None


def test_the_checks_can_fail() -> None:
    assert not valid_value(None) and not valid_value({"a": 1}) and not valid_value([1, "a"])
    assert not valid_value(2**64) and valid_value(2**63 - 1) and valid_value(("a", "b")) and valid_value(True)



# --- the Responses API ------------------------------------------------------------------------------

RESPONSE_IDS = ["resp_a", "resp_b"]
response_usage = shaped({"input_tokens": st.integers(-5, 2**66), "output_tokens": st.integers(-5, 2**66)},
                        {"input_tokens_details": shaped({}, {"cached_tokens": st.integers(-5, 2**66),
                                                             "cache_write_tokens": st.integers(-5, 2**66)}),
                         "output_tokens_details": shaped({}, {"reasoning_tokens": st.integers(-5, 2**66)}),
                         "total_tokens": st.integers(0, 10**6)})
ITEM_TYPES = ["message", "reasoning", "function_call", "code_interpreter_call", "web_search_call", "file_search_call",
              "image_generation_call", "mcp_call", "mcp_list_tools", "mcp_approval_request", "shell_call",
              "computer_call", "custom_tool_call", "hologram_call", "function_call_output"]
output_item = shaped(
    {"type": st.sampled_from(ITEM_TYPES)},
    {"id": st.sampled_from(["fc_a", "ci_a", "ws_a", "msg_a"]), "call_id": st.sampled_from(CALL_IDS),
     "status": st.sampled_from(["in_progress", "completed", "failed", "incomplete"]), "name": st.text(max_size=8),
     "arguments": st.text(max_size=20), "input": st.text(max_size=10), "output": st.text(max_size=10),
     "code": st.text(max_size=20), "container_id": st.text(max_size=8), "outputs": outputs,
     "action": shaped({"type": st.sampled_from(["search", "open_page", "find_in_page"])},
                      {"commands": st.lists(st.text(max_size=5), max_size=2)}),
     "queries": st.lists(st.text(max_size=6), max_size=2), "results": st.lists(anything, max_size=2),
     "content": st.lists(shaped({"type": st.sampled_from(["output_text", "refusal", "x"])},
                                {"text": st.text(max_size=10), "refusal": st.text(max_size=10)}), max_size=2)},
)
RESPONSE_KEYS = {"id": st.sampled_from(RESPONSE_IDS), "object": st.just("response")}
RESPONSE_FIELDS = {
    "status": st.sampled_from(["queued", "in_progress", "completed", "failed", "cancelled", "incomplete", "paused"]),
    "model": st.sampled_from(MODELS), "created_at": times, "completed_at": times, "background": anything,
    "conversation": either(shaped({"id": st.just("conv_a")}, {})), "previous_response_id": st.just("resp_0"),
    "service_tier": st.sampled_from(["default", "flex", "priority", "scale", "auto"]), "usage": response_usage,
    "error": error, "incomplete_details": shaped({}, {"reason": st.text(max_size=10)}),
    "output": st.lists(output_item, max_size=4), "instructions": st.text(max_size=10),
    "metadata": st.dictionaries(st.text(max_size=5), scalars, max_size=3)}
response_object = shaped(RESPONSE_KEYS, RESPONSE_FIELDS)
created_response = shaped({**RESPONSE_KEYS, "status": st.sampled_from(["queued", "in_progress"])},
                          {k: v for k, v in RESPONSE_FIELDS.items() if k != "status"}, strict=True)
RESPONSE_EVENTS = ["response.created", "response.queued", "response.in_progress", "response.completed",
                   "response.failed", "response.incomplete", "response.output_item.added",
                   "response.output_item.done", "response.output_text.delta",
                   "response.function_call_arguments.delta", "response.weird", "error"]
response_event = shaped({"type": st.sampled_from(RESPONSE_EVENTS)},
                        {"response": response_object, "item": output_item, "delta": either(st.text(max_size=10)),
                         "sequence_number": st.integers(-1, 10), "output_index": st.integers(-1, 3)})
request_body = shaped({"model": st.sampled_from(MODELS)},
                      {"input": either(st.text(max_size=20), st.lists(either(output_item, shaped(
                          {"type": st.sampled_from(["message", "function_call_output"])},
                          {"role": st.just("user"), "content": either(st.text(max_size=10)),
                           "call_id": st.sampled_from(CALL_IDS), "output": st.text(max_size=10)})), max_size=3)),
                       "instructions": st.text(max_size=10), "conversation": either(st.just("conv_a")),
                       "previous_response_id": st.just("resp_0"), "background": st.booleans(),
                       "background_options": shaped({}, {"completion_window": st.sampled_from(["2h", "8h"])}),
                       "service_tier": st.sampled_from(["flex", "priority", "auto"])})


@PROPERTIES
@given(st.one_of(as_sdk(response_object, SdkResponse), as_sdk(output_item, SdkOutputItem), anything),
       st.one_of(request_body, anything))
def test_response_readers_are_total(obj: Any, body: Any) -> None:
    check_record(responses_observe.response(obj))
    check_record(responses_observe.usage(obj))
    check_record(responses_observe.tool_call(obj))
    check_record(responses_observe.request(body))
    assert isinstance(responses_observe.input_text(body), str)
    assert isinstance(responses_observe.message_text(obj), str)
    usage_ = responses_observe.usage(obj)
    if usage_ is not None:  # parts never exceed their whole
        assert usage_.cached_input_tokens + usage_.cache_write_tokens <= usage_.input_tokens
        assert usage_.reasoning_tokens <= usage_.output_tokens


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    first=st.one_of(st.tuples(st.just("object"), as_sdk(created_response, SdkResponse)),
                    st.tuples(st.just("event"), as_sdk(st.fixed_dictionaries(
                        {"type": st.just("response.created"), "response": created_response}),
                        ResponseStreamEvent))),
    observations=st.lists(st.one_of(st.tuples(st.just("object"), as_sdk(response_object, SdkResponse)),
                                    st.tuples(st.just("event"), as_sdk(response_event, ResponseStreamEvent)),
                                    st.tuples(st.just("object"), anything)), max_size=12),
    body=st.one_of(request_body, anything),
    path=st.sampled_from(["responses", "responses/resp_a", "responses/resp_a/cancel", "responses/compact"]),
    trace_observed=st.booleans(),
    capture=st.booleans(),
)
def test_response_tracker_and_span_builder_never_raise_nor_write_bad_attributes(
    first: tuple[str, Any], observations: list[tuple[str, Any]], body: Any, path: str, trace_observed: bool,
    capture: bool,
) -> None:
    config = Settings(trace_observed_runs=trace_observed, capture_content=capture, content_max_length=32,
                      metadata_keys=("", "team", "a"), metadata_metric_labels=True)
    finished: list[ResponseState] = []
    tracker = ResponseTracker(config, finish=finished.append)
    call = _call(body, path)
    tracker.call_started(call)
    watcher = tracker.stream_opened(call)
    for kind, obj in [first, *observations]:
        if kind == "object" or watcher is None:
            tracker.observe(call, obj)
        else:
            watcher.event(obj)
    if watcher is not None:
        watcher.closed(RuntimeError("stream broke") if observations else None)
    tracker.call_ended(call, RuntimeError("refused") if not observations else None)
    tracker.sweep(now_s=2**40)
    tracker.end_all("shutdown")
    assert tracker.live_responses() == 0
    telemetry, exporter, reader = checked_telemetry(config)
    finisher = ResponseFinisher(config, Background(1, 1, tick_s=0, on_tick=lambda: None), telemetry, PRICES,
                                COUNTER)
    for state in finished:
        estimate = finisher.estimate(state)
        check_record(estimate)
        assert estimate.input_tokens > 0 and estimate.source == "estimated"
        finisher._complete(state)  # accounts and writes, as the background would
    check_exported(exporter, reader)
    event(f"responses ended: {min(len(finished), 2)}, spans: {min(len(exporter.get_finished_spans()), 5)}")
