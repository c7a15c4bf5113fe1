"""llama-index's OpenAI LLMs over the fake API (on openai 2.x): ``OpenAIResponses``, and ``OpenAI`` (chat)."""

from __future__ import annotations

from typing import Any

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
from sdk import field

pytestmark = [pytest.mark.needs_package("llama-index-llms-openai"),
              pytest.mark.openai_below("3", "llama-index-llms-openai 0.8 needs openai < 3")]

QUESTION = "What is the capital of France?"


def chat(fake_api: Any, responses_api: bool) -> tuple[Any, ...]:
    """The app: one ``chat`` on a new LLM; the reply's text and the usage of its raw response."""
    from llama_index.core.llms import ChatMessage
    from llama_index.llms.openai import OpenAI, OpenAIResponses

    llm_class = OpenAIResponses if responses_api else OpenAI
    llm = llm_class(model=MODEL, api_key=API_KEY, api_base=fake_api.base_url)
    reply = llm.chat([ChatMessage(role="user", content=QUESTION)])
    usage = field(reply.raw, "usage")
    if responses_api:
        return (reply.message.content, field(usage, "input_tokens"), field(usage, "output_tokens"),
                field(usage, "input_tokens_details", "cached_tokens"))
    details = field(usage, "prompt_tokens_details")
    return (reply.message.content, field(usage, "prompt_tokens"), field(usage, "completion_tokens"),
            (field(details, "cached_tokens") if details is not None else 0) or 0)


def test_responses_mode(fake_api: Any, otel: Any) -> None:
    serve_answer(fake_api)
    result = same_result_with_and_without(otel, lambda: chat(fake_api, True))
    assert result == (ANSWER, USAGE.input, USAGE.output, USAGE.cached)
    assert_one_priced_call(otel, "responses", USAGE.input, USAGE.output, PRICE)


def test_chat_completions_mode(fake_api: Any, otel: Any) -> None:
    answer, input_tokens, output_tokens, cached = same_result_with_and_without(otel, lambda: chat(fake_api, False))
    assert answer and input_tokens
    assert_one_priced_call(otel, "chat_completions", input_tokens, output_tokens,
                           hand_price(input_tokens, output_tokens, cached))
