"""The fake Responses, Conversations and Containers APIs, driven by the real openai SDK (sync and async)
over real HTTP; the ``fake_api`` fixture fails a test whose payloads the SDK's models reject."""

from __future__ import annotations

import threading
from typing import Any, List

import openai
import pytest
from sdk import STREAM_RESET_ERROR, field
from test_fakeapi import call, collect

from openai_fake_api import FakeAssistantsAPI
from openai_fake_api.pytest_plugin import make_client
from openai_fake_api.responses_scripts import (
    BUILTIN_RESPONSE_SCRIPTS,
    CodeCall,
    ResponseScript,
    Text,
    Usage,
    WebSearch,
)

CI_AUTO = {"type": "code_interpreter", "container": {"type": "auto"}}


@pytest.fixture(params=["sync", "async"])
def client(request: pytest.FixtureRequest, fake_api: FakeAssistantsAPI) -> Any:
    return make_client(fake_api, request.param, max_retries=2)


async def create(client: Any, script: str = "text", **params: Any) -> Any:
    params.setdefault("model", "gpt-5.4")
    params.setdefault("input", "Hello")
    return await call(client.responses.create(metadata={"script": script}, **params))


async def events(stream: Any) -> List[Any]:
    """Every event of a ``Stream``/``AsyncStream`` of response events."""
    if hasattr(stream, "__aiter__"):
        return [event async for event in stream]
    return list(stream)


def squeeze(types: List[str]) -> List[str]:
    out: List[str] = []
    for name in types:
        if not (out and out[-1] == name and name.endswith(".delta")):
            out.append(name)
    return out


async def test_json_response_with_every_item_type_and_usage(client: Any) -> None:
    response = await create(
        client,
        "every_tool",
        tools=[CI_AUTO, {"type": "web_search"}],
        include=["code_interpreter_call.outputs", "file_search_call.results"],
    )
    assert response.status == "completed"
    assert [item.type for item in response.output] == [
        "reasoning",
        "code_interpreter_call",
        "web_search_call",
        "web_search_call",
        "file_search_call",
        "image_generation_call",
        "mcp_list_tools",
        "mcp_call",
        "shell_call",
        "message",
    ]
    code = response.output[1]
    assert code.container_id.startswith("cntr_") and code.outputs[0].logs == "42\n"
    assert [item.action.type for item in response.output[2:4]] == ["search", "open_page"]
    assert len(response.output[4].results) == 2
    assert response.output[8].environment.container_id == code.container_id
    usage = response.usage
    assert (usage.input_tokens, usage.output_tokens, usage.total_tokens) == (9000, 400, 9400)
    assert usage.input_tokens_details.cached_tokens == 1000
    assert usage.output_tokens_details.reasoning_tokens == 150
    assert field(response, "tool_usage", "web_search", "num_requests") == 1
    image_gen = field(response, "tool_usage", "image_gen")
    assert (field(image_gen, "input_tokens"), field(image_gen, "output_tokens")) == (40, 1056)
    assert response.service_tier == "default"


async def test_outputs_and_results_only_when_included(client: Any) -> None:
    response = await create(client, "every_tool", tools=[CI_AUTO])
    assert response.output[1].outputs is None
    assert response.output[4].results is None


async def test_cache_write_details_and_served_tier(client: Any, fake_api: FakeAssistantsAPI) -> None:
    response = await create(client, "cached", service_tier="priority")
    details = response.usage.input_tokens_details
    assert (details.cached_tokens, details.cache_write_tokens) == (1200, 500)
    written = field(details, "cache_write_tokens_details")
    assert (field(written, "ttl_30m_tokens"), field(written, "ttl_12h_tokens")) == (400, 100)
    assert response.service_tier == "priority"
    fake_api.response_scripts["downgraded"] = ResponseScript([Text("ok")], served_tier="default")
    assert (await create(client, "downgraded", service_tier="priority")).service_tier == "default"


