"""Hosted tool fees: web search by billable count, tool version and model; file search; image generation."""

from __future__ import annotations

from decimal import Decimal

import pytest
from container_helpers import JULY

from opentelemetry.instrumentation.openai_assistants.accounting.fees import (
    Fee,
    FeeBook,
    UnpricedFee,
    input_pricer,
    tool_fees,
)
from opentelemetry.instrumentation.openai_assistants.accounting.pricing import PriceBook
from opentelemetry.instrumentation.openai_assistants.model import ImageGenUsage, ToolUsage

BOOK = FeeBook({})
PRICES = input_pricer(PriceBook({}))


def fees(usage: ToolUsage, model: str = "gpt-4.1", at: int = JULY, book: FeeBook = BOOK) -> list[Fee | UnpricedFee]:
    return tool_fees(usage, model, at, book, PRICES)


def test_web_search_by_num_requests() -> None:
    (fee,) = fees(ToolUsage(web_search_requests=3, web_search_actions={"search": 7}))
    assert isinstance(fee, Fee)
    assert (fee.kind, fee.count, fee.usd, fee.content_tokens) == ("web_search", 3, Decimal("0.03"), 0)


def test_web_search_without_num_requests_counts_search_actions_only() -> None:
    (fee,) = fees(ToolUsage(web_search_actions={"search": 2, "open_page": 3, "find_in_page": 1}))
    assert isinstance(fee, Fee) and (fee.count, fee.usd) == (2, Decimal("0.02"))


def test_zero_billable_requests_is_no_fee_even_with_search_items() -> None:
    assert fees(ToolUsage(web_search_requests=0, web_search_actions={"search": 2})) == []


@pytest.mark.parametrize(
    ("model", "usd"),
    [("o3", "0.04"), ("gpt-5-mini", "0.04"), ("gpt-4o", "0.10"), ("gpt-4.1-mini", "0.10"),
     ("gpt-6-astra", "0.04"), ("gpt-6.1-sol", "0.04"), ("gpt-6-luna", "0.04")],  # GPT-6: reasoning models
)
def test_web_search_preview_by_model_class(model: str, usd: str) -> None:
    # reasoning models $10/1k, others $25/1k with content tokens free (no fixed block either)
    (fee,) = fees(ToolUsage(web_search_requests=4, web_search_tool="web_search_preview"), model)
    assert isinstance(fee, Fee) and (fee.usd, fee.content_tokens) == (Decimal(usd), 0)


def test_fixed_search_content_tokens_of_mini_models() -> None:
    # 2 calls x $0.01 + 2 x 8,000 input tokens at gpt-4.1-mini's $0.40 per 1M = 0.02 + 0.0064
    (fee,) = fees(ToolUsage(web_search_requests=2), "gpt-4.1-mini")
    assert isinstance(fee, Fee) and (fee.usd, fee.content_tokens) == (Decimal("0.0264"), 16_000)
    # gpt-4o-mini at $0.15 per 1M: 0.01 + 0.0012
    (mini,) = fees(ToolUsage(web_search_requests=1), "gpt-4o-mini-2024-07-18")
    assert isinstance(mini, Fee) and mini.usd == Decimal("0.0112")


def test_file_search_per_call() -> None:
    (fee,) = fees(ToolUsage(file_search_calls=3))
    assert isinstance(fee, Fee) and (fee.kind, fee.usd) == ("file_search", Decimal("0.0075"))


def test_image_generation_at_the_image_model_rates() -> None:
    # gpt-image-1: 400 text input x $5 + 600 image input x $10 + 2,000 output x $40, per 1M
    usage = ToolUsage(image_gen=ImageGenUsage(input_tokens=1000, output_tokens=2000, input_image_tokens=600))
    (fee,) = fees(usage)
    assert isinstance(fee, Fee) and (fee.kind, fee.usd, fee.count) == ("image_generation", Decimal("0.088"), 3000)


def test_image_model_from_our_data_when_genai_prices_lacks_it() -> None:
    book = FeeBook({"tool_fees": {"image_generation": {"models": {"studio-image": [
        {"effective_from": "2026-01-01", "text_input_per_1m": "4", "image_input_per_1m": "8", "output_per_1m": "30"}
    ]}}}})
    usage = ToolUsage(image_model="studio-image", image_gen=ImageGenUsage(1000, 1000, input_image_tokens=500))
    (fee,) = fees(usage, book=book)
    assert isinstance(fee, Fee) and fee.usd == Decimal("0.036")  # 500x4 + 500x8 + 1000x30, per 1M
    (unknown,) = fees(ToolUsage(image_model="nobody-image", image_gen=ImageGenUsage(10, 10)))
    assert unknown == UnpricedFee("image_generation", 20, "no price for image model 'nobody-image'")


