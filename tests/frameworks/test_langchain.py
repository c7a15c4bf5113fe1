"""LangChain's ``ChatOpenAI`` over the fake API: its default (chat completions) and ``use_responses_api=True``."""

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

pytestmark = [pytest.mark.needs_package("langchain-openai"),
              pytest.mark.openai_min("2.45", "langchain-openai 1.8 needs openai >= 2.45")]

QUESTION = "What is the capital of France?"


def invoke(fake_api: Any, responses_api: bool, stream: bool = False) -> tuple[Any, ...]:
    """The app: one ``invoke`` (or a streamed reply gathered) on a new model; its text and usage."""
    from langchain_openai import ChatOpenAI

    llm = ChatOpenAI(model=MODEL, base_url=fake_api.base_url, api_key=API_KEY, use_responses_api=responses_api,
                     stream_usage=True)
    if stream:
        message: Any = None
        for chunk in llm.stream(QUESTION):
            message = chunk if message is None else message + chunk
    else:
        message = llm.invoke(QUESTION)
    usage = message.usage_metadata or {}
    return (message.text, usage.get("input_tokens"), usage.get("output_tokens"),
            (usage.get("input_token_details") or {}).get("cache_read", 0))


@pytest.mark.parametrize("stream", [False, True], ids=["invoke", "stream"])
def test_responses_mode(fake_api: Any, otel: Any, stream: bool) -> None:
    serve_answer(fake_api)
    result = same_result_with_and_without(otel, lambda: invoke(fake_api, True, stream))
    assert result == (ANSWER, USAGE.input, USAGE.output, USAGE.cached)
    assert_one_priced_call(otel, "responses", USAGE.input, USAGE.output, PRICE)


@pytest.mark.parametrize("stream", [False, True], ids=["invoke", "stream"])
def test_chat_completions_mode(fake_api: Any, otel: Any, stream: bool) -> None:
    answer, input_tokens, output_tokens, cached = same_result_with_and_without(
        otel, lambda: invoke(fake_api, False, stream))
    assert answer and input_tokens
    assert_one_priced_call(otel, "chat_completions", input_tokens, output_tokens,
                           hand_price(input_tokens, output_tokens, cached))
