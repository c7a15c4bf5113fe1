"""A scripted assistant workload: what a small app does with the Assistants API, sync and async.

Used by the demo, the end-to-end metric tests and the benchmarks. The local fake API picks each
run's behaviour from the ``script`` metadata key of the assistant.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import openai
from openai import AssistantEventHandler

API_KEY = "sk-demo-not-a-real-key"


def run_workload(base_url: str) -> None:
    """Eight runs on six assistants, through polling, streaming and async calls."""
    client = openai.OpenAI(base_url=base_url, api_key=API_KEY)
    analyst = client.beta.assistants.create(
        name="Data analyst", model="gpt-4o-mini", tools=[{"type": "code_interpreter"}],
        instructions="You analyse data with Python.", metadata={"script": "code_interpreter"},
    )
    thread = client.beta.threads.create(metadata={"tenant": "acme"})
    for question in ("What is 2 + 2?", "And 3 + 3?"):  # two runs, one Code Interpreter session
        client.beta.threads.messages.create(thread.id, role="user", content=question)
        client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=analyst.id)
    client.beta.threads.messages.create(thread.id, role="user", content="Never mind.")
    cancelled = client.beta.threads.runs.create(thread_id=thread.id, assistant_id=analyst.id)
    client.beta.threads.runs.cancel(cancelled.id, thread_id=thread.id)  # the user changed their mind
    client.beta.threads.runs.poll(cancelled.id, thread.id)

    weather = client.beta.assistants.create(
        name="Weather bot", model="gpt-4o", metadata={"script": "function"},
        tools=[{"type": "function", "function": {
            "name": "get_weather", "description": "Current weather in a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
        }}],
    )
    weather_thread = client.beta.threads.create(messages=[{"role": "user", "content": "Weather in Paris?"}])
    _stream_with_tools(client, weather_thread.id, weather.id)
    asyncio.run(_async_runs(base_url))
    client.close()


class _ToolHandler(AssistantEventHandler):
    """Answers function calls from inside the stream, as the SDK's documented pattern does."""

    def __init__(self, client: openai.OpenAI) -> None:
        super().__init__()
        self.client = client

    def on_event(self, event: Any) -> None:
        if event.event != "thread.run.requires_action":
            return
        run = event.data
        outputs = [{"tool_call_id": call.id, "output": json.dumps({"sky": "sunny", "celsius": 21})}
                   for call in run.required_action.submit_tool_outputs.tool_calls]
        with self.client.beta.threads.runs.submit_tool_outputs_stream(
            thread_id=run.thread_id, run_id=run.id, tool_outputs=outputs, event_handler=AssistantEventHandler(),
        ) as stream:
            stream.until_done()


def _stream_with_tools(client: openai.OpenAI, thread_id: str, assistant_id: str) -> None:
    with client.beta.threads.runs.stream(thread_id=thread_id, assistant_id=assistant_id,
                                         event_handler=_ToolHandler(client)) as stream:
        stream.until_done()


async def _async_runs(base_url: str) -> None:
    client = openai.AsyncOpenAI(base_url=base_url, api_key=API_KEY)
    researcher = await client.beta.assistants.create(
        name="Researcher", model="gpt-4o-mini", tools=[{"type": "file_search"}],
        metadata={"script": "file_search"},
    )
    await client.beta.threads.create_and_run_poll(
        assistant_id=researcher.id, thread={"messages": [{"role": "user", "content": "When is the launch?"}]},
    )
    legacy = await client.beta.assistants.create(
        name="Legacy analyst", model="gpt-4-turbo-preview", tools=[{"type": "code_interpreter"}],
        metadata={"script": "seed_no_usage"},
    )
    thread = await client.beta.threads.create(
        messages=[{"role": "user", "content": "What is the square root of 1764?"}])
    await client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=legacy.id)
    in_house = await client.beta.assistants.create(name="In-house", model="acme-llm-7",
                                                   metadata={"script": "text"})  # no known price
    await client.beta.threads.create_and_run_poll(
        assistant_id=in_house.id, thread={"messages": [{"role": "user", "content": "Hello"}]},
    )
    failing = await client.beta.assistants.create(name="Flaky", model="gpt-4o-mini", metadata={"script": "fail"},
                                                  tools=[{"type": "code_interpreter"}])
    await client.beta.threads.create_and_run_poll(
        assistant_id=failing.id, thread={"messages": [{"role": "user", "content": "Load my CSV"}]},
    )
    await client.close()


def run_runaway(base_url: str, runs: int) -> None:
    """A spend spike: an agent stuck in a loop, re-sending a huge context to a dear model."""
    client = openai.OpenAI(base_url=base_url, api_key=API_KEY)
    runaway = client.beta.assistants.create(name="Runaway agent", model="gpt-4o", metadata={"script": "runaway"})
    thread = client.beta.threads.create()
    for _ in range(runs):
        client.beta.threads.messages.create(thread.id, role="user", content="Check again.")
        client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=runaway.id)
    client.close()


def register_scripts(server: Any) -> None:
    """Scripts of the workload that the fake API does not have built in."""
    from openai_fake_api import BUILTIN_SCRIPTS, Say, Script

    server.scripts["seed_no_usage"] = Script(list(BUILTIN_SCRIPTS["seed"].steps), report_usage=False)
    # 120,000 prompt tokens a run: about 0.34 USD on gpt-4o.
    server.scripts["runaway"] = Script([Say("Let me check that once more.", usage=(120_000, 4_000))])
