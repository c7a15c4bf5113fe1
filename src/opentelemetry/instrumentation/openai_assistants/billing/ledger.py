"""The billed figures of the trailing window: the latest read of every (endpoint, day), nothing summed
across reads, so a revised bucket replaces its earlier value and is never counted twice."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

DAY_S = 86400
Labels = tuple[tuple[str, str], ...]  # sorted (attribute, value) pairs, without the day


@dataclass(frozen=True)
class Figure:
    """One billed number of one day: its metric, labels and value."""

    metric: str  # "spend" | "tokens" | "quantity"
    labels: Labels
    value: Decimal


def day_label(day_start: int) -> str:
    return datetime.fromtimestamp(day_start, UTC).date().isoformat()


class Ledger:
    """Thread-safe store read by the metric callbacks while the reader replaces days."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._days: dict[tuple[str, int], list[Figure]] = {}

    def replace(self, endpoint: str, days: dict[int, list[Figure]], oldest: int) -> None:
        """Take ``endpoint``'s latest read of each day; forget days before ``oldest``."""
        with self._lock:
            for day, figures in days.items():
                self._days[(endpoint, day)] = _merged(figures)
            for key in [k for k in self._days if k[1] < oldest]:
                del self._days[key]

    def figures(self, metric: str) -> list[tuple[int, Figure]]:
        with self._lock:
            return [(day, f) for (_, day), figures in self._days.items() for f in figures if f.metric == metric]

    def days(self) -> list[int]:
        with self._lock:
            return sorted({day for _, day in self._days})


def _merged(figures: Iterable[Figure]) -> list[Figure]:
    """Rows that map to the same labels within one read are added (e.g. two line items of a kind)."""
    totals: dict[tuple[str, Labels], Decimal] = {}
    for f in figures:
        totals[(f.metric, f.labels)] = totals.get((f.metric, f.labels), Decimal(0)) + f.value
    return [Figure(metric, labels, value) for (metric, labels), value in totals.items()]
