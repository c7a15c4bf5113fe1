"""Prices in force on a run's date: tokens from genai-prices, sessions and aliases from our data files.

Token prices come from ``genai-prices`` (offline data, dated per model; its ``UpdatePrices``
fetches from the internet and is never started here). Two gaps are filled with our own dated,
sourced files under ``prices/``: the Code Interpreter session price (``code_interpreter.json``), and
what each alias pointed to when (``aliases.json``), because genai-prices prices ``gpt-4o`` at what it
points to today. User overrides (a file, a dict, or the file named by
``OTEL_INSTRUMENTATION_OPENAI_ASSISTANTS_PRICES``) come first; deployment names (Azure, compatible
servers) map to model names before any lookup.

genai-prices 0.2.3 figures checked against OpenAI's published price list (USD per 1M input/output
tokens): gpt-4o-2024-05-13 5/15; gpt-4o-2024-08-06 2.50/10; gpt-4o-mini 0.15/0.60; gpt-4-turbo,
gpt-4-1106-preview, gpt-4-0125-preview 10/30; gpt-4 30/60; gpt-3.5-turbo-0125 0.50/1.50,
-1106 1/2, -0613 1.50/2; gpt-4.1 2/8; gpt-4.1-mini 0.40/1.60; o1 15/60; o3-mini 1.10/4.40;
o3 10/40, then 2/8 from 2025-06-10; gpt-5 1.25/10. All agree. Cached-input discounts are not
applied: Assistants usage reports no cached tokens.

Override file format (JSON; money as strings or numbers, per 1M tokens)::

    {"models": {"my-model": {"input_per_1m": "1.10", "output_per_1m": "4.40"},
                "gpt-4o": [{"effective_from": "2024-05-13", "input_per_1m": 5, "output_per_1m": 15},
                           {"effective_from": "2024-10-02", "input_per_1m": 2.5, "output_per_1m": 10}]},
     "code_interpreter_session": "0.03"   (or a list of {"usd_per_session", "effective_from", "provider"}),
     "deployments": {"my-azure-deployment": "gpt-4o"}}
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from importlib import resources
from typing import Any, Optional, Union

from .. import model

logger = logging.getLogger(__name__)

ENV_PRICES = "OTEL_INSTRUMENTATION_OPENAI_ASSISTANTS_PRICES"
MILLION = Decimal(1_000_000)

# Our provider names (gen_ai.provider.name) -> genai-prices provider ids.
GENAI_PRICES_PROVIDERS = {"openai": "openai", "azure.ai.openai": "azure"}


@dataclass(frozen=True)
class TokenCost:
    """Cost of one usage: exact USD, the price entry's effective date (None: undated) and its source."""

    input_usd: Decimal
    output_usd: Decimal
    effective_from: Optional[date]
    source: str
    model: str  # the model or snapshot priced

    @property
    def total_usd(self) -> Decimal:
        return self.input_usd + self.output_usd


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


def _decimal(value: Any) -> Decimal:
    if isinstance(value, float):
        value = repr(value)  # the shortest text that reads back as this float: 0.03 stays "0.03"
    return Decimal(str(value))


def _date(value: Any) -> date:
    return date.fromisoformat(str(value))


def at_datetime(at: Union[int, float, datetime, None]) -> datetime:
    """An API timestamp (seconds) or datetime as an aware UTC datetime; None means now."""
    if at is None:
        return datetime.now(UTC)
    if isinstance(at, datetime):
        return at if at.tzinfo else at.replace(tzinfo=UTC)
    return datetime.fromtimestamp(at, tz=UTC)


def _in_force(entries: list[_Dated], day: date, provider: Optional[str] = None) -> Optional[_Dated]:
    """The latest entry effective on ``day`` (for ``provider`` when entries name one)."""
    chosen: Optional[_Dated] = None
    for entry in entries:
        if provider is not None and entry.provider not in (None, provider):
            continue
        if entry.effective_from <= day and (chosen is None or entry.effective_from >= chosen.effective_from):
            chosen = entry
    return chosen


def _read_json(name: str) -> Any:
    text = resources.files(__package__).joinpath("prices", name).read_text(encoding="utf-8")
    return json.loads(text)


