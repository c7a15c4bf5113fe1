"""The fake Assistants API, driven by the real openai SDK (sync and async) over real HTTP."""

from __future__ import annotations

import inspect
from typing import Any, Callable, List, Optional

import openai
import pytest
from openai import AssistantEventHandler, AsyncAssistantEventHandler
from sdk import http

from openai_fake_api import Code, Fail, FakeAssistantsAPI, Function, Say, Script, Tools
from openai_fake_api.pytest_plugin import make_client


@pytest.fixture(params=["sync", "async"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def client(fake_api: FakeAssistantsAPI, kind: str) -> Any:
    return make_client(fake_api, kind, max_retries=2)


async def call(value: Any) -> Any:
    """The same test body for both clients: await what the async client returns."""
    return await value if inspect.isawaitable(value) else value


async def collect(pager: Any) -> List[Any]:
    """Every item of an auto-paginating list, for both clients."""
    if hasattr(pager, "__aiter__"):
        return [item async for item in pager]
    return list(pager)


def make_handler(kind: str, on_action: Optional[Callable[[Any], Any]] = None) -> Any:
    """An event handler recording raw event names; ``on_action`` runs at ``thread.run.requires_action``."""
    if kind == "sync":

        class Sync(AssistantEventHandler):
            names: List[str]

            def on_event(self, event: Any) -> None:
                self.names.append(event.event)
                if event.event == "thread.run.requires_action" and on_action is not None:
                    on_action(event.data)

        handler: Any = Sync()
    else:

        class Async(AsyncAssistantEventHandler):
            names: List[str]

            async def on_event(self, event: Any) -> None:
                self.names.append(event.event)
                if event.event == "thread.run.requires_action" and on_action is not None:
                    await on_action(event.data)

        handler = Async()
    handler.names = []
    return handler


async def consume(manager: Any) -> Any:
    """Enter a stream manager, read the stream to its end, return the handler."""
    if hasattr(manager, "__aenter__"):
        async with manager as stream:
            await stream.until_done()
            return stream
    with manager as stream:
        stream.until_done()
        return stream


def squeeze(names: List[str]) -> List[str]:
    """Event names with runs of the same delta event collapsed, to compare orders."""
    out: List[str] = []
    for name in names:
        if not (out and out[-1] == name and name.endswith(".delta")):
            out.append(name)
    return out


async def setup_thread(client: Any, script: str, text: str = "Hello") -> Any:
    tools = [{"type": "code_interpreter"}, {"type": "function", "function": {"name": "get_weather"}}]
    assistant = await call(
        client.beta.assistants.create(model="gpt-4o", name="Test1", tools=tools, metadata={"script": script})
    )
    thread = await call(client.beta.threads.create(messages=[{"role": "user", "content": text}]))
    return assistant, thread


async def test_objects_crud(client: Any, fake_api: FakeAssistantsAPI) -> None:
    assistant, thread = await setup_thread(client, "text")
    raw = await call(client.beta.assistants.with_raw_response.retrieve(assistant.id))
    assert raw.headers["openai-poll-after-ms"] == "5"
    assert raw.headers["x-request-id"].startswith("req_")
    updated = await call(
        client.beta.assistants.update(assistant.id, name="Renamed", instructions="Be brief.")
    )
    assert (updated.name, updated.instructions, updated.model) == ("Renamed", "Be brief.", "gpt-4o")
    assert [a.id for a in await collect(client.beta.assistants.list())] == [assistant.id]

    assert (await call(client.beta.threads.retrieve(thread.id))).id == thread.id
    thread = await call(client.beta.threads.update(thread.id, metadata={"user": "u1"}))
    assert thread.metadata == {"user": "u1"}
    message = await call(client.beta.threads.messages.create(thread.id, role="user", content="More"))
    assert message.content[0].text.value == "More"
    assert message.run_id is None
    got = await call(client.beta.threads.messages.retrieve(message.id, thread_id=thread.id))
    assert got.id == message.id
    await call(client.beta.threads.messages.update(message.id, thread_id=thread.id, metadata={"k": "v"}))
    deleted = await call(client.beta.threads.messages.delete(message.id, thread_id=thread.id))
    assert deleted.deleted
    assert len(await collect(client.beta.threads.messages.list(thread.id))) == 1

    assert (await call(client.beta.threads.delete(thread.id))).deleted
    assert (await call(client.beta.assistants.delete(assistant.id))).deleted
    with pytest.raises(openai.NotFoundError):
        await call(client.beta.threads.retrieve(thread.id))


# script -> final status, step types in order, content types of the assistant's messages (oldest first)
POLL_CASES = {
    "text": ("completed", ["message_creation"], [["text"]]),
    "code_interpreter": ("completed", ["tool_calls", "message_creation"], [["text"]]),
    "code_interpreter_multi": ("completed", ["tool_calls", "message_creation"], [["image_file", "text"]]),
    "function": ("completed", ["tool_calls", "message_creation"], [["text"]]),
    "function_twice": ("completed", ["tool_calls", "tool_calls", "message_creation"], [["text"]]),
    "file_search": ("completed", ["tool_calls", "message_creation"], [["text"]]),
    "fail": ("failed", ["tool_calls"], []),
    "expire": ("expired", ["tool_calls"], []),
    "incomplete": ("incomplete", ["message_creation"], [["text"]]),
    "seed": ("completed", ["tool_calls", "message_creation"], [["text"]]),
}


@pytest.mark.parametrize("script", sorted(POLL_CASES))
async def test_create_and_poll_scripts(client: Any, fake_api: FakeAssistantsAPI, script: str) -> None:
    status, step_types, message_parts = POLL_CASES[script]
    assistant, thread = await setup_thread(client, script)
    runs = client.beta.threads.runs
    run = await call(runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id))
    submitted = 0
    while run.status == "requires_action":
        calls = run.required_action.submit_tool_outputs.tool_calls
        outputs = [{"tool_call_id": c.id, "output": f"out{submitted}"} for c in calls]
        submitted += 1
        run = await call(
            runs.submit_tool_outputs_and_poll(thread_id=thread.id, run_id=run.id, tool_outputs=outputs)
        )
    assert run.status == status
    assert submitted == sum(t == "tool_calls" for t in step_types) * script.startswith("function")
    steps = await collect(runs.steps.list(run.id, thread_id=thread.id, order="asc"))
    assert [s.type for s in steps] == step_types
    assert all(s.status == "completed" and s.completed_at is not None for s in steps)
    assert run.usage is not None
    assert run.usage.prompt_tokens == sum(s.usage.prompt_tokens for s in steps)
    assert run.usage.completion_tokens == sum(s.usage.completion_tokens for s in steps)
    messages = await collect(client.beta.threads.messages.list(thread.id, order="asc"))
    written = [m for m in messages if m.role == "assistant"]
    assert [[p.type for p in m.content] for m in written] == message_parts
    assert all(m.run_id == run.id and m.assistant_id == assistant.id for m in written)
    assert (run.started_at is not None and run.expires_at is None) or status == "expired"
    if status == "failed":
        assert run.last_error.code == "server_error" and run.failed_at is not None
    if status == "incomplete":
        assert run.incomplete_details.reason == "max_completion_tokens"
        assert written[0].status == "incomplete"
    if script.startswith("function"):
        outputs = [
            c.function.output for s in steps if s.type == "tool_calls" for c in s.step_details.tool_calls
        ]
        assert outputs == [f"out{i}" for i in range(submitted)]
    if script == "seed":
        assert (run.usage.prompt_tokens, run.usage.completion_tokens) == (288, 47)
        code = steps[0].step_details.tool_calls[0].code_interpreter
        assert [o.type for o in code.outputs] == ["logs"]


async def test_polling_moves_one_transition_per_read(client: Any, fake_api: FakeAssistantsAPI) -> None:
    assistant, thread = await setup_thread(client, "code_interpreter")
    run = await call(client.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant.id))
    assert run.status == "queued" and run.expires_at == run.created_at + 600
    seen = []
    while run.status not in ("completed", "failed"):
        run = await call(client.beta.threads.runs.retrieve(run.id, thread_id=thread.id))
        seen.append(run.status)
    # in_progress, tool step created/completed, message step created/completed, completed
    assert seen == ["in_progress"] * 5 + ["completed"]
    assert fake_api.count("GET", rf"/runs/{run.id}$") == 6