async def test_usage_off_and_derived(client: Any, fake_api: FakeAssistantsAPI) -> None:
    fake_api.response_scripts["quiet"] = ResponseScript([Text("ok")], report_usage=False)
    quiet = await create(client, "quiet")
    assert quiet.usage is None and quiet.tool_usage is None
    fake_api.response_scripts["derived"] = [Text("one two three")]
    derived = await create(client, "derived", input="a b c d", instructions="be brief")
    assert (derived.usage.input_tokens, derived.usage.output_tokens) == (4 + 2 + 20, 3 + 2)
    counted = await call(client.responses.input_tokens.count(model="gpt-5.4", input="a b c d", instructions="be brief"))
    assert counted.input_tokens == derived.usage.input_tokens


async def test_stream_has_the_real_event_sequence(client: Any) -> None:
    stream = await create(client, "code_interpreter", tools=[CI_AUTO], stream=True)
    got = await events(stream)
    assert [e.sequence_number for e in got] == list(range(len(got)))
    assert squeeze([e.type for e in got]) == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.code_interpreter_call.in_progress",
        "response.code_interpreter_call_code.delta",
        "response.code_interpreter_call_code.done",
        "response.code_interpreter_call.interpreting",
        "response.code_interpreter_call.completed",
        "response.output_item.done",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert got[0].response.status == "in_progress" and got[0].response.usage is None
    assert got[-1].response.usage.input_tokens == 300


@pytest.mark.parametrize(
    ("script", "family"),
    [
        ("web_search", "response.web_search_call."),
        ("file_search", "response.file_search_call."),
        ("image", "response.image_generation_call."),
        ("mcp", "response.mcp_call"),
    ],
)
async def test_stream_tool_events(client: Any, script: str, family: str) -> None:
    got = await events(await create(client, script, stream=True))
    assert any(e.type.startswith(family) for e in got)
    assert got[-1].type == "response.completed"


async def test_stream_helper_final_response(client: Any) -> None:
    manager = client.responses.stream(model="gpt-5.4", input="x", metadata={"script": "function"})
    if hasattr(manager, "__aenter__"):
        async with manager as stream:
            final = await stream.get_final_response()
    else:
        with manager as stream:
            final = stream.get_final_response()
    assert final.output[0].type == "function_call" and final.output[0].arguments == '{"city": "Paris"}'


async def test_failed_and_incomplete(client: Any) -> None:
    failed = await create(client, "fail", tools=[CI_AUTO])
    assert failed.status == "failed" and failed.error.code == "server_error"
    assert failed.usage.input_tokens == 200
    got = await events(await create(client, "incomplete", stream=True))
    assert got[-1].type == "response.incomplete"
    assert got[-1].response.incomplete_details.reason == "max_output_tokens"


async def test_unknown_item_type_passes_through(client: Any) -> None:
    response = await create(client, "unknown")
    assert response.output[0].type == "hologram_call"
    assert response.output[1].type == "message"


async def test_background_moves_on_as_polled(client: Any) -> None:
    response = await create(client, background=True)
    assert (response.status, response.background, response.usage) == ("queued", True, None)
    statuses = []
    while response.status in ("queued", "in_progress"):
        response = await call(client.responses.retrieve(response.id))
        statuses.append(response.status)
    assert statuses == ["in_progress", "completed"]
    assert response.usage.total_tokens > 0


async def test_background_waits_on_the_fake_clock(client: Any, fake_api: FakeAssistantsAPI) -> None:
    fake_api.clock.set(1_796_000_000)
    fake_api.response_scripts["slow"] = ResponseScript([Text("done")], queued_s=30, work_s=60)
    response = await create(client, "slow", background=True)
    assert (await call(client.responses.retrieve(response.id))).status == "queued"
    fake_api.clock.advance(30)
    assert (await call(client.responses.retrieve(response.id))).status == "in_progress"
    assert (await call(client.responses.retrieve(response.id))).status == "in_progress"
    fake_api.clock.advance(60)
    assert (await call(client.responses.retrieve(response.id))).status == "completed"


async def test_background_stream_resumes_starting_after(client: Any) -> None:
    first = await events(await create(client, "code_interpreter", tools=[CI_AUTO], background=True, stream=True))
    assert [e.type for e in first[:3]] == ["response.created", "response.queued", "response.in_progress"]
    response_id = first[0].response.id
    again = await events(await call(client.responses.retrieve(response_id, stream=True, starting_after=5)))
    assert [e.sequence_number for e in again] == [e.sequence_number for e in first[6:]]
    assert again[-1].response.usage.input_tokens == 300


