"""Token price modifiers: service tier, completion window, long context, regional, prompt-cache rules.

Read from ``prices/token_modifiers.json`` (dated, sourced entries) with user overrides on top: for
each name, an override entry in force on the day wins over the shipped ones. Lookups are plain
data reads; pricing caches their results per (model, day, terms), so none of this runs per step.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Optional

from .dated import in_force

STANDARD_TIERS = frozenset({"", "default"})
SOONEST = frozenset({"", "soonest"})
_GPT_VERSION = re.compile(r"^gpt-(\d+)(?:\.(\d+))?")
_SNAPSHOT = re.compile(r"^-(\d{4}-\d{2}-\d{2}|\d{4})$")


@dataclass(frozen=True)
class Entry:
    """One dated modifier entry; ``values`` holds its decimal fields by name."""

    effective_from: date
    source: str
    models: tuple[str, ...]  # empty: every model
    values: Mapping[str, Decimal]
    per_model: Mapping[str, Decimal]  # "multipliers": model name -> multiplier
    above_input_tokens: Optional[int] = None

    def applies_to(self, model_name: str) -> bool:
        return not self.models or any(model_matches(p, model_name) for p in self.models)

    def multiplier(self, model_name: str) -> Optional[Decimal]:
        """The entry's multiplier for ``model_name``: its own, else the per-model one (None: none)."""
        if "multiplier" in self.values:
            return self.values["multiplier"]
        for pattern, value in self.per_model.items():
            if model_matches(pattern, model_name):
                return value
        return None


def model_matches(pattern: str, model_name: str) -> bool:
    """``gpt-5.4+``: any gpt-X.Y at or above 5.4; else the name itself or a dated snapshot of it."""
    pattern, name = pattern.lower(), model_name.lower()
    if pattern.endswith("+"):
        floor, found = _GPT_VERSION.match(pattern[:-1]), _GPT_VERSION.match(name)
        if floor is None or found is None:
            return False
        return _version(found) >= _version(floor)
    return name == pattern or (name.startswith(pattern) and bool(_SNAPSHOT.match(name[len(pattern) :])))


def _version(match: re.Match[str]) -> tuple[int, int]:
    return int(match.group(1)), int(match.group(2) or 0)


def _decimal(value: Any) -> Decimal:
    if isinstance(value, float):
        value = repr(value)
    return Decimal(str(value))


def _entry(item: Mapping[str, Any], source: str) -> Entry:
    numbers = {
        key: _decimal(value)
        for key, value in item.items()
        if key.endswith("multiplier") and not isinstance(value, Mapping)
    }
    per_model = {str(k): _decimal(v) for k, v in dict(item.get("multipliers", {})).items()}
    if not numbers and not per_model:
        raise ValueError(f"modifier entry without a multiplier: {dict(item)}")
    above = item.get("above_input_tokens")
    return Entry(
        date.fromisoformat(str(item.get("effective_from", "1970-01-01"))),
        str(item.get("source", source)),
        tuple(str(m) for m in item.get("models", ())),
        numbers,
        per_model,
        int(above) if above is not None else None,
    )


def _entries(raw: Any, source: str) -> list[Entry]:
    items = raw if isinstance(raw, list) else [raw]
    return [_entry(item if isinstance(item, Mapping) else {"multiplier": item}, source) for item in items]


def _hosts(raw: Any) -> list[str]:
    """Host names of a ``regional_hosts`` entry: ``{"hosts": [...]}`` or a plain list (overrides add)."""
    if raw is None:
        return []
    hosts = raw.get("hosts", []) if isinstance(raw, Mapping) else raw
    if isinstance(hosts, str) or not all(isinstance(h, str) for h in hosts):
        raise ValueError(f"regional_hosts must list host names: {raw!r}")
    return list(hosts)


def _in_force(entries: list[Entry], day: date, model_name: Optional[str] = None) -> Optional[Entry]:
    return in_force((e for e in entries if model_name is None or e.applies_to(model_name)), day)


class Modifiers:
    """The modifier tables: shipped data with overrides layered on top (override entries first)."""

    def __init__(self, builtin: Mapping[str, Any], override: Mapping[str, Any], override_source: str) -> None:
        self._aliases = {**dict(builtin.get("tier_aliases", {})), **dict(override.get("tier_aliases", {}))}
        self._layers = [self._read(override, override_source), self._read(builtin, "prices/token_modifiers.json")]
        hosts = [*_hosts(builtin.get("regional_hosts")), *_hosts(override.get("regional_hosts"))]
        self.regional_hosts = frozenset(h.lower().rstrip(".") for h in hosts)

    @staticmethod
    def _read(data: Mapping[str, Any], source: str) -> dict[str, list[Entry]]:
        tables: dict[str, list[Entry]] = {}
        for group in ("service_tiers", "completion_windows"):
            for name, raw in dict(data.get(group, {})).items():
                tables[f"{group}:{str(name).lower()}"] = _entries(raw, source)
        for name in ("long_context", "regional", "prompt_cache"):
            if name in data:
                tables[name] = _entries(data[name], source)
        return tables

    def canonical_tier(self, tier: Optional[str]) -> str:
        name = (tier or "").lower()
        return str(self._aliases.get(name, name))

    def _find(self, table: str, day: date, model_name: Optional[str] = None) -> Optional[Entry]:
        for layer in self._layers:
            found = _in_force(layer.get(table, []), day, model_name)
            if found is not None:
                return found
        return None

    def tier(self, tier: str, day: date) -> Optional[Entry]:
        return self._find(f"service_tiers:{self.canonical_tier(tier)}", day)

    def window(self, window: str, day: date) -> Optional[Entry]:
        return self._find(f"completion_windows:{window.lower()}", day)

    def long_context(self, model_name: str, day: date) -> Optional[Entry]:
        return self._find("long_context", day, model_name)

    def regional(self, model_name: str, day: date) -> Optional[Entry]:
        return self._find("regional", day, model_name)

    def prompt_cache(self, model_name: str, day: date) -> Optional[Entry]:
        return self._find("prompt_cache", day, model_name)
