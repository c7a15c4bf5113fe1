"""Per-token rates resolved once, and the arithmetic that prices a usage with them.

Resolving a rate (overrides, alias history, genai-prices, modifiers) costs ~150 µs; the rate for a
(provider, model, day, terms) never changes, so it is resolved once into a frozen ``Rates`` and kept
in a bounded LRU cache. Pricing one step or response is then a few Decimal multiplications.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from typing import Generic, Hashable, Optional, TypeVar

MILLION = Decimal(1_000_000)
ZERO = Decimal(0)
MISSING = Decimal(-1)  # a rate the table does not have (filled by the prompt-cache rule before use)
V = TypeVar("V")


@dataclass(frozen=True)
class TierRates:
    """USD per 1M tokens: ordinary input, cached input read, cache write, output; audio input and output
    (chat audio models; ``MISSING`` where the table has none: audio tokens are then unpriced)."""

    input: Decimal
    cached_input: Decimal
    cache_write: Decimal
    output: Decimal
    audio_input: Decimal = MISSING
    audio_output: Decimal = MISSING

    def scaled(self, factor: Decimal, output_factor: Optional[Decimal] = None) -> TierRates:
        out = factor if output_factor is None else output_factor
        return TierRates(self.input * factor, self.cached_input * factor, self.cache_write * factor, self.output * out,
                         _times(self.audio_input, factor), _times(self.audio_output, out))


def _times(rate: Decimal, factor: Decimal) -> Decimal:
    """A rate times a modifier; a missing rate stays missing."""
    return rate * factor if rate >= 0 else rate


@dataclass(frozen=True)
class Rates:
    """Everything needed to price a usage of one model on one day under one set of terms."""

    base: TierRates
    effective_from: Optional[date]  # of the table price (None: undated)
    source: str
    model: str  # the model or snapshot priced
    long_context: Optional[TierRates] = None  # applies to the whole request above the threshold
    above_input_tokens: Optional[int] = None
    modifiers: str = ""  # the modifiers applied, comma-separated (e.g. "flex,window:2h")

    def scaled(self, factor: Decimal, label: str) -> Rates:
        """These rates times ``factor`` (long-context rates too), with ``label`` noted."""
        long = self.long_context.scaled(factor) if self.long_context is not None else None
        return replace(self, base=self.base.scaled(factor), long_context=long, modifiers=self.note(label))

    def labeled(self, label: str) -> Rates:
        return replace(self, modifiers=self.note(label))

    def note(self, label: str) -> str:
        return f"{self.modifiers},{label}" if self.modifiers else label

    def for_input(self, input_tokens: int) -> tuple[TierRates, bool]:
        """The rates for a request of ``input_tokens`` (above the threshold: the long-context ones)."""
        above = self.above_input_tokens
        if self.long_context is not None and above is not None and input_tokens > above:
            return self.long_context, True
        return self.base, False


def usd(rate_per_1m: Decimal, tokens: int) -> Decimal:
    """Exact USD for ``tokens`` at a per-1M rate (the same operations as genai-prices: rate x n / 1M)."""
    if not tokens:
        return ZERO  # most parts of most usages are empty: skip the arithmetic
    return rate_per_1m * Decimal(tokens) / MILLION


class LruCache(Generic[V]):
    """A small bounded, thread-safe least-recently-used map."""

    def __init__(self, maxsize: int = 4096) -> None:
        self._items: OrderedDict[Hashable, V] = OrderedDict()
        self._maxsize = maxsize
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> Optional[V]:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: Hashable, value: V) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self._maxsize:
                self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)
