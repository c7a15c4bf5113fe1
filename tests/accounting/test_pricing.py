"""Prices in force on the run's date; overrides; deployments; unpriced is never 0."""

from __future__ import annotations

import json
import logging
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from opentelemetry.instrumentation.openai_assistants.accounting.pricing import (
    ENV_PRICES,
    PriceBook,
    SessionCost,
    TokenCost,
    Unpriced,
)
from opentelemetry.instrumentation.openai_assistants.model import Usage

USAGE = Usage(input_tokens=1_000, output_tokens=200)
MAY_2024 = int(datetime(2024, 6, 1, tzinfo=UTC).timestamp())
NOV_2024 = int(datetime(2024, 11, 1, tzinfo=UTC).timestamp())


def test_gpt_4o_alias_priced_at_the_snapshot_of_the_runs_date() -> None:
    book = PriceBook()
    june = book.token_cost("gpt-4o", USAGE, MAY_2024)
    november = book.token_cost("gpt-4o", USAGE, NOV_2024)
    assert isinstance(june, TokenCost) and isinstance(november, TokenCost)
    # gpt-4o-2024-05-13: $5 / $15 per 1M tokens; gpt-4o-2024-08-06 (the alias from 2024-10-02): $2.50 / $10.
    assert (june.model, june.input_usd, june.output_usd) == (
        "gpt-4o-2024-05-13",
        Decimal("0.005"),
        Decimal("0.003"),
    )
    assert (november.model, november.input_usd, november.output_usd) == (
        "gpt-4o-2024-08-06",
        Decimal("0.0025"),
        Decimal("0.002"),
    )


def test_dated_genai_prices_entry_gives_its_effective_date() -> None:
    before = PriceBook().token_cost("o3", USAGE, datetime(2025, 6, 1, tzinfo=UTC))
    after = PriceBook().token_cost("o3", USAGE, datetime(2025, 6, 11, tzinfo=UTC))
    assert isinstance(before, TokenCost) and isinstance(after, TokenCost)
    assert (before.input_usd, after.input_usd) == (Decimal("0.01"), Decimal("0.002"))  # $10 then $2 per 1M
    assert after.effective_from == date(2025, 6, 10)
    assert after.source.startswith("genai-prices")


def test_unknown_model_is_unpriced_once_warned(caplog: pytest.LogCaptureFixture) -> None:
    book = PriceBook()
    with caplog.at_level(logging.WARNING):
        results = [book.token_cost("my-own-model", USAGE, NOV_2024) for _ in range(3)]
    assert all(isinstance(r, Unpriced) and "my-own-model" in r.reason for r in results)
    assert len([r for r in caplog.records if "my-own-model" in r.getMessage()]) == 1
    assert isinstance(book.token_cost(None, USAGE, NOV_2024), Unpriced)


def test_override_dict_with_dated_entries() -> None:
    book = PriceBook(
        {
            "models": {
                "my-own-model": [
                    {"effective_from": "2024-01-01", "input_per_1m": "1.00", "output_per_1m": 2},
                    {"effective_from": "2024-09-01", "input_per_1m": 0.5, "output_per_1m": "1"},
                ],
                "gpt-4o-mini": {"input_per_1m": "0.10", "output_per_1m": "0.30"},
            },
            "code_interpreter_session": "0.05",
        }
    )
    early, late = (
        book.token_cost("my-own-model", USAGE, MAY_2024),
        book.token_cost("my-own-model", USAGE, NOV_2024),
    )
    assert isinstance(early, TokenCost) and isinstance(late, TokenCost)
    assert (early.input_usd, early.output_usd, early.effective_from) == (
        Decimal("0.001"),
        Decimal("0.0004"),
        date(2024, 1, 1),
    )
    assert (late.input_usd, late.output_usd) == (Decimal("0.0005"), Decimal("0.0002"))
    mini = book.token_cost("gpt-4o-mini", USAGE, NOV_2024)
    assert isinstance(mini, TokenCost) and mini.input_usd == Decimal("0.0001") and mini.source == "override"
    before = book.token_cost(
        "my-own-model", USAGE, int(datetime(2023, 1, 1, tzinfo=UTC).timestamp())
    )
    assert isinstance(before, Unpriced)
    session = book.session_cost("openai", NOV_2024)
    assert isinstance(session, SessionCost) and session.usd == Decimal("0.05")


