"""pydantic-ai over the fake API, with its Responses model and its chat-completions model."""

from __future__ import annotations

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

pytestmark = [pytest.mark.needs_package("pydantic-ai-slim"),
              pytest.mark.openai_min("3.50", "pydantic-ai-slim[openai] 2.78 needs openai >= 3.50")]

QUESTION = "What is the capital of France?"


def run_agent(fake_api: Any, mode: str) -> tuple[Any, ...]:
    """The app: one agent run on a fresh client; its output and the usage it counted."""
    from pydantic_ai import Agent
    from pydantic_ai.models.openai import OpenAIChatModel, OpenAIResponsesModel
    from pydantic_ai.providers.openai import OpenAIProvider

    client = openai.AsyncOpenAI(base_url=fake_api.base_url, api_key=API_KEY)
    provider = OpenAIProvider(openai_client=client)
    model = (OpenAIResponsesModel if mode == "responses" else OpenAIChatModel)(MODEL, provider=provider)
    result = Agent(model, instructions="Answer in one sentence.").run_sync(QUESTION)
    usage = result.usage
    return result.output, usage.requests, usage.input_tokens, usage.output_tokens, usage.cache_read_tokens


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
