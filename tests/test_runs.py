"""The span tree of runs, however the app drives them: polling, streaming, nested streams, tool outputs.

Every test runs on the sync and the async client (the ``api`` fixture) against the fake API over HTTP.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from openai import AssistantEventHandler, AsyncAssistantEventHandler
from opentelemetry.trace import StatusCode
from responses_helpers import points, total
from spanutil import assert_tree_is_sound, attrs, children, named, one

from openai_fake_api import Code, Fail, Script
from opentelemetry import trace

TOOLS = {
    "text": [],
    "code_interpreter": [{"type": "code_interpreter"}],
    "code_interpreter_multi": [{"type": "code_interpreter"}],
    "file_search": [{"type": "file_search"}],
    "function": [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}],
    "function_twice": [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}],
    "fail": [{"type": "code_interpreter"}],
    "expire": [{"type": "code_interpreter"}],
    "incomplete": [],
}


def start(api: Any, script: str, name: str = "Helper") -> tuple[Any, Any]:
    beta = api.client.beta
    assistant = api(beta.assistants.create, model="gpt-4o-mini", name=name, tools=TOOLS[script],
                    metadata={"script": script})
    thread = api(beta.threads.create, messages=[{"role": "user", "content": "Hello there"}])
    return assistant, thread


def outputs_for(run: Any) -> list[dict[str, str]]:
    return [{"tool_call_id": c.id, "output": json.dumps({"ok": True})}
            for c in run.required_action.submit_tool_outputs.tool_calls]


def run_span_checks(spans: list[Any], status: str = "completed", steps: int = 2) -> Any:
    assert_tree_is_sound(spans)
    run = one(spans, "invoke_agent")
    a = attrs(run)
    assert run.name == "invoke_agent Helper"
    assert run.kind == trace.SpanKind.CLIENT
    assert a["gen_ai.operation.name"] == "invoke_agent"
    assert a["gen_ai.provider.name"] == "openai"
    assert a["gen_ai.agent.name"] == "Helper"
    assert a["gen_ai.agent.id"].startswith("asst_")
    assert a["gen_ai.conversation.id"].startswith("thread_")
    assert a["assistants.run.id"].startswith("run_")
    assert a["assistants.run.status"] == status
    assert a["gen_ai.request.model"] == "gpt-4o-mini"
    assert a["server.address"] == "127.0.0.1"
    step_spans = children(spans, run)
    assert len(step_spans) == steps, [s.name for s in step_spans]
    for step in step_spans:
        assert step.name == "chat gpt-4o-mini"
        assert attrs(step)["gen_ai.operation.name"] == "chat"
        assert attrs(step)["assistants.step.id"].startswith("step_")
    return run


@pytest.mark.parametrize("script,tools", [("text", 0), ("code_interpreter", 1), ("code_interpreter_multi", 2),
                                          ("file_search", 1)])
def test_create_and_poll(api: Any, instrumented: Any, script: str, tools: int) -> None:
    assistant, thread = start(api, script)
    result = api(api.client.beta.threads.runs.create_and_poll, thread_id=thread.id, assistant_id=assistant.id)
    assert result.status == "completed"
    spans = instrumented.spans()
    run = run_span_checks(spans, steps=1 if script == "text" else 2)
    assert run.status.status_code == StatusCode.UNSET
    tool_spans = named(spans, "execute_tool")
    assert len(tool_spans) == tools
    first_step = children(spans, run)[0]
    for span in tool_spans:
        assert span.parent.span_id == first_step.context.span_id
        assert attrs(span)["gen_ai.tool.type"] == ("datastore" if script == "file_search" else "extension")
        assert attrs(span)["gen_ai.tool.call.id"]
        assert span.kind == trace.SpanKind.INTERNAL
    assert one(spans, "create_agent").name == "create_agent Helper"
    assert len(spans) == 2 + (1 if script == "text" else 2) + tools


@pytest.mark.parametrize("script,tools,steps", [("text", 0, 1), ("code_interpreter_multi", 2, 2),
                                                ("file_search", 1, 2)])
def test_metrics_count_each_tool_call_and_inference_once(api: Any, instrumented: Any, script: str, tools: int,
                                                         steps: int) -> None:
    """Equal label sets are added up before they reach the metrics SDK: the totals stay one per call."""
    assistant, thread = start(api, script)
    api(api.client.beta.threads.runs.create_and_poll, thread_id=thread.id, assistant_id=assistant.id)
    assert total(instrumented, "openai_cost.tool_calls") == tools
    assert {p.attributes["gen_ai.tool.name"]: p.value for p in points(instrumented, "openai_cost.tool_calls")} == (
        {script.removesuffix("_multi"): tools} if tools else {})
    assert total(instrumented, "openai_cost.usage.inferences", **{"openai_cost.usage.source": "reported"}) == steps
    durations = points(instrumented, "gen_ai.client.operation.duration", **{"gen_ai.operation.name": "chat"})
    assert sum(p.count for p in durations) == steps
    assert sum(p.count for p in points(instrumented, "gen_ai.client.operation.duration",
                                       **{"gen_ai.operation.name": "invoke_agent"})) == 1


def test_polls_and_lists_do_not_add_spans(api: Any, instrumented: Any, fake_api: Any) -> None:
    assistant, thread = start(api, "code_interpreter")
    runs = api.client.beta.threads.runs
    run = api(runs.create, thread_id=thread.id, assistant_id=assistant.id)
    while run.status not in ("completed", "failed"):
        run = api(runs.retrieve, run.id, thread_id=thread.id)
        api(runs.steps.list, run.id, thread_id=thread.id)
    for _ in range(3):
        api(runs.retrieve, run.id, thread_id=thread.id)
        api(runs.steps.list, run.id, thread_id=thread.id)
    spans = instrumented.spans()
    run_span_checks(spans)
    assert len(named(spans, "chat")) == 2
    assert len(named(spans, "execute_tool")) == 1


def test_function_calls_through_polling(api: Any, instrumented: Any) -> None:
    assistant, thread = start(api, "function_twice")
    runs = api.client.beta.threads.runs
    run = api(runs.create_and_poll, thread_id=thread.id, assistant_id=assistant.id)
    while run.status == "requires_action":
        run = api(runs.submit_tool_outputs_and_poll, run_id=run.id, thread_id=thread.id,
                  tool_outputs=outputs_for(run))
    assert run.status == "completed"
    spans = instrumented.spans()
    run_span = run_span_checks(spans, steps=3)
    tools = named(spans, "execute_tool get_weather")
    assert len(tools) == 2
    for tool in tools:
        a = attrs(tool)
        assert a["gen_ai.tool.type"] == "function"
        assert a["assistants.tool.awaited_app"] is True
        assert "gen_ai.tool.call.arguments" not in a  # content is off by default
    assert [t.parent.span_id for t in tools] == [s.context.span_id for s in children(spans, run_span)[:2]]


class _CollectingHandler(AssistantEventHandler):
    def __init__(self) -> None:
        super().__init__()
        self.names: list[str] = []

    def on_event(self, event: Any) -> None:
        self.names.append(event.event)


class _AsyncCollectingHandler(AsyncAssistantEventHandler):
    def __init__(self) -> None:
        super().__init__()
        self.names: list[str] = []

    async def on_event(self, event: Any) -> None:
        self.names.append(event.event)


def handler_for(api: Any) -> Any:
    return _AsyncCollectingHandler() if api.kind == "async" else _CollectingHandler()


@pytest.mark.parametrize("entry", ["stream", "create_and_stream", "stream_no_handler", "create_and_run_stream"])
def test_stream_helpers(api: Any, instrumented: Any, entry: str) -> None:
    assistant, thread = start(api, "code_interpreter")
    beta = api.client.beta
    handler = handler_for(api)
    if entry == "stream":
        manager = beta.threads.runs.stream(thread_id=thread.id, assistant_id=assistant.id, event_handler=handler)
    elif entry == "create_and_stream":
        manager = beta.threads.runs.create_and_stream(thread_id=thread.id, assistant_id=assistant.id,
                                                      event_handler=handler)
    elif entry == "stream_no_handler":
        manager = beta.threads.runs.stream(thread_id=thread.id, assistant_id=assistant.id)
    else:
        manager = beta.threads.create_and_run_stream(
            assistant_id=assistant.id, thread={"messages": [{"role": "user", "content": "Hi"}]},
            event_handler=handler)
    stream = api.stream(manager)
    final = api.wait(stream.get_final_run())
    assert final.status == "completed"
    if entry != "stream_no_handler":
        assert handler.names[-1] == "thread.run.completed"
    spans = instrumented.spans()
    run = run_span_checks(spans)
    for step in children(spans, run):
        assert attrs(step)["assistants.step.timing"] == "stream"
    assert len(named(spans, "execute_tool code_interpreter")) == 1


@pytest.mark.parametrize("entry", ["runs.create", "threads.create_and_run"])
def test_raw_stream_true(api: Any, instrumented: Any, entry: str) -> None:
    assistant, thread = start(api, "code_interpreter")
    beta = api.client.beta
    if entry == "runs.create":
        stream = api(beta.threads.runs.create, thread_id=thread.id, assistant_id=assistant.id, stream=True)
    else:
        stream = api(beta.threads.create_and_run, assistant_id=assistant.id, stream=True,
                     thread={"messages": [{"role": "user", "content": "Hi"}]})
    names = api.wait(_drain(stream))
    assert names[-1] == "thread.run.completed"
    run_span_checks(instrumented.spans())


async def _adrain(stream: Any) -> list[str]:
    return [event.event async for event in stream]


def _drain(stream: Any) -> Any:
    if hasattr(stream, "__aiter__"):
        return _adrain(stream)
    return [event.event for event in stream]


def test_function_calls_in_a_nested_stream(api: Any, instrumented: Any) -> None:
    """The SDK's documented pattern: submit tool outputs from the outer stream's handler."""
    assistant, thread = start(api, "function")
    runs = api.client.beta.threads.runs

    if api.kind == "sync":
        class Handler(AssistantEventHandler):
            def on_event(self, event: Any) -> None:
                if event.event == "thread.run.requires_action":
                    with runs.submit_tool_outputs_stream(thread_id=thread.id, run_id=event.data.id,
                                                         tool_outputs=outputs_for(event.data)) as inner:
                        inner.until_done()
        handler: Any = Handler()
    else:
        class AsyncHandler(AsyncAssistantEventHandler):
            async def on_event(self, event: Any) -> None:
                if event.event == "thread.run.requires_action":
                    async with runs.submit_tool_outputs_stream(thread_id=thread.id, run_id=event.data.id,
                                                               tool_outputs=outputs_for(event.data)) as inner:
                        await inner.until_done()
        handler = AsyncHandler()
    api.stream(runs.stream(thread_id=thread.id, assistant_id=assistant.id, event_handler=handler))
    spans = instrumented.spans()
    run_span_checks(spans)
    tool = one(spans, "execute_tool get_weather")
    assert attrs(tool)["assistants.tool.awaited_app"] is True


def test_submit_tool_outputs_stream_true(api: Any, instrumented: Any) -> None:
    assistant, thread = start(api, "function")
    runs = api.client.beta.threads.runs
    run = api(runs.create_and_poll, thread_id=thread.id, assistant_id=assistant.id)
    assert run.status == "requires_action"
    stream = api(runs.submit_tool_outputs, run_id=run.id, thread_id=thread.id, tool_outputs=outputs_for(run),
                 stream=True)
    assert api.wait(_drain(stream))[-1] == "thread.run.completed"
    spans = instrumented.spans()
    run_span_checks(spans)
    assert len(named(spans, "execute_tool get_weather")) == 1


@pytest.mark.parametrize("script,status,error", [("fail", "failed", "server_error"), ("expire", "expired", "expired"),
                                                 ("incomplete", "incomplete", "incomplete")])
def test_unsuccessful_runs_are_errors(api: Any, instrumented: Any, script: str, status: str, error: str) -> None:
    assistant, thread = start(api, script)
    run = api(api.client.beta.threads.runs.create_and_poll, thread_id=thread.id, assistant_id=assistant.id)
    assert run.status == status
    spans = instrumented.spans()
    assert_tree_is_sound(spans)
    span = one(spans, "invoke_agent")
    a = attrs(span)
    assert span.status.status_code == StatusCode.ERROR
    assert a["error.type"] == error
    assert a["assistants.run.status"] == status
    if script == "fail":
        assert a["assistants.run.last_error.code"] == "server_error"
        assert a["assistants.run.last_error.message"]
    if script == "incomplete":
        assert a["assistants.run.incomplete_details.reason"] == "max_completion_tokens"


def test_cancelled_run(api: Any, instrumented: Any) -> None:
    assistant, thread = start(api, "code_interpreter")
    runs = api.client.beta.threads.runs
    run = api(runs.create, thread_id=thread.id, assistant_id=assistant.id)
    api(runs.cancel, run.id, thread_id=thread.id)
    run = api(runs.poll, run.id, thread.id)
    assert run.status == "cancelled"
    span = one(instrumented.spans(), "invoke_agent")
    assert span.status.status_code == StatusCode.ERROR
    assert attrs(span)["error.type"] == "cancelled"


def test_parent_is_the_context_at_creation_and_run_span_is_not_left_current(api: Any, instrumented: Any) -> None:
    tracer = instrumented.tracer_provider.get_tracer("app")
    assistant, thread = start(api, "text")
    runs = api.client.beta.threads.runs
    with tracer.start_as_current_span("app request") as app_span:
        run = api(runs.create, thread_id=thread.id, assistant_id=assistant.id)
        assert trace.get_current_span() is app_span
    observed: dict[str, Any] = {}

    def observe_elsewhere() -> None:  # another thread polls the run to its end
        observed["run"] = api(runs.poll, run.id, thread.id) if api.kind == "sync" else None

    if api.kind == "sync":
        worker = threading.Thread(target=observe_elsewhere)
        worker.start()
        worker.join()
    else:
        observed["run"] = api(runs.poll, run.id, thread.id)
    assert observed["run"].status == "completed"
    spans = instrumented.spans()
    run_span = one(spans, "invoke_agent")
    assert run_span.parent.span_id == app_span.get_span_context().span_id
    assert run_span.start_time >= one(spans, "app request").start_time


def test_raw_and_streaming_response_wrappers(api: Any, instrumented: Any) -> None:
    assistant, thread = start(api, "code_interpreter")
    runs = api.client.beta.threads.runs
    raw = api(runs.with_raw_response.create, thread_id=thread.id, assistant_id=assistant.id)
    run = api.wait(raw.parse()) if api.kind == "async" else raw.parse()
    while run.status != "completed":
        if api.kind == "sync":
            with runs.with_streaming_response.retrieve(run.id, thread_id=thread.id) as response:
                run = response.parse()
        else:
            async def read(run_id: str) -> Any:
                async with runs.with_streaming_response.retrieve(run_id, thread_id=thread.id) as response:
                    return await response.parse()
            run = api.wait(read(run.id))
    run_span_checks(instrumented.spans())


def test_runs_not_created_here_make_no_span_unless_asked(api: Any, otel: Any, fake_api: Any) -> None:
    assistant, thread = start(api, "text")
    runs = api.client.beta.threads.runs
    run = api(runs.create, thread_id=thread.id, assistant_id=assistant.id)
    otel.instrument()
    api(runs.poll, run.id, thread.id)
    assert named(otel.spans(), "invoke_agent") == []
    otel.instrumentor.uninstrument()
    run = api(runs.create, thread_id=thread.id, assistant_id=assistant.id)
    otel.instrument(trace_observed_runs=True)
    api(runs.poll, run.id, thread.id)
    assert len(named(otel.spans(), "invoke_agent")) == 1


# --- issue 17 defect 10: an unsuccessful run shows its steps, whatever money needs -------------------

@pytest.mark.parametrize("fetch_steps", [True, False])
@pytest.mark.parametrize("ending", ["failed", "cancelled"])
def test_a_polled_run_ending_unsuccessfully_lists_its_steps(api: Any, otel: Any, fake_api: Any, ending: str,
                                                             fetch_steps: bool) -> None:
    """The run reports usage of zero tokens, which the steps seen (none) already add up to: money needs
    no listing, but the failed or cancelled step is what a user debugs with."""
    otel.instrument(fetch_steps=fetch_steps)
    plan = [Fail(in_step=True)] if ending == "failed" else [Code("print(1)")]
    fake_api.scripts["unsuccessful"] = Script(plan)
    assistant = api(api.client.beta.assistants.create, model="gpt-4o-mini", name="Helper",
                    tools=[{"type": "code_interpreter"}], metadata={"script": "unsuccessful"})
    thread = api(api.client.beta.threads.create, messages=[{"role": "user", "content": "Hello there"}])
    runs = api.client.beta.threads.runs
    if ending == "failed":
        run = api(runs.create_and_poll, thread_id=thread.id, assistant_id=assistant.id, poll_interval_ms=1)
    else:
        run = api(runs.create, thread_id=thread.id, assistant_id=assistant.id)
        api(runs.cancel, run.id, thread_id=thread.id)
        run = api(runs.poll, run.id, thread.id, poll_interval_ms=1)
    assert run.status == ending and (run.usage.prompt_tokens, run.usage.completion_tokens) == (0, 0)
    spans = otel.spans()
    steps = children(spans, one(spans, "invoke_agent"))
    listed = points(otel, "openai_cost.fetches", **{"openai_cost.fetch.kind": "steps"})
    if not fetch_steps:
        assert steps == [] and listed == []
        return
    assert [p.value for p in listed] == [1]
    assert all(attrs(s)["assistants.step.status"] == ending and s.status.status_code == StatusCode.ERROR
               for s in steps)
    if ending == "failed":  # the failing step, with its last_error (a cancelled one may not have begun one)
        assert [s.status.description for s in steps] == ["Sorry, something went wrong."]
