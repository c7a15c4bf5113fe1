"""Token money of a response: each part at its own rate, modifiers from dated data; figures worked by hand.

Rates used below (USD per 1M tokens, genai-prices 0.2.3, checked against openai.com/api/pricing):
gpt-5: input 1.25, cached 0.125, output 10, no cache-write rate (older than GPT-5.6: no premium);
gpt-5.4: input 2.50, cached 0.25, output 15, above 272K input tokens 5.00 / 0.50 / 22.50;
gpt-5.6-terra from 2026-07-30: input 2, cached 0.20, cache write 2.50, output 12.
Before 2026-10-12 genai-prices has no tier variants, so flex and priority come from our data
(flex 0.5x, priority 2x for gpt-5); from 2026-10-12 its own tier rates apply.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Optional

import pytest

from opentelemetry.instrumentation.openai_assistants.accounting.pricing import (
    ENV_PRICES,
    PriceBook,
    TokenCost,
    Unpriced,
)
from opentelemetry.instrumentation.openai_assistants.model import PriceTerms, Usage

SEP_2026 = datetime(2026, 9, 1, tzinfo=UTC)  # before genai-prices' tier variants (2026-10-12)
NOV_2026 = datetime(2026, 11, 1, tzinfo=UTC)  # after them
# 10,000 input tokens of which 4,000 cached reads and 1,000 cache writes (5,000 ordinary);
# 2,000 output tokens of which 500 reasoning (inside output, never priced again).
USAGE = Usage(10_000, 2_000, cached_input_tokens=4_000, cache_write_tokens=1_000, reasoning_tokens=500)


def cost(
    model_name: str,
    when: datetime,
    tier: Optional[str] = None,
    window: Optional[str] = None,
    regional: bool = False,
    usage: Usage = USAGE,
    book: Optional[PriceBook] = None,
) -> TokenCost:
    found = (book or PriceBook()).token_cost(model_name, usage, when, terms=PriceTerms(tier, window, regional))
    assert isinstance(found, TokenCost), found
    return found


def parts(c: TokenCost) -> tuple[Decimal, Decimal, Decimal, Decimal]:
    """(ordinary input, cached input, cache write, output) in USD."""
    return c.input_usd, c.cached_input_usd, c.cache_write_usd, c.output_usd


def d(*values: str) -> tuple[Decimal, ...]:
    return tuple(Decimal(v) for v in values)


def test_cached_reads_and_cache_writes_each_at_their_own_rate() -> None:
    c = cost("gpt-5", SEP_2026)
    # ordinary 5,000 x $1.25/1M = $0.00625; cached 4,000 x $0.125/1M = $0.0005;
    # cache writes 1,000 x $1.25/1M (no premium before GPT-5.6) = $0.00125; output 2,000 x $10/1M = $0.02.
    assert parts(c) == d("0.00625", "0.0005", "0.00125", "0.02")
    assert c.total_usd == Decimal("0.028") and c.modifiers == ""


def test_gpt_5_6_cache_write_premium() -> None:
    c = cost("gpt-5.6-terra", SEP_2026)
    # ordinary 5,000 x $2/1M = $0.01; cached 4,000 x $0.20/1M = $0.0008;
    # cache writes 1,000 x $2.50/1M (1.25x input) = $0.0025; output 2,000 x $12/1M = $0.024.
    assert parts(c) == d("0.01", "0.0008", "0.0025", "0.024")


def test_flex_from_our_data_before_genai_prices_has_tiers() -> None:
    c = cost("gpt-5", SEP_2026, tier="flex")
    # everything at 0.5x: 5,000 x $0.625 = $0.003125; 4,000 x $0.0625 = $0.00025;
    # 1,000 x $0.625 = $0.000625; 2,000 x $5 = $0.01.
    assert parts(c) == d("0.003125", "0.00025", "0.000625", "0.01")
    assert c.modifiers == "flex"


def test_priority_and_its_new_name_fast() -> None:
    for tier in ("priority", "fast"):
        c = cost("gpt-5", SEP_2026, tier=tier)
        # gpt-5 priority is 2x: 5,000 x $2.50 = $0.0125; 4,000 x $0.25 = $0.001;
        # 1,000 x $2.50 = $0.0025; 2,000 x $20 = $0.04.
        assert parts(c) == d("0.0125", "0.001", "0.0025", "0.04")
        assert c.modifiers == tier


def test_tiers_from_genai_prices_once_it_has_them() -> None:
    import genai_prices

    c = cost("gpt-4o-mini", NOV_2026, tier="priority")
    # genai-prices' priority rates for gpt-4o-mini: input $0.25, cached $0.125, output $1; writes at input:
    # 5,000 x $0.25 = $0.00125; 4,000 x $0.125 = $0.0005; 1,000 x $0.25 = $0.00025; 2,000 x $1 = $0.002.
    assert parts(c) == d("0.00125", "0.0005", "0.00025", "0.002")
    calc = genai_prices.calc_price(
        genai_prices.Usage(
            input_tokens=10_000, cache_read_tokens=4_000, cache_write_tokens=1_000, output_tokens=2_000
        ),
        model_ref="gpt-4o-mini",
        provider_id="openai",
        genai_request_timestamp=NOV_2026,
        price_context={"service_tier": "priority"},
    )
    assert c.total_usd == calc.total_price
    # Before 2026-10-12 no priority ratio for gpt-4o-mini is known (0.25 / 0.15 is no finite decimal).
    book = PriceBook()
    assert isinstance(book.token_cost("gpt-4o-mini", USAGE, SEP_2026, terms=PriceTerms("priority")), Unpriced)


@pytest.mark.parametrize(
    ("window", "expected"),
    [
        # 2h: 0.7x: 5,000 x $0.875 = $0.004375; 4,000 x $0.0875 = $0.00035; 1,000 x $0.875 = $0.000875;
        # 2,000 x $7 = $0.014.
        ("2h", ("0.004375", "0.00035", "0.000875", "0.014")),
        # 8h: 0.6x: 5,000 x $0.75 = $0.00375; 4,000 x $0.075 = $0.0003; 1,000 x $0.75 = $0.00075;
        # 2,000 x $6 = $0.012.
        ("8h", ("0.00375", "0.0003", "0.00075", "0.012")),
        # soonest: standard rates.
        ("soonest", ("0.00625", "0.0005", "0.00125", "0.02")),
    ],
)
def test_background_completion_window(window: str, expected: tuple[str, ...]) -> None:
    """Terms that kept the window (a background, non-streamed request at the standard tier: terms.py)."""
    c = cost("gpt-5", SEP_2026, window=window)
    assert parts(c) == d(*expected)
    assert c.modifiers == ("" if window == "soonest" else f"window:{window}")


def test_a_flex_response_asking_for_an_8h_window_pays_flex_rates_only() -> None:
    from opentelemetry.instrumentation.openai_assistants.accounting.terms import response_terms
    from opentelemetry.instrumentation.openai_assistants.model import Response, ResponseRequest

    request = ResponseRequest(service_tier="flex", background=True, completion_window="8h")
    terms = response_terms(request, Response(id="resp_1", status="completed", service_tier="flex"), None)
    assert terms.completion_window is None and terms.window_waived
    found = PriceBook().token_cost("gpt-5", USAGE, SEP_2026, terms=terms)
    assert isinstance(found, TokenCost)
    # flex 0.5x only: 5,000 x $0.625 = $0.003125; 4,000 x $0.0625 = $0.00025;
    # 1,000 x $0.625 = $0.000625; 2,000 x $5 = $0.01.
    assert parts(found) == d("0.003125", "0.00025", "0.000625", "0.01")
    assert found.modifiers == "flex"


def test_long_context_from_the_table_above_272k_input_tokens() -> None:
    big = Usage(300_000, 1_000, cached_input_tokens=100_000)
    c = cost("gpt-5.4", SEP_2026, usage=big)
    # 300,000 > 272,000: the whole request at the long rates: ordinary 200,000 x $5 = $1;
    # cached 100,000 x $0.50 = $0.05; output 1,000 x $22.50 = $0.0225.
    assert parts(c) == d("1", "0.05", "0", "0.0225") and c.modifiers == "long_context"
    at_threshold = cost("gpt-5.4", SEP_2026, usage=Usage(272_000, 1_000))
    # exactly 272,000 is not above: 272,000 x $2.50 = $0.68; 1,000 x $15 = $0.015.
    assert parts(at_threshold) == d("0.68", "0", "0", "0.015") and at_threshold.modifiers == ""
    flex = cost("gpt-5.4", SEP_2026, tier="flex", usage=big)
    # flex halves the long rates: 200,000 x $2.50 = $0.50; 100,000 x $0.25 = $0.025; 1,000 x $11.25 = $0.01125.
    assert parts(flex) == d("0.5", "0.025", "0", "0.01125") and flex.modifiers == "flex,long_context"


def test_long_context_and_cache_rates_by_our_rule_for_a_model_the_table_lacks() -> None:
    book = PriceBook({"models": {"gpt-5.7": {"input_per_1m": "2", "output_per_1m": "12"}}})
    big = Usage(300_000, 1_000, cached_input_tokens=100_000, cache_write_tokens=50_000)
    c = cost("gpt-5.7", SEP_2026, usage=big, book=book)
    # GPT-5.6 and later: cached 0.1 x $2 = $0.20, writes 1.25 x $2 = $2.50; above 272K: input 2x, output 1.5x:
    # ordinary 150,000 x $4 = $0.60; cached 100,000 x $0.40 = $0.04; writes 50,000 x $5 = $0.25;
    # output 1,000 x $18 = $0.018.
    assert parts(c) == d("0.6", "0.04", "0.25", "0.018")
    small = cost("gpt-5.7", SEP_2026, usage=USAGE, book=book)
    # 5,000 x $2 = $0.01; 4,000 x $0.20 = $0.0008; 1,000 x $2.50 = $0.0025; 2,000 x $12 = $0.024.
    assert parts(small) == d("0.01", "0.0008", "0.0025", "0.024")


def test_regional_processing_before_and_after_its_effective_date() -> None:
    after = cost("gpt-5.4", SEP_2026, regional=True)
    # +10% for models released from 2026-03-05: 5,000 x $2.75 = $0.01375; 4,000 x $0.275 = $0.0011;
    # 1,000 x $2.75 = $0.00275; 2,000 x $16.50 = $0.033.
    assert parts(after) == d("0.01375", "0.0011", "0.00275", "0.033") and after.modifiers == "regional"
    before = cost("gpt-5.4", datetime(2026, 3, 1, tzinfo=UTC), regional=True)
    # before 2026-03-05 no uplift: 5,000 x $2.50 = $0.0125; 4,000 x $0.25 = $0.001; 1,000 x $2.50 = $0.0025;
    # 2,000 x $15 = $0.03.
    assert parts(before) == d("0.0125", "0.001", "0.0025", "0.03") and before.modifiers == ""
    older_model = cost("gpt-5", SEP_2026, regional=True)  # released before 2026-03-05: no uplift
    assert older_model.total_usd == Decimal("0.028") and older_model.modifiers == ""


def test_flex_before_and_after_its_effective_date(caplog: pytest.LogCaptureFixture) -> None:
    book = PriceBook()
    with caplog.at_level(logging.WARNING):
        early = book.token_cost("o3", USAGE, datetime(2025, 4, 1, tzinfo=UTC), terms=PriceTerms("flex"))
    assert isinstance(early, Unpriced) and "flex" in early.reason
    late = cost("o3", datetime(2025, 7, 1, tzinfo=UTC), tier="flex")
    # o3 from 2025-06-10: input $2, cached $0.50, output $8; flex 0.5x:
    # 5,000 x $1 = $0.005; 4,000 x $0.25 = $0.001; 1,000 x $1 = $0.001; 2,000 x $4 = $0.008.
    assert parts(late) == d("0.005", "0.001", "0.001", "0.008")


def test_modifier_overrides_dict_file_and_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    overrides = {
        "models": {
            "house-model": {
                "input_per_1m": "3",
                "output_per_1m": "9",
                "cached_input_per_1m": "0.3",
                "cache_write_per_1m": "3.75",
            }
        },
        "token_modifiers": {
            "service_tiers": {
                "flex": [{"effective_from": "2026-01-01", "multiplier": "0.4"}],
                "priority": [{"effective_from": "2026-01-01", "multipliers": {"house-model": "3"}}],
            },
            "completion_windows": {"24h": [{"multiplier": "0.5"}]},
        },
    }
    path = tmp_path / "prices.json"
    path.write_text(json.dumps(overrides))
    monkeypatch.setenv(ENV_PRICES, str(path))
    for book in (PriceBook(overrides), PriceBook(path), PriceBook()):
        flex = cost("gpt-5", SEP_2026, tier="flex", book=book)
        # override flex 0.4x from 2026-01-01: 5,000 x $0.50 = $0.0025; 4,000 x $0.05 = $0.0002;
        # 1,000 x $0.50 = $0.0005; 2,000 x $4 = $0.008.
        assert parts(flex) == d("0.0025", "0.0002", "0.0005", "0.008")
        earlier = cost("gpt-5", datetime(2025, 12, 1, tzinfo=UTC), tier="flex", book=book)
        assert earlier.total_usd == Decimal("0.014")  # before the override: shipped 0.5x of $0.028
        house = cost("house-model", SEP_2026, tier="priority", window="24h", book=book)
        # own rates, priority 3x, 24h window 0.5x: 1.5x: 5,000 x $4.50 = $0.0225; 4,000 x $0.45 = $0.0018;
        # 1,000 x $5.625 = $0.005625; 2,000 x $13.50 = $0.027.
        assert parts(house) == d("0.0225", "0.0018", "0.005625", "0.027")


def test_malformed_modifier_override_fails_at_construction() -> None:
    with pytest.raises(ValueError, match="invalid price overrides"):
        PriceBook({"token_modifiers": {"service_tiers": {"flex": [{"effective_from": "2026-01-01"}]}}})


@pytest.mark.parametrize(
    ("model_name", "terms", "usage", "reason"),
    [
        ("gpt-5", PriceTerms("scale"), USAGE, "'scale' tier"),
        ("gpt-5", PriceTerms("turbo-deluxe"), USAGE, "'turbo-deluxe' tier"),
        ("gpt-5", PriceTerms(None, "24h"), USAGE, "completion window '24h'"),
        ("house-llm", PriceTerms(), USAGE, "no price for model"),
        ("gpt-5", PriceTerms(), Usage(1_000, 10, cached_input_tokens=900, cache_write_tokens=200), "exceed"),
    ],
)
def test_what_cannot_be_priced_is_unpriced_never_zero(
    model_name: str, terms: PriceTerms, usage: Usage, reason: str
) -> None:
    result = PriceBook().token_cost(model_name, usage, SEP_2026, terms=terms)
    assert isinstance(result, Unpriced) and reason in result.reason


def test_standard_terms_price_as_the_assistants_path() -> None:
    book = PriceBook()
    plain = Usage(10_000, 2_000)
    for tier in (None, "default", "auto"):
        with_terms = book.token_cost("gpt-4o", plain, SEP_2026, terms=PriceTerms(tier))
        assert with_terms == book.token_cost("gpt-4o", plain, SEP_2026)
    # gpt-4o-2024-08-06: 10,000 x $2.50 = $0.025 and 2,000 x $10 = $0.02, as for an Assistants run.
    assert parts(cost("gpt-4o", SEP_2026, usage=plain)) == d("0.025", "0", "0", "0.02")


@pytest.mark.parametrize(
    ("pattern", "name", "matches"),
    [
        ("gpt-5.4+", "gpt-5.4", True),
        ("gpt-5.4+", "gpt-5.4-mini-2026-03-17", True),
        ("gpt-5.4+", "gpt-5.10", True),
        ("gpt-5.4+", "gpt-6", True),
        ("gpt-5.4+", "gpt-5.2", False),
        ("gpt-5.4+", "gpt-5", False),
        ("gpt-5.4+", "o3", False),
        ("gpt-5", "gpt-5", True),
        ("gpt-5", "gpt-5-2025-08-07", True),
        ("gpt-5", "gpt-5-mini", False),
        ("gpt-5", "gpt-5.5", False),
        ("gpt-4o", "GPT-4o-2024-11-20", True),
    ],
)
def test_model_patterns_of_modifier_entries(pattern: str, name: str, matches: bool) -> None:
    from opentelemetry.instrumentation.openai_assistants.accounting.modifiers import model_matches

    assert model_matches(pattern, name) is matches