def test_override_file_and_env_var(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "prices.json"
    path.write_text(
        json.dumps(
            {
                "models": {"local-llm": {"input_per_1m": "3", "output_per_1m": "6"}},
                "deployments": {"prod-chat": "local-llm"},
            }
        )
    )
    for book in (PriceBook(str(path)), PriceBook(path)):
        cost = book.token_cost("local-llm", USAGE, NOV_2024)
        assert isinstance(cost, TokenCost) and cost.input_usd == Decimal("0.003") and str(path) in cost.source
    monkeypatch.setenv(ENV_PRICES, str(path))
    cost = PriceBook().token_cost("prod-chat", USAGE, NOV_2024)
    assert isinstance(cost, TokenCost) and cost.output_usd == Decimal("0.0012")


def test_malformed_override_fails_at_construction() -> None:
    with pytest.raises(ValueError, match="invalid price overrides"):
        PriceBook({"models": {"m": {"input_per_1m": "1"}}})


def test_deployment_mapping() -> None:
    book = PriceBook(deployments={"contoso-gpt4o": "gpt-4o-mini"})
    assert book.resolve_model("contoso-gpt4o") == "gpt-4o-mini"
    cost = book.token_cost("contoso-gpt4o", USAGE, NOV_2024, provider="azure.ai.openai")
    assert isinstance(cost, TokenCost)
    assert (cost.input_usd, cost.output_usd) == (Decimal("0.00015"), Decimal("0.00012"))  # $0.15 / $0.60
    assert isinstance(PriceBook().token_cost("contoso-gpt4o", USAGE, NOV_2024), Unpriced)


def test_session_price_is_dated_and_sourced() -> None:
    book = PriceBook()
    cost = book.session_cost("openai", NOV_2024)
    assert isinstance(cost, SessionCost)
    assert (
        cost.usd == Decimal("0.03")
        and cost.effective_from == date(2023, 11, 6)
        and "Code Interpreter" in cost.source
    )
    azure = book.session_cost("azure.ai.openai", NOV_2024)
    assert isinstance(azure, SessionCost) and azure.usd == Decimal("0.03")
    assert isinstance(
        book.session_cost("openai", int(datetime(2023, 1, 1, tzinfo=UTC).timestamp())), Unpriced
    )
    assert isinstance(book.session_cost("some-other-server", NOV_2024), Unpriced)


# --- Rates resolved once: the same decimals as genai-prices' calc_price, one lookup per model and day ---

EQUALITY_TABLE = [
    ("gpt-4o-2024-05-13", datetime(2024, 6, 1, tzinfo=UTC)),
    ("gpt-4o-2024-08-06", datetime(2024, 11, 1, tzinfo=UTC)),
    ("gpt-4o-mini", datetime(2025, 1, 15, tzinfo=UTC)),
    ("gpt-4-turbo-preview", datetime(2024, 3, 1, tzinfo=UTC)),
    ("gpt-4-1106-preview", datetime(2024, 1, 10, tzinfo=UTC)),
    ("gpt-3.5-turbo-0125", datetime(2024, 5, 1, tzinfo=UTC)),
    ("gpt-4.1", datetime(2025, 5, 1, tzinfo=UTC)),
    ("o3", datetime(2025, 6, 1, tzinfo=UTC)),
    ("o3", datetime(2025, 6, 11, tzinfo=UTC)),
    ("gpt-5", datetime(2025, 9, 1, tzinfo=UTC)),
    ("gpt-5.4", datetime(2026, 4, 1, tzinfo=UTC)),
    ("gpt-5.6-terra", datetime(2026, 7, 1, tzinfo=UTC)),
    ("gpt-5.6-terra", datetime(2026, 8, 1, tzinfo=UTC)),
]
USAGES = [Usage(1_000, 200), Usage(123_457, 98_765), Usage(300_001, 7), Usage(0, 0), Usage(1, 1)]


@pytest.mark.parametrize(("snapshot", "when"), EQUALITY_TABLE)
def test_cached_rates_price_exactly_as_calc_price(snapshot: str, when: datetime) -> None:
    import genai_prices

    book = PriceBook()
    for usage in USAGES:
        cost = book.token_cost(snapshot, usage, when)
        calc = genai_prices.calc_price(
            genai_prices.Usage(input_tokens=usage.input_tokens, output_tokens=usage.output_tokens),
            model_ref=snapshot,
            provider_id="openai",
            genai_request_timestamp=when,
        )
        assert isinstance(cost, TokenCost)
        assert (cost.input_usd, cost.output_usd) == (calc.input_price, calc.output_price), (snapshot, usage)
        assert cost.cached_input_usd == 0 and cost.cache_write_usd == 0 and cost.total_usd == calc.total_price


def test_rates_are_resolved_once_per_model_and_day(monkeypatch: pytest.MonkeyPatch) -> None:
    import genai_prices

    calls: list[str] = []
    real = genai_prices.calc_price

    def counting(*args: object, **kwargs: object) -> object:
        calls.append(str(kwargs.get("model_ref")))
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(genai_prices, "calc_price", counting)
    book = PriceBook()
    costs = {book.token_cost("gpt-4o", Usage(n, n), NOV_2024 + n) for n in range(1, 200)}
    assert len(costs) == 199 and calls == ["gpt-4o-2024-08-06"]  # one day, one lookup
    book.token_cost("gpt-4o", USAGE, NOV_2024 + 86_400)  # the next day: looked up again
    assert len(calls) == 2
    for _ in range(5):  # unpriced results are cached too
        assert isinstance(book.token_cost("no-such-model", USAGE, NOV_2024), Unpriced)
    assert calls.count("no-such-model") == 1


def test_rate_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    import genai_prices

    calls: list[str] = []
    real = genai_prices.calc_price

    def counting(*args: object, **kwargs: object) -> object:
        calls.append(str(kwargs.get("model_ref")))
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(genai_prices, "calc_price", counting)
    book = PriceBook(cache_size=2)
    for model_name in ("gpt-4.1", "o3", "gpt-5", "gpt-4.1"):  # gpt-4.1 was evicted by the third
        book.token_cost(model_name, USAGE, NOV_2024)
    assert calls == ["gpt-4.1", "o3", "gpt-5", "gpt-4.1"]
    book.token_cost("gpt-4.1", USAGE, NOV_2024)  # the most recent two stay
    assert len(calls) == 4


def test_rate_cache_is_thread_safe() -> None:
    from concurrent.futures import ThreadPoolExecutor

    book = PriceBook(cache_size=8)
    models = ["gpt-4o", "gpt-4.1", "o3", "gpt-5", "gpt-4o-mini", "gpt-5.4", "o3-mini", "gpt-4-turbo"]
    expected = {m: PriceBook().token_cost(m, USAGE, NOV_2024) for m in models}

    def price(i: int) -> bool:
        name = models[i % len(models)]
        return book.token_cost(name, USAGE, NOV_2024) == expected[name]

    with ThreadPoolExecutor(8) as pool:
        assert all(pool.map(price, range(4_000)))


def test_every_openai_model_of_genai_prices_priced_as_calc_price() -> None:
    """Each model id genai-prices lists for OpenAI, on dates from 2023 to now, equals calc_price exactly;
    a model without input and output token rates (audio, image, moderation) is unpriced, never 0."""
    import genai_prices
    from genai_prices import data_snapshot

    provider = next(p for p in data_snapshot.get_snapshot().providers if p.id == "openai")
    book = PriceBook()
    dates = [datetime(year, month, 15, tzinfo=UTC) for year in (2023, 2024, 2025, 2026) for month in (2, 8)]
    compared = 0
    for info in provider.models:
        if book.resolve_model(info.id) != book.snapshot(info.id, dates[-1]):
            continue  # an alias with a dated history (gpt-4o): priced at the snapshot of the date instead
        for when in dates:
            for usage in (Usage(123_457, 9_876), Usage(272_001, 3)):
                cost = book.token_cost(info.id, usage, when)
                try:
                    calc = genai_prices.calc_price(
                        genai_prices.Usage(input_tokens=usage.input_tokens, output_tokens=usage.output_tokens),
                        model_ref=info.id,
                        provider_id="openai",
                        genai_request_timestamp=when,
                    )
                except LookupError:  # an id its own matching does not find (ft:gpt-4o)
                    assert isinstance(cost, Unpriced), info.id
                    continue
                if isinstance(cost, Unpriced):
                    assert calc.model_price.input_mtok is None or calc.model_price.output_mtok is None, info.id
                    continue
                assert (cost.input_usd, cost.output_usd) == (calc.input_price, calc.output_price), (info.id, when)
                compared += 1
    assert compared > 1_000
