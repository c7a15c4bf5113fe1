"""Per-call fees of the Chat Completions search models (``gpt-4o-search-preview`` and its mini), from
the dated, sourced ``prices/chat.json``: each request to a search model is one billed search call.
A request before the first dated fee is unpriced with a reason, never 0."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from importlib import resources
from typing import Optional, Union

from .dated import in_force
from .pricing import Unpriced, at_datetime

KIND_WEB_SEARCH = "web_search"


@dataclass(frozen=True)
class SearchFee:
    effective_from: date
    usd_per_call: Decimal
    source: str


@functools.lru_cache(maxsize=1)
def _table() -> tuple[frozenset[str], tuple[SearchFee, ...]]:
    raw = json.loads(resources.files(__package__).joinpath("prices", "chat.json").read_text(encoding="utf-8"))
    section = raw["search_models"]
    fees = tuple(SearchFee(date.fromisoformat(e["effective_from"]), Decimal(e["usd_per_1k_calls"]) / 1000, e["source"])
                 for e in section["fees"])
    return frozenset(m.lower() for m in section["models"]), fees


def is_search_model(model: Optional[str]) -> bool:
    """A search model, or one of its dated snapshots (``gpt-4o-search-preview-2025-03-11``)."""
    if not model:
        return False
    name = model.lower()
    return any(name == m or name.startswith(m + "-") for m in _table()[0])


def search_fee(model: Optional[str], at: Union[int, float, None]) -> Union[SearchFee, Unpriced, None]:
    """The fee of one request to ``model`` on ``at``'s day; None: not a search model."""
    if not is_search_model(model):
        return None
    fee = in_force(_table()[1], at_datetime(at).date())
    if fee is None:
        return Unpriced(f"no search call fee known for {model!r} on {at_datetime(at).date()}")
    return fee
