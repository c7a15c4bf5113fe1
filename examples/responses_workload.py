"""A scripted Responses API workload: what a small app does after moving off the Assistants API.

Used by the demo and the end-to-end metric tests next to ``workload.py``. Each response's behaviour
on the local fake API comes from its ``script`` metadata key (``openai_fake_api/responses_scripts.py``).
It covers a background response with web search polled to the end, a streamed response running
code in a container the app created, a function-call loop, file search in a conversation, an auto
container opened without a call, a model with no known price, an async stream, a stream the app
abandons half-way (its usage must be estimated) and a cancelled background response.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import openai

API_KEY = "sk-demo-not-a-real-key"
MODEL = "gpt-5.4-mini"
WEATHER_TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "Current weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    "strict": True,
}


def run_responses_workload(base_url: str) -> None:
    """Ten responses, through background polling, streaming, a tool loop, a conversation and async."""
    client = openai.OpenAI(base_url=base_url, api_key=API_KEY)
    _background_research(client)
    _streamed_analysis(client)
    _function_loop(client)
    _conversation(client)
    client.responses.create(model="acme-llm-7", input="Hello", metadata={"script": "text"})  # no known price
    asyncio.run(_async_responses(base_url))
    client.close()


def _background_research(client: openai.OpenAI) -> None:
    """A long task in background mode, polled until it ends, as OpenAI recommends."""
    response = client.responses.create(
        model=MODEL, input="Summarise this week's weather news.", background=True,
        tools=[{"type": "web_search"}], metadata={"script": "web_search"},
    )
    while response.status in ("queued", "in_progress"):
        time.sleep(0.005)
        response = client.responses.retrieve(response.id)


def _streamed_analysis(client: openai.OpenAI) -> None:
    """Code Interpreter in a container the app created (4 GB), streamed with the SDK's helper."""
    container = client.containers.create(
        name="analysis", memory_limit="4g", expires_after={"anchor": "last_active_at", "minutes": 20},
    )
    with client.responses.stream(
        model=MODEL, input="What is 2 + 2? Use Python.", metadata={"script": "code_interpreter"},
        tools=[{"type": "code_interpreter", "container": container.id}],
        include=["code_interpreter_call.outputs"],
    ) as stream:
        for _ in stream:
            pass
        stream.get_final_response()


def _function_loop(client: openai.OpenAI) -> None:
    """The app runs the function and sends its output in the next response."""
    first = client.responses.create(
        model=MODEL, input="Weather in Paris?", tools=[WEATHER_TOOL], metadata={"script": "function"},
    )
    outputs = [
        {"type": "function_call_output", "call_id": item.call_id, "output": json.dumps({"sky": "sunny"})}
        for item in first.output
        if item.type == "function_call"
    ]
    client.responses.create(model=MODEL, previous_response_id=first.id, input=outputs, tools=[WEATHER_TOOL])


def _conversation(client: openai.OpenAI) -> None:
    """Two responses in one conversation (the old thread): file search, then Python in an auto container."""
    conversation = client.conversations.create(metadata={"tenant": "acme"})
    client.responses.create(
        model=MODEL, input="When is the launch?", conversation=conversation.id, metadata={"script": "file_search"},
        tools=[{"type": "file_search", "vector_store_ids": ["vs_demo"]}],
    )
    client.responses.create(
        model=MODEL, input="Thanks, nothing else.", conversation=conversation.id, metadata={"script": "idle_container"},
        tools=[{"type": "code_interpreter", "container": {"type": "auto"}}],
    )


async def _async_responses(base_url: str) -> None:
    client = openai.AsyncOpenAI(base_url=base_url, api_key=API_KEY)
    stream = await client.responses.create(
        model="gpt-5.4", input="Think, then answer.", stream=True, metadata={"script": "cached"},
        service_tier="priority",
    )
    async for _ in stream:
        pass
    abandoned = await client.responses.create(model=MODEL, input="Tell me a long story.", stream=True,
                                              metadata={"script": "long"})
    async for event in abandoned:
        if event.type == "response.output_text.delta":
            break  # the user closed the page: no usage will come
    await abandoned.close()
    slow = await client.responses.create(
        model=MODEL, input="Write a long report.", background=True, metadata={"script": "slow"},
    )
    await client.responses.cancel(slow.id)  # the user changed their mind
    await client.close()


def register_response_scripts(server: Any) -> None:
    """Scripts of the workload that the fake API does not have built in."""
    from openai_fake_api.responses_scripts import ResponseScript, Text, Usage

    server.response_scripts["idle_container"] = ResponseScript(
        [Text("You're welcome.")], usage=Usage(input=400, output=8), open_container=True,
    )
    server.response_scripts["slow"] = ResponseScript([Text("A long report.")], queued_s=3600)


def _usd(value: Any) -> str:
    return f"{value:.6f}" if isinstance(value, (int, float)) else "   n/a  "


def responses_summary(spans: list[Any]) -> list[str]:
    """A readable line per response span (``openai.api.type`` = ``responses``), then the total."""
    mine = [
        s for s in spans
        if (s.attributes or {}).get("openai.api.type") == "responses"
        and (s.attributes or {}).get("gen_ai.operation.name") == "chat"
    ]
    lines = [f"{'response':<16} {'model':<14} {'status':<10} {'tier':<9} {'tokens in/out':>14} {'source':<9} "
             f"{'total $':>9}"]
    total = 0.0
    for span in sorted(mine, key=lambda s: s.start_time or 0):
        a = span.attributes or {}
        cost = a.get("openai_cost.rollup.total_usd")
        if cost is None:
            leaves = [v for k, v in a.items() if k.startswith("openai_cost.") and k.endswith("_usd")
                      and ".rollup." not in k and isinstance(v, (int, float))]
            cost = sum(leaves) if leaves else None
        total += float(cost) if isinstance(cost, (int, float)) else 0.0
        tokens = f"{a.get('gen_ai.usage.input_tokens', '-')}/{a.get('gen_ai.usage.output_tokens', '-')}"
        lines.append(
            f"{str(a.get('gen_ai.response.id', '?'))[-16:]:<16} {a.get('gen_ai.request.model', '?')!s:<14} "
            f"{a.get('responses.status', '?')!s:<10} {a.get('openai.response.service_tier', '-')!s:<9} {tokens:>14} "
            f"{a.get('openai_cost.usage.source', '-')!s:<9} {_usd(cost)}"
        )
    lines.append(f"{len(mine)} responses, total spend ${total:.6f}")
    return lines