async def test_stream_events_in_order(client: Any, fake_api: FakeAssistantsAPI, kind: str) -> None:
    assistant, thread = await setup_thread(client, "code_interpreter")
    handler = make_handler(kind)
    manager = client.beta.threads.runs.stream(
        thread_id=thread.id, assistant_id=assistant.id, event_handler=handler
    )
    stream = await consume(manager)
    step = ["thread.run.step.created", "thread.run.step.in_progress", "thread.run.step.delta"]
    message = ["thread.message.created", "thread.message.in_progress", "thread.message.delta"]
    assert squeeze(handler.names) == [
        "thread.run.created",
        "thread.run.queued",
        "thread.run.in_progress",
        *step,
        "thread.run.step.completed",
        "thread.run.step.created",
        "thread.run.step.in_progress",
        *message,
        "thread.message.completed",
        "thread.run.step.completed",
        "thread.run.completed",
    ]
    run = await call(stream.get_final_run())
    assert run.status == "completed" and run.usage.total_tokens > 0
    messages = await call(stream.get_final_messages())
    assert messages[0].content[0].text.value == "The result of 2 + 2 is 4."
    snapshot = (await call(stream.get_final_run_steps()))[0].step_details.tool_calls[0]
    assert snapshot.code_interpreter.input == "print(2 + 2)"
    assert [o.logs for o in snapshot.code_interpreter.outputs] == ["4\n"]


