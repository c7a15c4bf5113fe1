"""Per-token rates read once from genai-prices' data (the same figures ``calc_price`` would use).

``calc_price`` resolves the model, the dated price and the service-tier variant on every call;
here that resolution runs once per (model, provider, day, tier) and its result becomes a
``rates.Rates``, so later prices are plain multiplication with the same decimals.

Audio token rates come from the table's ``input_audio_mtok``/``output_audio_mtok``; where it has
none (genai-prices 0.2.5 lacks them for ``gpt-4o-audio-preview`` and ``gpt-4o-mini-audio-preview``),
from our dated, sourced ``prices/chat.json``. An embedding model, which the table prices by input
only, produces no output tokens: its output rate is 0, not missing.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from importlib import resources
from typing import Any, Optional

from .dated import in_force
from .rates import MISSING, ZERO, Rates, TierRates

TIER_KEY = "service_tier"
_KEYS = ("input_mtok", "cache_read_mtok", "cache_write_mtok", "output_mtok", "input_audio_mtok", "output_audio_mtok")


def lookup(snapshot: str, provider_id: str, when: datetime, tier: str) -> Optional[tuple[Rates, bool, bool]]:
    """Rates of ``snapshot`` on ``when``, whether genai-prices priced ``tier`` itself, and whether the
    result holds for the whole day (prices with a time-of-day constraint do not). None: unknown model."""
    import genai_prices

    context = {TIER_KEY: tier} if tier else None
    try:
        calc = genai_prices.calc_price(
            genai_prices.Usage(input_tokens=0, output_tokens=0),
            model_ref=snapshot,
            provider_id=provider_id,
            genai_request_timestamp=when,
            price_context=context,
        )
    except LookupError:
        return None
    base, long, above = _tiers(calc.model_price)
    base, long = _with_audio(base, calc.model.id, snapshot, when), _with_audio(long, calc.model.id, snapshot, when)
    if "embedding" in calc.model.id and base.input >= 0 and base.output < 0:
        base = replace(base, output=ZERO)
    version = getattr(genai_prices, "__version__", "?")
    rates = Rates(
        base,
        _effective_from(calc.model.prices, when),
        f"genai-prices {version} ({calc.provider.id}/{calc.model.id})",
        snapshot,
        long,
        above,
    )
    own_model = any(calc.model is m for m in calc.provider.models)
    tier_done = bool(tier) and own_model and _variant_active(calc.model, tier, when)
    return rates, tier_done, _whole_day(calc.model)


def _tiers(model_price: Any) -> tuple[TierRates, Optional[TierRates], Optional[int]]:
    """Base rates, and the long-context rates with their threshold when the table has tiers."""
    base: list[Decimal] = []
    long: list[Decimal] = []
    starts: set[int] = set()
    for key in _KEYS:
        value = getattr(model_price, key, None)
        if value is None:
            base.append(MISSING)
            long.append(MISSING)
        elif isinstance(value, (int, Decimal)):
            base.append(Decimal(value))
            long.append(Decimal(value))
        else:  # TieredPrices: one threshold above which the whole request pays the tier rate
            if len(value.tiers) != 1:
                raise ValueError(f"{len(value.tiers)} price tiers for {key}")
            base.append(value.base)
            long.append(value.tiers[0].price)
            starts.add(value.tiers[0].start)
    if len(starts) > 1:
        raise ValueError(f"price tiers with different thresholds: {sorted(starts)}")
    if not starts:
        return TierRates(*base), None, None
    return TierRates(*base), TierRates(*long), starts.pop()


def _effective_from(prices: Any, when: datetime) -> Optional[date]:
    """The start date of the dated price in force on ``when`` (None: undated)."""
    if isinstance(prices, list):  # dated prices: the last one active on the date applies
        for conditional in reversed(prices):
            constraint = conditional.constraint
            if constraint is None or constraint.active(when):
                return getattr(constraint, "start_date", None)
    return None


def _variant_active(model_info: Any, tier: str, when: datetime) -> bool:
    return any(
        variant.when == {TIER_KEY: tier} and (variant.constraint is None or variant.constraint.active(when))
        for variant in model_info.price_variants or ()
    )


def _whole_day(model_info: Any) -> bool:
    """Whether every price constraint of the model is a start date (not a time of day)."""
    prices = model_info.prices if isinstance(model_info.prices, list) else []
    constraints = [p.constraint for p in prices] + [v.constraint for v in model_info.price_variants or ()]
    return all(c is None or hasattr(c, "start_date") for c in constraints)


@dataclass(frozen=True)
class _AudioEntry:
    effective_from: date
    audio_input: Decimal
    audio_output: Decimal


@functools.lru_cache(maxsize=1)
def _audio_table() -> dict[str, tuple[_AudioEntry, ...]]:
    raw = json.loads(resources.files(__package__).joinpath("prices", "chat.json").read_text(encoding="utf-8"))
    return {
        model.lower(): tuple(_AudioEntry(date.fromisoformat(e["effective_from"]), Decimal(e["audio_input_per_1m"]),
                                         Decimal(e["audio_output_per_1m"])) for e in entries)
        for model, entries in raw["audio_rates"].items()
    }


def _with_audio(rates: Optional[TierRates], model_id: str, snapshot: str, when: datetime) -> Any:
    """``rates`` with the audio rates of our table where genai-prices has none."""
    if rates is None or (rates.audio_input >= 0 and rates.audio_output >= 0):
        return rates
    table = _audio_table()
    entries = table.get(model_id.lower()) or table.get(snapshot.lower())
    entry = in_force(entries or (), when.date())
    if entry is None:
        return rates
    return replace(rates, audio_input=rates.audio_input if rates.audio_input >= 0 else entry.audio_input,
                   audio_output=rates.audio_output if rates.audio_output >= 0 else entry.audio_output)
