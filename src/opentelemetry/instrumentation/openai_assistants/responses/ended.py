"""Responses already traced here, so one seen again once ended (``trace_observed_runs``) is never
traced and billed twice: not after it left the bounded list, not after the instrumentor restarted.

Bounded by count; what it forgets it still recognises by time: a response that ended no later
than one forgotten (whole seconds) counts as seen, the way the Assistants front end treats runs.
The instrumentor keeps one for the life of the process, across ``uninstrument()``/``instrument()``.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Optional

from ..forking import in_child_after_fork
from ..model import Response

LIMIT = 1000


class EndedResponses:
    """Ids of responses ended here, with the second each ended; thread-safe, empty after fork."""

    def __init__(self, limit: int = LIMIT) -> None:
        self.limit = limit
        self._lock = threading.Lock()
        self._ended: OrderedDict[str, int] = OrderedDict()
        self._forgotten_until = -1
        in_child_after_fork(self, EndedResponses._clear)

    def _clear(self) -> None:
        self._lock = threading.Lock()
        self._ended = OrderedDict()
        self._forgotten_until = -1

    def put(self, response: Response) -> None:
        with self._lock:
            self._ended[response.id] = ended_at(response) or 0
            self._ended.move_to_end(response.id)
            while len(self._ended) > self.limit:
                _, end_s = self._ended.popitem(last=False)
                self._forgotten_until = max(self._forgotten_until, end_s)

    def seen(self, response: Response) -> bool:
        """Remembered, or ended no later than a response since forgotten."""
        with self._lock:
            if response.id in self._ended:
                return True
            end_s = ended_at(response) if response.terminal else None
            return end_s is not None and end_s <= self._forgotten_until


def ended_at(response: Response) -> Optional[int]:
    """When the API says the response ended (a failed or cancelled one may not say: its creation)."""
    return response.completed_at or response.created_at
