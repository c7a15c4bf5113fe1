"""Runs and responses already traced here, so one seen again once ended (``trace_observed_runs``) is
never traced and billed twice: not after it left the bounded list, not after the instrumentor restarted.

Bounded by count; what it forgets it still recognises by time: one that ended no later than one
forgotten (whole API seconds) counts as seen (``seen``, for runs). Responses rely on ``remembered``
only, and on their claim in the session store for money: a heuristic never decides whether money
counts. The instrumentor keeps one per API for the life of
the process, across ``uninstrument()``/``instrument()``.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Optional

from .forking import in_child_after_fork

LIMIT = 1000


class EndedIds:
    """Ids ended here, with the API second each ended; thread-safe, empty after fork."""

    def __init__(self, limit: int = LIMIT) -> None:
        self.limit = limit
        self._lock = threading.Lock()
        self._ended: OrderedDict[str, int] = OrderedDict()
        self._forgotten_until = -1
        in_child_after_fork(self, EndedIds._clear)

    def _clear(self) -> None:
        self._lock = threading.Lock()
        self._ended = OrderedDict()
        self._forgotten_until = -1

    def put(self, ident: str, end_s: Optional[int]) -> None:
        with self._lock:
            self._ended[ident] = end_s or 0
            self._ended.move_to_end(ident)
            while len(self._ended) > self.limit:
                _, forgotten = self._ended.popitem(last=False)
                self._forgotten_until = max(self._forgotten_until, forgotten)

    def remembered(self, ident: str) -> bool:
        """Remembered exactly (no guess by time): what money may rely on."""
        with self._lock:
            return ident in self._ended

    def seen(self, ident: str, end_s: Optional[int]) -> bool:
        """Remembered, or ended (``end_s``; None: not ended) no later than one since forgotten."""
        with self._lock:
            if ident in self._ended:
                return True
            return end_s is not None and end_s <= self._forgotten_until
