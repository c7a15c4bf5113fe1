"""Prices in force on a run's or response's date: tokens from genai-prices, the rest from our data files.

Token prices come from ``genai-prices`` (offline data, dated per model; its ``UpdatePrices``
fetches from the internet and is never started here). Gaps are filled with our own dated,
sourced files under ``prices/``: the Code Interpreter session price (``code_interpreter.json``),
what each alias pointed to when (``aliases.json``, because genai-prices prices ``gpt-4o`` at what
it points to today), and the token price modifiers of the Responses API (``token_modifiers.json``:
service tier, background completion window, long context, regional processing, prompt-cache
rates). User overrides (a file, a dict, or the file named by
``OTEL_INSTRUMENTATION_OPENAI_ASSISTANTS_PRICES``) come first; deployment names (Azure, compatible
servers) map to model names before any lookup.

Rates are resolved once per (provider, model, day, terms) into a frozen ``rates.Rates`` and cached
(bounded, thread-safe; unpriced results too), so pricing a step or a response is Decimal
multiplication. A usage is priced as: ordinary input (input - cached - cache writes), cached reads
and cache writes each at their own rate, output (reasoning is part of it, never added again).
Rates: the table (override, else genai-prices: its ``cache_read_mtok``/``cache_write_mtok``, its
long-context tiers and, from 2026-10-12, its service-tier variants); where the table lacks a
cached or cache-write rate, the ``prompt_cache`` rule (GPT-5.6 and later: 0.1x and 1.25x input;
older models: input rate); long context (the whole request above the threshold) from
genai-prices' tiers, or the ``long_context`` rule for models priced by overrides; then the served
service tier (flex, priority/fast; default and auto are standard), the background completion
window (2h, 8h) and regional processing, each a multiplier from the entry in force. A tier or
window with no entry in force, an unknown model, or inconsistent usage is ``Unpriced``, never 0.
A flex request refused with 429 has no usage and so nothing to price.

genai-prices 0.2.3 figures checked against OpenAI's published price list (USD per 1M input/output
tokens): gpt-4o-2024-05-13 5/15; gpt-4o-2024-08-06 2.50/10; gpt-4o-mini 0.15/0.60; gpt-4-turbo,
gpt-4-1106-preview, gpt-4-0125-preview 10/30; gpt-4 30/60; gpt-3.5-turbo-0125 0.50/1.50,
-1106 1/2, -0613 1.50/2; gpt-4.1 2/8; gpt-4.1-mini 0.40/1.60; o1 15/60; o3-mini 1.10/4.40;
o3 10/40, then 2/8 from 2025-06-10; gpt-5 1.25/10. All agree. Assistants usage reports no cached
tokens, so Assistants runs are priced at the input and output rates only.

Override file format (JSON; money as strings or numbers, per 1M tokens)::

    {"models": {"my-model": {"input_per_1m": "1.10", "output_per_1m": "4.40",
                             "cached_input_per_1m": "0.11", "cache_write_per_1m": "1.375"},
                "gpt-4o": [{"effective_from": "2024-05-13", "input_per_1m": 5, "output_per_1m": 15},
                           {"effective_from": "2024-10-02", "input_per_1m": 2.5, "output_per_1m": 10}]},
     "code_interpreter_session": "0.03"   (or a list of {"usd_per_session", "effective_from", "provider"}),
     "deployments": {"my-azure-deployment": "gpt-4o"},
     "token_modifiers": {
         "tier_aliases": {"fast": "priority"},
         "service_tiers": {"flex": [{"effective_from": "2025-04-16", "multiplier": "0.5"}],
                           "priority": [{"effective_from": "2025-08-07", "multipliers": {"my-model": "2"}}]},
         "completion_windows": {"2h": [{"effective_from": "2026-08-26", "multiplier": "0.7"}]},
         "long_context": [{"effective_from": "2026-03-05", "models": ["gpt-5.4+"], "above_input_tokens": 272000,
                           "input_multiplier": "2", "output_multiplier": "1.5"}],
         "regional": [{"effective_from": "2026-03-05", "models": ["gpt-5.4+"], "multiplier": "1.1"}],
         "regional_hosts": {"hosts": ["eu.api.example-proxy.internal"]},
         "prompt_cache": [{"models": ["gpt-5.6+"], "cached_input_multiplier": "0.1",
                           "cache_write_multiplier": "1.25"}]}}

``cached_input_per_1m`` and ``cache_write_per_1m`` are optional (else the ``prompt_cache`` rule).
In ``token_modifiers`` every entry may carry ``effective_from`` (default 1970-01-01), ``source`` and
``models`` (``gpt-5.4+``: every gpt-X.Y at or above 5.4; other patterns: that model and its dated
snapshots; absent: all models); an override entry in force wins over the shipped ones of the same
name. ``regional_hosts`` adds host names to the shipped data-residency hosts. The shipped file
``prices/token_modifiers.json`` documents each entry's source. Which terms apply to a response
(served tier, eligible window, regional host) is decided by ``terms.py``, never here.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from decimal import Decimal
from importlib import resources
from typing import Any, Optional, Union

from .. import model
from .dated import in_force
from .modifiers import SOONEST, STANDARD_TIERS, Entry, Modifiers
from .rates import MILLION, MISSING, LruCache, Rates, TierRates, usd

logger = logging.getLogger(__name__)

ENV_PRICES = "OTEL_INSTRUMENTATION_OPENAI_ASSISTANTS_PRICES"
__all__ = ["ENV_PRICES", "MILLION", "PriceBook", "SessionCost", "TokenCost", "Unpriced", "at_datetime"]

# Our provider names (gen_ai.provider.name) -> genai-prices provider ids.
GENAI_PRICES_PROVIDERS = {"openai": "openai", "azure.ai.openai": "azure"}
LONG_CONTEXT = "long_context"


@dataclass(frozen=True)
class TokenCost:
    """Cost of one usage: exact USD per part, the price entry's effective date (None: undated), its source.

    ``input_usd`` is ordinary input only (input - cached - cache writes); ``modifiers`` names what
    changed the table rates, comma-separated (``flex``, ``priority``, ``window:2h``,
    ``long_context``, ``regional``), empty for standard rates.
    """

    input_usd: Decimal
    output_usd: Decimal
    effective_from: Optional[date]
    source: str
    model: str  # the model or snapshot priced
    cached_input_usd: Decimal = Decimal(0)
    cache_write_usd: Decimal = Decimal(0)
    modifiers: str = ""
    audio_input_usd: Decimal = Decimal(0)  # audio parts (chat audio models), each at its own rate
    audio_output_usd: Decimal = Decimal(0)

    @property
    def total_usd(self) -> Decimal:
        return (self.input_usd + self.cached_input_usd + self.cache_write_usd + self.output_usd
                + self.audio_input_usd + self.audio_output_usd)


@dataclass(frozen=True)
class SessionCost:
    usd: Decimal
    effective_from: date
    source: str


@dataclass(frozen=True)
class Unpriced:
    """Why no price applies: the caller records no cost, never a cost of 0."""

    reason: str


@dataclass(frozen=True)
class _Dated:
    effective_from: date
    values: tuple[Decimal, ...]
    source: str
    provider: Optional[str] = None


@dataclass(frozen=True)
class _ModelPrice:
    """An override's token price: per 1M tokens; cached and cache-write rates optional."""

    effective_from: date
    input: Decimal
    output: Decimal
    cached_input: Optional[Decimal]
    cache_write: Optional[Decimal]
    source: str