async def test_stream_cut_then_resumed(client: Any, fake_api: FakeAssistantsAPI) -> None:
    fake_api.faults.add(r"/responses$", "reset", after_events=4)
    seen: List[Any] = []
    with pytest.raises((openai.APIError, STREAM_RESET_ERROR)):
        stream = await create(client, "long", background=True, stream=True)
        if hasattr(stream, "__aiter__"):
            async for event in stream:
                seen.append(event)
        else:
            seen.extend(stream)
    assert len(seen) == 4
    resumed = await events(
        await call(client.responses.retrieve(seen[0].response.id, stream=True, starting_after=seen[-1].sequence_number))
    )
    assert resumed[0].sequence_number == 4 and resumed[-1].type == "response.completed"


async def test_cancel_background_only(client: Any) -> None:
    response = await create(client, background=True)
    cancelled = await call(client.responses.cancel(response.id))
    assert (cancelled.status, cancelled.usage) == ("cancelled", None)
    assert (await call(client.responses.retrieve(response.id))).status == "cancelled"
    plain = await create(client)
    with pytest.raises(openai.BadRequestError):
        await call(client.responses.cancel(plain.id))


async def test_rate_limit_and_server_error(client: Any, fake_api: FakeAssistantsAPI) -> None:
    fake_api.faults.add(r"/responses$", "429", count=1)
    fake_api.faults.add(r"/responses$", "500", count=1)
    response = await create(client)  # the client retries both
    assert response.status == "completed"
    assert fake_api.count("POST", r"/responses$") == 3


async def test_function_call_loop(client: Any) -> None:
    first = await create(client, "function", tools=[{"type": "function", "name": "get_weather"}])
    call_item = first.output[0]
    assert call_item.type == "function_call" and first.usage.input_tokens == 120
    output = {"type": "function_call_output", "call_id": call_item.call_id, "output": "sunny"}
    second = await call(client.responses.create(model="gpt-5.4", previous_response_id=first.id, input=[output]))
    assert second.previous_response_id == first.id
    assert second.output_text == "It is sunny in Paris." and second.usage.input_tokens == 160
    items = await collect(client.responses.input_items.list(second.id))
    assert [(i.type, i.call_id) for i in items] == [("function_call_output", call_item.call_id)]


async def test_mcp_approval_loop(client: Any) -> None:
    first = await create(client, "mcp_approval")
    request = first.output[1]
    assert request.type == "mcp_approval_request"
    answer = {"type": "mcp_approval_response", "approval_request_id": request.id, "approve": True}
    second = await call(client.responses.create(model="gpt-5.4", previous_response_id=first.id, input=[answer]))
    assert [i.type for i in second.output] == ["mcp_call", "message"]


async def test_delete_and_compact(client: Any) -> None:
    response = await create(client)
    assert await call(client.responses.delete(response.id)) is None
    with pytest.raises(openai.NotFoundError):
        await call(client.responses.retrieve(response.id))
    compacted = await call(client.responses.compact(model="gpt-5.4", input="a b c"))
    assert compacted.output[0].type == "compaction" and compacted.usage.input_tokens == 23


async def test_conversation_collects_responses(client: Any) -> None:
    conversation = await call(client.conversations.create(metadata={"user": "u1"}))
    first = await create(client, conversation=conversation.id, input="one")
    second = await create(client, conversation={"id": conversation.id}, input="two")
    assert first.conversation.id == second.conversation.id == conversation.id
    items = await collect(client.conversations.items.list(conversation.id, order="asc"))
    assert [(i.type, i.role) for i in items] == [("message", "user"), ("message", "assistant")] * 2
    added = await call(
        client.conversations.items.create(conversation.id, items=[{"role": "user", "content": "three"}])
    )
    got = await call(client.conversations.items.retrieve(added.data[0].id, conversation_id=conversation.id))
    assert got.content[0].text == "three"
    await call(client.conversations.items.delete(got.id, conversation_id=conversation.id))
    assert len(await collect(client.conversations.items.list(conversation.id))) == 4
    updated = await call(client.conversations.update(conversation.id, metadata={"user": "u2"}))
    assert updated.metadata == {"user": "u2"}
    assert (await call(client.conversations.delete(conversation.id))).deleted


