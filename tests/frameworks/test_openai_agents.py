"""The OpenAI Agents SDK over the fake API, in its Responses mode (its default) and its chat-completions mode."""

from __future__ import annotations

import asyncio
from typing import Any

import openai
import pytest
from framework_checks import (
    ANSWER,
    API_KEY,
    MODEL,
    PRICE,
    USAGE,
    assert_one_priced_call,
    hand_price,
    same_result_with_and_without,
    serve_answer,
)

pytestmark = [pytest.mark.needs_package("openai-agents"),
              pytest.mark.openai_min("3", "openai-agents 0.24 needs openai >= 3")]

QUESTION = "What is the capital of France?"


def run_agent(fake_api: Any, mode: str) -> tuple[Any, ...]:
    """The app: one agent run on a fresh client; what it got back (answer and the usage it counted)."""
    import agents

    agents.set_tracing_disabled(True)  # the SDK's own trace export would call the real OpenAI

    async def app() -> tuple[Any, ...]:
        client = openai.AsyncOpenAI(base_url=fake_api.base_url, api_key=API_KEY)
        model_class = agents.OpenAIResponsesModel if mode == "responses" else agents.OpenAIChatCompletionsModel
        agent = agents.Agent(name="Geographer", instructions="Answer in one sentence.",
                             model=model_class(model=MODEL, openai_client=client))
        result = await agents.Runner.run(agent, QUESTION)
        await client.close()
        usage = result.context_wrapper.usage
        return (result.final_output, usage.requests, usage.input_tokens, usage.output_tokens,
                usage.input_tokens_details.cached_tokens)

    return asyncio.run(app())


def test_responses_mode(fake_api: Any, otel: Any) -> None:
    serve_answer(fake_api)
    result = same_result_with_and_without(otel, lambda: run_agent(fake_api, "responses"))
    assert result == (ANSWER, 1, USAGE.input, USAGE.output, USAGE.cached)
    assert_one_priced_call(otel, "responses", USAGE.input, USAGE.output, PRICE)


def test_chat_completions_mode(fake_api: Any, otel: Any) -> None:
    answer, requests, input_tokens, output_tokens, cached = same_result_with_and_without(
        otel, lambda: run_agent(fake_api, "chat"))
    assert answer and requests == 1 and input_tokens > 0
    assert_one_priced_call(otel, "chat_completions", input_tokens, output_tokens,
                           hand_price(input_tokens, output_tokens, cached))