def _model_entries(raw: Any, source: str) -> list[_Dated]:
    items = raw if isinstance(raw, list) else [raw]
    return [
        _Dated(
            _date(item.get("effective_from", "1970-01-01")),
            (_decimal(item["input_per_1m"]), _decimal(item["output_per_1m"])),
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


class PriceBook:
    """Token and session prices by model, provider and date. Thread-safe; never raises on lookups.

    ``overrides``: a dict in the override format, a path to such a JSON file, or None to read the
    file named by ``OTEL_INSTRUMENTATION_OPENAI_ASSISTANTS_PRICES`` (if set). A malformed override
    raises ``ValueError`` at construction: configuration errors show up at start, not as missing costs.
    ``deployments``: deployment name -> model name, merged over the overrides' ``deployments``.
    """

    def __init__(
        self,
        overrides: Union[str, os.PathLike[str], Mapping[str, Any], None] = None,
        deployments: Optional[Mapping[str, str]] = None,
    ) -> None:
        source = "override"
        if overrides is None and os.environ.get(ENV_PRICES):
            overrides = os.environ[ENV_PRICES]
        data: Mapping[str, Any]
        if isinstance(overrides, (str, os.PathLike)):
            source = f"override file {os.fspath(overrides)}"
            with open(overrides, encoding="utf-8") as fh:
                data = json.load(fh)
        else:
            data = overrides or {}
        try:
            models = dict(data.get("models", {}))
            self._models = {name.lower(): _model_entries(raw, source) for name, raw in models.items()}
            self._sessions = (
                _session_entries(data["code_interpreter_session"], source)
                if "code_interpreter_session" in data
                else []
            )
        except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
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
        self._warned: set[str] = set()
        self._lock = threading.Lock()

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
    ) -> Union[TokenCost, Unpriced]:
        """Cost of ``usage`` of ``model_name`` at the prices in force on ``at`` (the run's ``created_at``)."""
        if not model_name:
            return self._unpriced("", "the run names no model")
        try:
            return self._token_cost(model_name, usage, at_datetime(at), provider)
        except Exception as exc:  # a data or library failure must not become an exception in the app
            logger.debug("pricing %s failed", model_name, exc_info=True)
            return self._unpriced(model_name, f"pricing failed: {type(exc).__name__}")

    def _token_cost(
        self, model_name: str, usage: model.Usage, when: datetime, provider: str
    ) -> Union[TokenCost, Unpriced]:
        name = self.resolve_model(model_name) or model_name
        snapshot = self.snapshot(name, when)
        for candidate in dict.fromkeys((model_name.lower(), name.lower(), snapshot.lower())):
            entries = self._models.get(candidate)
            if entries:
                entry = _in_force(entries, when.date())
                if entry is None:
                    return self._unpriced(model_name, f"override for {candidate} not yet in force")
                return TokenCost(
                    Decimal(usage.input_tokens) * entry.values[0] / MILLION,
                    Decimal(usage.output_tokens) * entry.values[1] / MILLION,
                    entry.effective_from,
                    entry.source,
                    candidate,
                )
        return self._genai_prices(model_name, snapshot, usage, when, provider)

    def _genai_prices(
        self, model_name: str, snapshot: str, usage: model.Usage, when: datetime, provider: str
    ) -> Union[TokenCost, Unpriced]:
        import genai_prices

        provider_id = GENAI_PRICES_PROVIDERS.get(provider, provider)
        try:
            calc = genai_prices.calc_price(
                genai_prices.Usage(input_tokens=usage.input_tokens, output_tokens=usage.output_tokens),
                model_ref=snapshot,
                provider_id=provider_id,
                genai_request_timestamp=when,
            )
        except LookupError:
            return self._unpriced(model_name, f"no price for model {snapshot!r} ({provider})")
        effective = None
        prices = calc.model.prices
        if isinstance(prices, list):  # dated prices: the last one active on the run's date applies
            for conditional in reversed(prices):
                constraint = conditional.constraint
                if constraint is None or constraint.active(when):
                    effective = getattr(constraint, "start_date", None)
                    break
        version = getattr(genai_prices, "__version__", "?")
        return TokenCost(
            Decimal(calc.input_price),
            Decimal(calc.output_price),
            effective,
            f"genai-prices {version} ({calc.provider.id}/{calc.model.id})",
            snapshot,
        )

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