async def test_conversation_inherits_the_script(client: Any) -> None:
    conversation = await call(client.conversations.create())
    first = await create(client, "function", conversation=conversation.id)
    output = {"type": "function_call_output", "call_id": first.output[0].call_id, "output": "sunny"}
    second = await call(client.responses.create(model="gpt-5.4", conversation=conversation.id, input=[output]))
    assert second.output_text == "It is sunny in Paris."


async def test_auto_container_reused_along_a_chain(client: Any) -> None:
    first = await create(client, "code_interpreter", tools=[CI_AUTO])
    second = await create(client, "code_interpreter", tools=[CI_AUTO], previous_response_id=first.id)
    third = await create(client, "code_interpreter", tools=[CI_AUTO])
    assert first.output[0].container_id == second.output[0].container_id
    assert third.output[0].container_id != first.output[0].container_id


async def test_auto_container_opened_without_a_call(client: Any, fake_api: FakeAssistantsAPI) -> None:
    fake_api.response_scripts["idle"] = ResponseScript([Text("No code needed.")], open_container=True)
    memory = {"type": "code_interpreter", "container": {"type": "auto", "memory_limit": "4g"}}
    response = await create(client, "idle", tools=[memory])
    assert all(item.type != "code_interpreter_call" for item in response.output)
    containers = await collect(client.containers.list())
    assert [(c.name, c.memory_limit) for c in containers] == [("auto", "4g")]


async def test_containers_life_on_the_fake_clock(client: Any, fake_api: FakeAssistantsAPI) -> None:
    fake_api.clock.set(1_796_000_000)  # frozen: only ``advance`` moves it
    container = await call(
        client.containers.create(
            name="work", memory_limit="4g", expires_after={"anchor": "last_active_at", "minutes": 5}
        )
    )
    assert (container.status, container.memory_limit, container.expires_after.minutes) == ("running", "4g", 5)
    fake_api.clock.advance(120)
    tool = {"type": "code_interpreter", "container": container.id}
    response = await create(client, "code_interpreter", tools=[tool])
    assert response.output[0].container_id == container.id
    used = await call(client.containers.retrieve(container.id))
    assert used.last_active_at == container.last_active_at + 120
    fake_api.clock.advance(5 * 60)
    assert (await call(client.containers.retrieve(container.id))).status == "expired"
    with pytest.raises(openai.BadRequestError):
        await create(client, "code_interpreter", tools=[tool])
    assert [c.id for c in await collect(client.containers.list())] == [container.id]
    assert await call(client.containers.delete(container.id)) is None
    with pytest.raises(openai.NotFoundError):
        await call(client.containers.retrieve(container.id))


async def test_container_files(client: Any, fake_api: FakeAssistantsAPI) -> None:
    container = await call(client.containers.create(name="files"))
    uploaded = await call(client.containers.files.create(container.id, file=("data.csv", b"a,b\n1,2\n")))
    assert (uploaded.path, uploaded.bytes, uploaded.source) == ("/mnt/data/data.csv", 8, "user")
    content = await call(client.containers.files.content.retrieve(uploaded.id, container_id=container.id))
    assert content.content == b"a,b\n1,2\n"
    fake_api.response_scripts["plot"] = [CodeCall("plot()", files=["plot.png"]), Text("Plotted.")]
    await create(client, "plot", tools=[{"type": "code_interpreter", "container": container.id}])
    files = await collect(client.containers.files.list(container.id, order="asc"))
    assert [(f.path, f.source) for f in files] == [("/mnt/data/data.csv", "user"), ("/mnt/data/plot.png", "assistant")]
    got = await call(client.containers.files.retrieve(files[1].id, container_id=container.id))
    assert got.id == files[1].id
    assert await call(client.containers.files.delete(files[1].id, container_id=container.id)) is None