async def test_create_and_run_stream(client: Any, fake_api: FakeAssistantsAPI, kind: str) -> None:
    assistant, _ = await setup_thread(client, "code_interpreter_multi")
    handler = make_handler(kind)
    manager = client.beta.threads.create_and_run_stream(
        assistant_id=assistant.id,
        thread={"messages": [{"role": "user", "content": "Plot"}]},
        event_handler=handler,
    )
    stream = await consume(manager)
    assert handler.names[:3] == ["thread.created", "thread.run.created", "thread.run.queued"]
    assert handler.names[-1] == "thread.run.completed"
    run = await call(stream.get_final_run())
    steps = await collect(client.beta.threads.runs.steps.list(run.id, thread_id=run.thread_id))
    calls = steps[-1].step_details.tool_calls
    assert [[o.type for o in c.code_interpreter.outputs] for c in calls] == [["logs", "logs"], ["image"]]


async def test_function_calling_stream_inside_stream(
    client: Any, fake_api: FakeAssistantsAPI, kind: str
) -> None:
    assistant, thread = await setup_thread(client, "function")
    inner: List[Any] = []

    def submit(run: Any) -> Any:
        handler = make_handler(kind)
        inner.append(handler)
        outputs = [
            {"tool_call_id": c.id, "output": "sunny"}
            for c in run.required_action.submit_tool_outputs.tool_calls
        ]
        manager = client.beta.threads.runs.submit_tool_outputs_stream(
            thread_id=run.thread_id, run_id=run.id, tool_outputs=outputs, event_handler=handler
        )
        if kind == "sync":
            with manager as stream:
                stream.until_done()
            return None
        return consume(manager)

    outer = make_handler(kind, on_action=submit)
    manager = client.beta.threads.runs.stream(
        thread_id=thread.id, assistant_id=assistant.id, event_handler=outer
    )
    await consume(manager)
    assert outer.names[-1] == "thread.run.requires_action"
    assert len(inner) == 1
    assert inner[0].names[:2] == ["thread.run.queued", "thread.run.in_progress"]
    assert inner[0].names[-1] == "thread.run.completed"
    runs = await collect(client.beta.threads.runs.list(thread.id))
    assert [r.status for r in runs] == ["completed"]
    steps = await collect(client.beta.threads.runs.steps.list(runs[0].id, thread_id=thread.id, order="asc"))
    assert steps[0].step_details.tool_calls[0].function.output == "sunny"


async def test_list_pagination(client: Any, fake_api: FakeAssistantsAPI) -> None:
    _, thread = await setup_thread(client, "text", text="m0")
    for i in range(1, 5):
        await call(client.beta.threads.messages.create(thread.id, role="user", content=f"m{i}"))
    messages = client.beta.threads.messages
    first = await call(messages.list(thread.id, limit=2, order="asc"))
    assert [m.content[0].text.value for m in first.data] == ["m0", "m1"]
    assert first.has_more and first.first_id == first.data[0].id and first.last_id == first.data[1].id
    after = await call(messages.list(thread.id, limit=2, order="asc", after=first.last_id))
    assert [m.content[0].text.value for m in after.data] == ["m2", "m3"]
    before = await call(messages.list(thread.id, limit=2, order="asc", before=after.data[1].id))
    assert [m.content[0].text.value for m in before.data] == ["m1", "m2"]
    newest = await call(messages.list(thread.id, limit=1))
    assert newest.data[0].content[0].text.value == "m4"
    start = len(fake_api.requests)
    everything = await collect(messages.list(thread.id, limit=2))
    assert [m.content[0].text.value for m in everything] == ["m4", "m3", "m2", "m1", "m0"]
    assert len(fake_api.requests) - start == 3


