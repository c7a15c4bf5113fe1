"""What every framework test checks: the app gets the same result with and without the instrumentation,
each model call is one ``chat`` span with the fake API's tokens, and span dollars = counter dollars = a
price worked by hand here (never read from the price book under test)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Callable

import pytest
from responses_helpers import total
from spanutil import attrs

from openai_fake_api import ResponseScript
from openai_fake_api.responses_scripts import Text, Usage

# A model name every framework accepts (llama-index looks up its context window), priced for these
# tests by the override below only, so each dollar figure is worked by hand from RATES.
MODEL = "gpt-4o-mini"
PRICES = {"models": {MODEL: {"input_per_1m": "2", "output_per_1m": "8", "cached_input_per_1m": "0.5",
                            "cache_write_per_1m": "2.5"}}}
RATES = {"input": Decimal(2), "cached": Decimal("0.5"), "output": Decimal(8)}
ANSWER = "Paris is the capital of France."
#: What the fake Responses API reports for the answer: 1,500 input tokens of which 1,000 cached, 40 output.
USAGE = Usage(input=1500, output=40, cached=1000)
PRICE = 0.00182  # USAGE by hand: (500 uncached x $2 + 1,000 cached x $0.50 + 40 output x $8) / 1M
API_KEY = "sk-test-not-a-real-key"


def hand_price(input_tokens: int, output_tokens: int, cached_tokens: int = 0) -> float:
    """Dollars for one call at RATES (uncached input, cached input, output), for usage known only at run time."""
    dollars = (Decimal(input_tokens - cached_tokens) * RATES["input"] + Decimal(cached_tokens) * RATES["cached"]
               + Decimal(output_tokens) * RATES["output"]) / Decimal(1_000_000)
    return float(dollars)


def serve_answer(fake_api: Any) -> None:
    """The fake Responses API answers every request with ANSWER and reports USAGE."""
    fake_api.response_scripts["text"] = ResponseScript([Text(ANSWER)], usage=USAGE)


def same_result_with_and_without(otel: Any, app: Callable[[], Any]) -> Any:
    """Run the app plainly, then instrumented; what it returns must not change. Returns that result."""
    plain = app()
    otel.instrument(prices=PRICES)
    traced = app()
    assert traced == plain
    return traced


def assert_one_priced_call(otel: Any, api_type: str, input_tokens: int, output_tokens: int, price: float) -> None:
    """One ``chat {model}`` span with these tokens, whose dollars equal the spend counter's and ``price``."""
    chats = [s for s in otel.spans() if s.name.startswith("chat ")]
    assert [s.name for s in chats] == [f"chat {MODEL}"]
    a = attrs(chats[0])
    assert a["gen_ai.operation.name"] == "chat" and a["openai.api.type"] == api_type
    assert (a["gen_ai.usage.input_tokens"], a["gen_ai.usage.output_tokens"]) == (input_tokens, output_tokens)
    assert price > 0
    assert a["openai_cost.rollup.total_usd"] == pytest.approx(price, rel=1e-12)
    spent = total(otel, "openai_cost.spend", **{"openai.api.type": api_type})
    assert spent == pytest.approx(price, rel=1e-12)
    kinds = {p.attributes.get("openai_cost.kind") for p in otel.metrics()["openai_cost.spend"]
             if p.attributes.get("openai.api.type") == api_type}
    assert {"input_tokens", "output_tokens"} <= kinds
