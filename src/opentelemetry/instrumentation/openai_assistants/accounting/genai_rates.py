"""Per-token rates read once from genai-prices' data (the same figures ``calc_price`` would use).

``calc_price`` resolves the model, the dated price and the service-tier variant on every call;
here that resolution runs once per (model, provider, day, tier) and its result becomes a
``rates.Rates``, so later prices are plain multiplication with the same decimals.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Optional

from .rates import MISSING, Rates, TierRates

TIER_KEY = "service_tier"
_KEYS = ("input_mtok", "cache_read_mtok", "cache_write_mtok", "output_mtok")


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
        elif isinstance(value, Decimal):
            base.append(value)
            long.append(value)
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