async def test_unknown_ids_and_fields(client: Any, fake_api: FakeAssistantsAPI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        await call(client.beta.assistants.retrieve("asst_missing"))
    assert caught.value.body == {
        "message": "No assistant found with id 'asst_missing'.",
        "type": "invalid_request_error",
        "param": None,
        "code": None,
    }
    _, thread = await setup_thread(client, "text")
    with pytest.raises(openai.NotFoundError):
        await call(client.beta.threads.runs.retrieve("run_missing", thread_id=thread.id))
    with pytest.raises(openai.BadRequestError):
        await call(client.beta.threads.create(extra_body={"bogus": 1}))


async def test_rate_limit_is_retried(client: Any, fake_api: FakeAssistantsAPI) -> None:
    fake_api.faults.add(r"/assistants$", "429", count=2, method="POST")
    assistant = await call(client.beta.assistants.create(model="gpt-4o"))
    assert assistant.model == "gpt-4o"
    assert fake_api.count("POST", r"/assistants$") == 3


async def test_server_error_after_retries(fake_api: FakeAssistantsAPI, kind: str) -> None:
    client = make_client(fake_api, kind, max_retries=1)
    fake_api.faults.add(r"/threads$", "500", count=None)
    with pytest.raises(openai.InternalServerError):
        await call(client.beta.threads.create())
    assert fake_api.count("POST", r"/threads$") == 2


async def test_delay_causes_timeout(fake_api: FakeAssistantsAPI, kind: str) -> None:
    client = make_client(fake_api, kind, max_retries=0, timeout=0.05)
    fake_api.faults.add(r"/threads$", "delay", seconds=0.5)
    with pytest.raises(openai.APITimeoutError):
        await call(client.beta.threads.create())


async def test_reset_mid_stream_raises(client: Any, fake_api: FakeAssistantsAPI, kind: str) -> None:
    assistant, thread = await setup_thread(client, "code_interpreter")
    fake_api.faults.add(r"/runs$", "reset", after_events=4)
    handler = make_handler(kind)
    manager = client.beta.threads.runs.stream(
        thread_id=thread.id, assistant_id=assistant.id, event_handler=handler
    )
    # The stream helpers re-raise the transport error itself (httpx2; httpx in openai 2.x), not
    # openai.APIConnectionError.
    with pytest.raises((openai.APIConnectionError, http.RequestError)):
        await consume(manager)
    assert handler.names == [
        "thread.run.created",
        "thread.run.queued",
        "thread.run.in_progress",
        "thread.run.step.created",
    ]


async def test_weird_payloads_skip_validation(client: Any, fake_api: FakeAssistantsAPI) -> None:
    assistant, thread = await setup_thread(client, "code_interpreter")
    run = await call(client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id))
    fake_api.faults.add(r"/steps$", "legacy_code_tool")
    steps = await call(client.beta.threads.runs.steps.list(run.id, thread_id=thread.id, order="asc"))
    legacy = steps.data[0].step_details.tool_calls[0]
    assert legacy.type == "code"
    assert legacy.to_dict()["code"]["input"] == "print(2 + 2)"
    fake_api.faults.add(r"/runs/", "status_paused")
    assert (await call(client.beta.threads.runs.retrieve(run.id, thread_id=thread.id))).status == "paused"
    fake_api.faults.add(r"/runs/", "usage_null")
    assert (await call(client.beta.threads.runs.retrieve(run.id, thread_id=thread.id))).usage is None
    fake_api.faults.add(r"/runs/", "missing_optional")
    raw = await call(client.beta.threads.runs.with_raw_response.retrieve(run.id, thread_id=thread.id))
    assert "failed_at" not in raw.http_response.json()
    fake_api.faults.add(r"/steps$", "unknown_tool_type")
    steps = await call(client.beta.threads.runs.steps.list(run.id, thread_id=thread.id, order="asc"))
    assert steps.data[0].step_details.tool_calls[0].type == "browser"
    assert fake_api.validation_errors == []


