"""Dated tables: prices, modifiers, fees and container rules each take effect on a day."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Optional, Protocol, TypeVar


class Dated(Protocol):
    @property
    def effective_from(self) -> date: ...


D = TypeVar("D", bound=Dated)


def in_force(entries: Iterable[D], day: date) -> Optional[D]:
    """The latest of ``entries`` effective on ``day`` (the last listed wins a tie), so that replaying
    an old run or response prices it by the rules of its own day."""
    chosen: Optional[D] = None
    for entry in entries:
        if entry.effective_from <= day and (chosen is None or entry.effective_from >= chosen.effective_from):
            chosen = entry
    return chosen