def test_unknown_tools_and_dates_give_a_reason_not_zero() -> None:
    outcomes = fees(ToolUsage(web_search_requests=1, web_search_tool="web_search_2027",
                              other_calls={"hologram_call": 2, "function_call": 5, "mcp_call": 1}))
    assert outcomes == [
        UnpricedFee("web_search", 1, "no fee known for web search tool 'web_search_2027'"),
        UnpricedFee("hologram_call", 2, "no fee known for tool call type 'hologram_call'"),
    ]
    (early,) = fees(ToolUsage(web_search_requests=1), at=1_700_000_000)
    assert isinstance(early, UnpricedFee) and "no web_search fee in force" in early.reason
    (nameless,) = tool_fees(ToolUsage(web_search_requests=1, web_search_tool="web_search_preview"), None, JULY,
                            BOOK, PRICES)
    assert isinstance(nameless, UnpricedFee)


def test_overrides_apply_from_their_date() -> None:
    book = FeeBook({"tool_fees": {"file_search": [{"effective_from": "2026-07-01", "usd_per_1k": "3.00"}]}})
    (july,) = fees(ToolUsage(file_search_calls=2), book=book)
    (june,) = fees(ToolUsage(file_search_calls=2), at=JULY - 30 * 86_400, book=book)
    assert isinstance(july, Fee) and isinstance(june, Fee)
    assert (july.usd, june.usd) == (Decimal("0.006"), Decimal("0.005"))


def test_a_failing_part_gives_a_reason_not_an_exception() -> None:
    def broken(model: str, tokens: int, at: int) -> Decimal:
        raise RuntimeError("price data")

    outcomes = tool_fees(ToolUsage(web_search_requests=1, file_search_calls=1), "gpt-4.1-mini", JULY, BOOK, broken)
    assert isinstance(outcomes[0], UnpricedFee) and isinstance(outcomes[1], Fee)


NOVEMBER = JULY + 120 * 86_400  # 2026-11-11: gpt-image-1 shut down on 2026-10-23


def test_image_output_tokens_at_the_image_output_rate() -> None:
    # issue 17 defect 7: gpt-image-1.5 bills text output $10 and image output $32 per 1M (genai-prices);
    # 1,000 text input x $5 + 100 text output x $10 + 900 image output x $32 = 0.005 + 0.001 + 0.0288
    image = ImageGenUsage(input_tokens=1000, output_tokens=1000, output_image_tokens=900)
    (fee,) = fees(ToolUsage(image_model="gpt-image-1.5", image_gen=image))
    assert isinstance(fee, Fee) and fee.usd == Decimal("0.0348")
    # without output details every output token is an image token: 1,000 x $32 + 1,000 x $5
    (whole,) = fees(ToolUsage(image_model="gpt-image-1.5", image_gen=ImageGenUsage(1000, 1000)))
    assert isinstance(whole, Fee) and whole.usd == Decimal("0.037")


def test_default_image_model_is_the_one_in_force_on_the_response_date() -> None:
    # issue 17 defect 6: July 2026 defaults to gpt-image-1 (priced); from its shutdown on 2026-10-23 the
    # default is gpt-image-2.6-sunburst, whose rates are unknown: unpriced with a reason, never gpt-image-1's
    usage = ToolUsage(image_gen=ImageGenUsage(input_tokens=1000, output_tokens=2000, input_image_tokens=600))
    (july,) = fees(usage)
    assert isinstance(july, Fee) and july.usd == Decimal("0.088")
    (november,) = fees(usage, at=NOVEMBER)
    assert november == UnpricedFee("image_generation", 3000, "no price for image model 'gpt-image-2.6-sunburst'")
    assert BOOK.default_image_model(NOVEMBER) == "gpt-image-2.6-sunburst"


def test_a_retired_image_model_is_never_priced_at_its_old_rates() -> None:
    usage = ToolUsage(image_model="gpt-image-1", image_gen=ImageGenUsage(100, 100))
    (late,) = fees(usage, at=NOVEMBER)
    assert isinstance(late, UnpricedFee) and "retired on 2026-10-23" in late.reason