async def test_invalid_payload_is_caught(client: Any, fake_api: FakeAssistantsAPI) -> None:
    fake_api.scripts["bad"] = [Fail(code="not_a_real_code", message="x")]
    assistant, thread = await setup_thread(client, "bad")
    with pytest.raises(openai.InternalServerError):
        await call(client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id))
    assert any("last_error.code" in problem for problem in fake_api.validation_errors)
    fake_api.validation_errors.clear()


async def test_clock_usage_and_custom_script(client: Any, fake_api: FakeAssistantsAPI) -> None:
    fake_api.clock.set(1_700_000_000)
    fake_api.scripts["parallel"] = Script(
        [
            Tools([Function("a", "{}"), Function("b", '{"x": 1}')], usage=(300, 20)),
            Code("print(1)", logs=["1\n"], usage=(330, 10)),
            Say("Done.", usage=(350, 5)),
        ]
    )
    assistant, thread = await setup_thread(client, "parallel")
    runs = client.beta.threads.runs
    run = await call(runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id))
    calls = run.required_action.submit_tool_outputs.tool_calls
    assert [c.function.name for c in calls] == ["a", "b"]
    outputs = [{"tool_call_id": c.id, "output": c.function.name} for c in calls]
    run = await call(
        runs.submit_tool_outputs_and_poll(thread_id=thread.id, run_id=run.id, tool_outputs=outputs)
    )
    assert run.status == "completed"
    assert (run.usage.prompt_tokens, run.usage.completion_tokens) == (980, 35)
    assert run.created_at == 1_700_000_000

    fake_api.clock.advance(61 * 60)
    fake_api.report_usage = False
    later = await call(
        runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id, metadata={"script": "text"})
    )
    assert later.created_at - run.created_at == 61 * 60
    assert later.usage is None
    steps = await collect(runs.steps.list(later.id, thread_id=thread.id))
    assert [s.usage for s in steps] == [None]


async def test_cancel(client: Any, fake_api: FakeAssistantsAPI) -> None:
    assistant, thread = await setup_thread(client, "function")
    runs = client.beta.threads.runs
    run = await call(runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id))
    assert run.status == "requires_action"
    cancelling = await call(runs.cancel(run.id, thread_id=thread.id))
    assert cancelling.status == "cancelling"
    run = await call(runs.poll(run.id, thread_id=thread.id))
    assert run.status == "cancelled" and run.cancelled_at is not None
    steps = await collect(runs.steps.list(run.id, thread_id=thread.id))
    assert [s.status for s in steps] == ["cancelled"]
    with pytest.raises(openai.BadRequestError):
        await call(runs.cancel(run.id, thread_id=thread.id))


async def test_stream_is_incremental(client: Any, fake_api: FakeAssistantsAPI, kind: str) -> None:
    """The server plays the run while it streams: at the first event the run has not ended yet."""
    fake_api.event_delay_s = 0.02
    assistant, thread = await setup_thread(client, "text")
    statuses: List[str] = []

    def peek(run: Any) -> None:
        statuses.append(fake_api.world.runs.get(run.id)["status"])

    handler = make_handler(kind)
    manager = client.beta.threads.runs.stream(
        thread_id=thread.id, assistant_id=assistant.id, event_handler=handler
    )
    if kind == "sync":
        with manager as stream:
            for event in stream:
                peek(event.data) if event.event == "thread.run.created" else None
    else:
        async with manager as stream:
            async for event in stream:
                peek(event.data) if event.event == "thread.run.created" else None
    assert statuses == ["queued"]


async def test_waiting_run_expires_when_the_clock_passes_expires_at(
    client: Any, fake_api: FakeAssistantsAPI
) -> None:
    assistant, thread = await setup_thread(client, "function")
    runs = client.beta.threads.runs
    run = await call(runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id))
    assert run.status == "requires_action"
    fake_api.clock.advance(601)
    run = await call(runs.retrieve(run.id, thread_id=thread.id))
    assert run.status == "expired" and run.expires_at is not None
    steps = await collect(runs.steps.list(run.id, thread_id=thread.id))
    assert [(s.status, s.expired_at is not None) for s in steps] == [("expired", True)]
    with pytest.raises(openai.BadRequestError):
        await call(runs.submit_tool_outputs(run.id, thread_id=thread.id, tool_outputs=[]))