def _decimal(value: Any) -> Decimal:
    if isinstance(value, float):
        value = repr(value)  # the shortest text that reads back as this float: 0.03 stays "0.03"
    return Decimal(str(value))


def _optional_decimal(value: Any) -> Optional[Decimal]:
    return None if value is None else _decimal(value)


def _date(value: Any) -> date:
    return date.fromisoformat(str(value))


def at_datetime(at: Union[int, float, datetime, None]) -> datetime:
    """An API timestamp (seconds) or datetime as an aware UTC datetime; None means now."""
    if at is None:
        return datetime.now(UTC)
    if isinstance(at, datetime):
        return at if at.tzinfo else at.replace(tzinfo=UTC)
    return datetime.fromtimestamp(at, tz=UTC)


def _day_key(at: Union[int, float, datetime, None]) -> Union[int, date]:
    """The UTC day of ``at``, cheaply: days since the epoch for API timestamps."""
    if isinstance(at, (int, float)) and not isinstance(at, bool):
        return int(at // 86_400)
    return at_datetime(at).astimezone(UTC).date()


def _in_force(entries: list[_Dated], day: date, provider: Optional[str] = None) -> Optional[_Dated]:
    """The latest entry effective on ``day`` (for ``provider`` when entries name one)."""
    return in_force((e for e in entries if provider is None or e.provider in (None, provider)), day)


def _read_json(name: str) -> Any:
    text = resources.files(__package__).joinpath("prices", name).read_text(encoding="utf-8")
    return json.loads(text)

Overrides = Union[str, "os.PathLike[str]", Mapping[str, Any], None]


def load_overrides(overrides: Overrides) -> tuple[Mapping[str, Any], str]:
    """The user's override data and where it came from: a dict, a JSON file path, or (None) the file
    named by ``OTEL_INSTRUMENTATION_OPENAI_ASSISTANTS_PRICES``. A file that can't be read raises."""
    if overrides is None and os.environ.get(ENV_PRICES):
        overrides = os.environ[ENV_PRICES]
    if isinstance(overrides, (str, os.PathLike)):
        with open(overrides, encoding="utf-8") as fh:
            return json.load(fh), f"override file {os.fspath(overrides)}"
    return overrides or {}, "override"



def _model_entries(raw: Any, source: str) -> list[_ModelPrice]:
    items = raw if isinstance(raw, list) else [raw]
    return [
        _ModelPrice(
            _date(item.get("effective_from", "1970-01-01")),
            _decimal(item["input_per_1m"]),
            _decimal(item["output_per_1m"]),
            _optional_decimal(item.get("cached_input_per_1m")),
            _optional_decimal(item.get("cache_write_per_1m")),
            str(item.get("source", source)),
        )
        for item in items
    ]


def _session_entries(raw: Any, source: str) -> list[_Dated]:
    items = raw if isinstance(raw, list) else [raw]
    entries = []
    for item in items:
        if not isinstance(item, Mapping):
            item = {"usd_per_session": item}
        entries.append(
            _Dated(
                _date(item.get("effective_from", "1970-01-01")),
                (_decimal(item["usd_per_session"]),),
                str(item.get("source", source)),
                item.get("provider"),
            )
        )
    return entries


def price_usage(rates: Rates, usage: model.Usage) -> Union[TokenCost, Unpriced]:
    """Cost of ``usage`` at resolved ``rates``: each part at its own rate, long context by input size."""
    cached, written = usage.cached_input_tokens or 0, usage.cache_write_tokens or 0
    audio_in, audio_out = usage.audio_input_tokens or 0, usage.audio_output_tokens or 0
    ordinary = usage.input_tokens - cached - written - audio_in
    if ordinary < 0 or cached < 0 or written < 0 or audio_in < 0:
        return Unpriced("cached, cache-write and audio tokens exceed the input tokens")
    if not 0 <= audio_out <= usage.output_tokens:
        return Unpriced("audio tokens exceed the output tokens")
    tier, long = rates.for_input(usage.input_tokens)
    if (audio_in and tier.audio_input < 0) or (audio_out and tier.audio_output < 0):
        return Unpriced(f"no audio token rates for model {rates.model!r}")
    return TokenCost(
        usd(tier.input, ordinary),
        usd(tier.output, usage.output_tokens - audio_out),
        rates.effective_from,
        rates.source,
        rates.model,
        usd(tier.cached_input, cached),
        usd(tier.cache_write, written),
        rates.note(LONG_CONTEXT) if long else rates.modifiers,
        usd(tier.audio_input, audio_in),
        usd(tier.audio_output, audio_out),
    )


class PriceBook:
    """Token and session prices by model, provider, date and terms. Thread-safe; never raises on lookups.

    ``overrides``: a dict in the override format, a path to such a JSON file, or None to read the
    file named by ``OTEL_INSTRUMENTATION_OPENAI_ASSISTANTS_PRICES`` (if set). A malformed override
    raises ``ValueError`` at construction: configuration errors show up at start, not as missing costs.
    ``deployments``: deployment name -> model name, merged over the overrides' ``deployments``.
    ``cache_size``: how many resolved rates (per provider, model, day and terms) are kept.
    """

    def __init__(
        self,
        overrides: Overrides = None,
        deployments: Optional[Mapping[str, str]] = None,
        cache_size: int = 4096,
    ) -> None:
        data, source = load_overrides(overrides)
        try:
            models = dict(data.get("models", {}))
            self._models = {name.lower(): _model_entries(raw, source) for name, raw in models.items()}
            self._sessions = (
                _session_entries(data["code_interpreter_session"], source)
                if "code_interpreter_session" in data
                else []
            )
            self._modifiers = Modifiers(
                _read_json("token_modifiers.json"), dict(data.get("token_modifiers", {})), source
            )
        except (KeyError, TypeError, ValueError, ArithmeticError, AttributeError) as exc:
            raise ValueError(f"invalid price overrides ({source}): {exc}") from exc
        self._deployments = {**dict(data.get("deployments", {})), **dict(deployments or {})}
        builtin = _read_json("code_interpreter.json")
        self._builtin_sessions = _session_entries(builtin["sessions"], "prices/code_interpreter.json")
        self._aliases = {
            alias.lower(): [
                _Dated(_date(e["effective_from"]), (), str(e["source"]), provider=str(e["target"]))
                for e in entries
            ]
            for alias, entries in _read_json("aliases.json")["aliases"].items()
        }
        self._rates: LruCache[Union[Rates, Unpriced]] = LruCache(cache_size)
        self._warned: set[str] = set()
        self._lock = threading.Lock()

    @property
    def regional_hosts(self) -> frozenset[str]:
        """Data-residency hosts: a request sent to one is regional processing (shipped list plus overrides)."""
        return self._modifiers.regional_hosts

    def resolve_model(self, model_name: Optional[str]) -> Optional[str]:
        """The model behind a deployment name (unchanged when it is no known deployment)."""
        if model_name is None:
            return None
        return self._deployments.get(model_name, model_name)

    def snapshot(self, model_name: str, at: Union[int, float, datetime, None]) -> str:
        """The snapshot an alias pointed to on ``at`` (the name itself when no alias history is known)."""
        entries = self._aliases.get(model_name.lower())
        if not entries:
            return model_name
        day = at_datetime(at).date()
        chosen = _in_force(entries, day) or min(entries, key=lambda e: e.effective_from)
        return chosen.provider or model_name

    def token_cost(
        self,
        model_name: Optional[str],
        usage: model.Usage,
        at: Union[int, float, datetime, None],
        provider: str = "openai",
        terms: Optional[model.PriceTerms] = None,
    ) -> Union[TokenCost, Unpriced]:
        """Cost of ``usage`` of ``model_name`` at the prices in force on ``at`` (``created_at``).

        ``terms``: the served ``service_tier``, the request's background ``completion_window`` and
        ``regional`` processing (Responses); None prices at standard rates (Assistants). Returns a
        ``TokenCost`` (``input_usd`` ordinary input, ``cached_input_usd``, ``cache_write_usd``,
        ``output_usd``, ``total_usd``, ``modifiers``, ``effective_from``, ``source``, ``model``) or
        ``Unpriced(reason)``: unknown model, tier or window, or inconsistent usage; never 0.
        """
        if not model_name:
            return self._unpriced("", "the run names no model")
        try:
            rates = self.rates(model_name, at, provider, terms)
            if isinstance(rates, Unpriced):
                return rates
            return price_usage(rates, usage)
        except Exception as exc:  # a data or library failure must not become an exception in the app
            logger.debug("pricing %s failed", model_name, exc_info=True)
            return self._unpriced(model_name, f"pricing failed: {type(exc).__name__}")

    def rates(
        self,
        model_name: str,
        at: Union[int, float, datetime, None],
        provider: str = "openai",
        terms: Optional[model.PriceTerms] = None,
    ) -> Union[Rates, Unpriced]:
        """The per-token rates of ``model_name`` on ``at``'s day under ``terms``: resolved once, then cached."""
        tier = (terms.service_tier or "").lower() if terms else ""
        window = (terms.completion_window or "").lower() if terms else ""
        regional = bool(terms.regional) if terms else False
        key = (provider, model_name, _day_key(at), tier, window, regional)
        found = self._rates.get(key)
        if found is None:
            found, cacheable = self._resolve(model_name, at_datetime(at), provider, tier, window, regional)
            if cacheable:
                self._rates.put(key, found)
        return found

    def _resolve(
        self, model_name: str, when: datetime, provider: str, tier: str, window: str, regional: bool
    ) -> tuple[Union[Rates, Unpriced], bool]:
        rates, tier_done, cacheable = self._table_rates(model_name, when, provider, tier)
        if isinstance(rates, Unpriced):
            return rates, cacheable
        return self._modified(model_name, rates, when.date(), tier, tier_done, window, regional), cacheable

    def _table_rates(
        self, model_name: str, when: datetime, provider: str, tier: str
    ) -> tuple[Union[Rates, Unpriced], bool, bool]:
        """The table's rates (override, else genai-prices), whether they already price ``tier``, cacheable."""
        name = self.resolve_model(model_name) or model_name
        snapshot = self.snapshot(name, when)
        for candidate in dict.fromkeys((model_name.lower(), name.lower(), snapshot.lower())):
            entries = self._models.get(candidate)
            if entries:
                entry = in_force(entries, when.date())
                if entry is None:
                    return self._unpriced(model_name, f"override for {candidate} not yet in force"), False, True
                rates = self._filled(self._override_rates(entry, candidate), when.date())
                rule = self._modifiers.long_context(candidate, when.date())
                return (_with_long_context(rates, rule) if rule is not None else rates), False, True
        return self._genai_rates(model_name, snapshot, when, provider, tier)

    @staticmethod
    def _override_rates(entry: _ModelPrice, candidate: str) -> Rates:
        cached = entry.cached_input if entry.cached_input is not None else MISSING
        written = entry.cache_write if entry.cache_write is not None else MISSING
        base = TierRates(entry.input, cached, written, entry.output)
        return Rates(base, entry.effective_from, entry.source, candidate)

    def _genai_rates(
        self, model_name: str, snapshot: str, when: datetime, provider: str, tier: str
    ) -> tuple[Union[Rates, Unpriced], bool, bool]:
        from . import genai_rates

        provider_id = GENAI_PRICES_PROVIDERS.get(provider, provider)
        found = genai_rates.lookup(snapshot, provider_id, when, tier if tier not in STANDARD_TIERS else "")
        if found is None:
            return self._unpriced(model_name, f"no price for model {snapshot!r} ({provider})"), False, True
        rates, tier_done, cacheable = found
        if rates.base.input < 0 or rates.base.output < 0:
            return self._unpriced(model_name, f"no token rates for model {snapshot!r} ({provider})"), False, True
        return self._filled(rates, when.date()), tier_done, cacheable

    def _filled(self, rates: Rates, day: date) -> Rates:
        """Cached and cache-write rates the table lacks: the prompt-cache rule's multiples of input, else input."""
        return _fill_cache_rates(rates, self._modifiers.prompt_cache(rates.model, day))

    def _modified(
        self, model_name: str, rates: Rates, day: date, tier: str, tier_done: bool, window: str, regional: bool
    ) -> Union[Rates, Unpriced]:
        """``rates`` with the tier, window and regional modifiers of ``day``."""
        mods, subject = self._modifiers, rates.model
        if mods.canonical_tier(tier) not in STANDARD_TIERS:
            if tier_done:
                rates = rates.labeled(tier)
            else:
                entry = mods.tier(tier, day)
                factor = entry.multiplier(subject) if entry is not None else None
                if factor is None:
                    return self._unpriced(f"{model_name}:{tier}", f"no {tier!r} tier price for {subject} on {day}")
                rates = rates.scaled(factor, tier)
        if window not in SOONEST:
            entry = mods.window(window, day)
            factor = entry.multiplier(subject) if entry is not None else None
            if factor is None:
                return self._unpriced(f"window:{window}", f"no price for completion window {window!r} on {day}")
            rates = rates.scaled(factor, f"window:{window}")
        if regional and (entry := mods.regional(subject, day)) is not None:
            factor = entry.multiplier(subject)
            if factor is not None:
                rates = rates.scaled(factor, "regional")
        return rates

    def session_cost(
        self, provider: str = "openai", at: Union[int, float, datetime, None] = None
    ) -> Union[SessionCost, Unpriced]:
        """Price of one Code Interpreter session for ``provider`` on ``at``: overrides, then our data."""
        day = at_datetime(at).date()
        entry = _in_force(self._sessions, day, provider) or _in_force(self._builtin_sessions, day, provider)
        if entry is None:
            return self._unpriced(f"session:{provider}", f"no Code Interpreter session price for {provider}")
        return SessionCost(entry.values[0], entry.effective_from, entry.source)

    def _unpriced(self, key: str, reason: str) -> Unpriced:
        with self._lock:
            first = key not in self._warned
            if first and len(self._warned) < 10_000:
                self._warned.add(key)
        if first:
            logger.warning("openai-assistants: %s; its cost is left out, not counted as 0", reason)
        return Unpriced(reason)


def _fill_cache_rates(rates: Rates, rule: Optional[Entry]) -> Rates:
    """Cached/cache-write rates the table lacks: the rule's multiples of input, else the input rate."""
    base = rates.base
    if base.cached_input >= 0 and base.cache_write >= 0:
        return rates
    values: Mapping[str, Decimal] = rule.values if rule is not None else {}
    cached_factor = values.get("cached_input_multiplier", Decimal(1))
    write_factor = values.get("cache_write_multiplier", Decimal(1))

    def fill(t: TierRates) -> TierRates:
        cached = t.cached_input if t.cached_input >= 0 else t.input * cached_factor
        written = t.cache_write if t.cache_write >= 0 else t.input * write_factor
        return replace(t, cached_input=cached, cache_write=written)

    long = fill(rates.long_context) if rates.long_context is not None else None
    return Rates(
        fill(base), rates.effective_from, rates.source, rates.model, long, rates.above_input_tokens, rates.modifiers
    )


def _with_long_context(rates: Rates, rule: Entry) -> Rates:
    """Long-context rates by our rule, for models priced by overrides (genai-prices has its own tiers)."""
    values, above = rule.values, rule.above_input_tokens
    if above is None:
        return rates
    long = rates.base.scaled(values.get("input_multiplier", Decimal(1)), values.get("output_multiplier", Decimal(1)))
    return Rates(rates.base, rates.effective_from, rates.source, rates.model, long, above, rates.modifiers)