async def test_background_polled_from_another_thread(fake_api: FakeAssistantsAPI) -> None:
    sdk = openai.OpenAI(base_url=fake_api.base_url, api_key="sk-test")
    response = sdk.responses.create(model="gpt-5.4", input="hi", background=True, metadata={"script": "web_search"})
    seen: List[str] = []

    def poll() -> None:
        current = response
        while current.status in ("queued", "in_progress"):
            current = sdk.responses.retrieve(response.id)
            seen.append(current.status)

    worker = threading.Thread(target=poll)
    worker.start()
    worker.join(10)
    assert seen[-1] == "completed"
    final = sdk.responses.retrieve(response.id)
    assert field(final, "tool_usage", "web_search", "num_requests") == 1
    assert [i.action.type for i in final.output if isinstance(i, openai.types.responses.ResponseFunctionWebSearch)] == [
        "search",
        "open_page",
        "find_in_page",
    ]
    sdk.close()


def test_builtin_scripts_are_valid(fake_api: FakeAssistantsAPI) -> None:
    sdk = openai.OpenAI(base_url=fake_api.base_url, api_key="sk-test")
    for name in BUILTIN_RESPONSE_SCRIPTS:
        for stream in (False, True):
            result = sdk.responses.create(
                model="gpt-5.4", input="hi", metadata={"script": name}, tools=[CI_AUTO], stream=stream
            )
            if stream:
                list(result)
    sdk.close()
    assert fake_api.validation_errors == []
    assert WebSearch().action == "search" and Usage(1, 2).input == 1


async def test_stream_helper_resumes_a_background_response(client: Any) -> None:
    response = await create(client, "code_interpreter", tools=[CI_AUTO], background=True)
    manager = client.responses.stream(response_id=response.id, starting_after=3)
    if hasattr(manager, "__aenter__"):
        async with manager as stream:
            seen = [event async for event in stream]
            final = await stream.get_final_response()
    else:
        with manager as stream:
            seen = list(stream)
            final = stream.get_final_response()
    assert seen[0].sequence_number == 4 and seen[-1].type == "response.completed"
    assert final.status == "completed" and final.usage.input_tokens == 300


async def test_parse_echoes_the_text_format(client: Any, fake_api: FakeAssistantsAPI) -> None:
    from pydantic import BaseModel

    class Weather(BaseModel):
        city: str
        celsius: int

    fake_api.response_scripts["json"] = [Text('{"city": "Paris", "celsius": 21}')]
    parsed = await call(
        client.responses.parse(model="gpt-5.4", input="Weather?", text_format=Weather, metadata={"script": "json"})
    )
    assert parsed.output_parsed == Weather(city="Paris", celsius=21)
    assert parsed.text.format.type == "json_schema"


async def test_prompt_without_model_and_store_false(client: Any) -> None:
    response = await call(client.responses.create(prompt={"id": "pmpt_123", "version": "2"}, input="Hi", store=False))
    assert (response.model, response.prompt.id) == ("gpt-5.4-mini", "pmpt_123")
    with pytest.raises(openai.NotFoundError):
        await call(client.responses.retrieve(response.id))


@pytest.mark.parametrize(
    ("fault", "check"),
    [
        ("unknown_tool_type", lambda r: [i.type for i in r.output] == ["hologram_call", "message"]),
        ("usage_null", lambda r: r.usage is None and r.status == "completed"),
        ("status_paused", lambda r: r.status == "paused"),
        ("missing_optional", lambda r: "completed_at" in r.model_fields_set and "error" not in r.model_fields_set),
    ],
)
async def test_off_schema_faults(client: Any, fake_api: FakeAssistantsAPI, fault: str, check: Any) -> None:
    fake_api.faults.add(r"/responses$", fault)
    response = await create(client, "code_interpreter", tools=[CI_AUTO])
    assert check(response), response


async def test_conversation_items_of_every_type(client: Any, fake_api: FakeAssistantsAPI) -> None:
    conversation = await call(client.conversations.create())
    first = await create(client, "every_tool", conversation=conversation.id, tools=[CI_AUTO])
    await create(client, "function", conversation=conversation.id)
    await create(client, "unknown", conversation=conversation.id)
    items = await collect(client.conversations.items.list(conversation.id, order="asc", limit=100))
    assert [i.type for i in items][:11] == ["message"] + [i.type for i in first.output]
    assert [i.type for i in items][11:] == ["message", "function_call", "message", "hologram_call", "message"]
    for item in items:
        got = await call(client.conversations.items.retrieve(item.id, conversation_id=conversation.id))
        assert got.type == item.type
