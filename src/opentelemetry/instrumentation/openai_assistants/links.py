"""Function calls of earlier responses, so the response that sends a call's output can link its span.

A function call's ``execute_tool`` span is written when its response ends, in the background; the
app's next ``responses.create`` carrying the output may end first. ``get`` waits briefly for a call
that is known to be on its way (``expect``) and never for one it has not heard of.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Any, Iterable, Optional

WAIT_S = 2.0


class Recent:
    """A thread-safe mapping that forgets its oldest entries past ``limit``."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._lock = threading.Lock()
        self._items: OrderedDict[Any, Any] = OrderedDict()

    def put(self, key: Any, value: Any) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.limit:
                self._items.popitem(last=False)

    def get(self, key: Any, default: Any = None) -> Any:
        with self._lock:
            return self._items.get(key, default)

    def pop(self, key: Any) -> Any:
        with self._lock:
            return self._items.pop(key, None)

    def __contains__(self, key: Any) -> bool:
        with self._lock:
            return key in self._items

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)


class CallLinks:
    def __init__(self, limit: int = 10_000) -> None:
        self._contexts = Recent(limit)  # call id -> span context of its execute_tool span
        self._expected = Recent(limit)  # call ids whose response ended but whose spans are not written yet
        self._written = threading.Condition()

    def expect(self, call_ids: Iterable[str]) -> None:
        for call_id in call_ids:
            self._expected.put(call_id, True)

    def written(self, contexts: dict[str, Any]) -> None:
        with self._written:
            for call_id, context in contexts.items():
                self._contexts.put(call_id, context)
                self._expected.pop(call_id)
            self._written.notify_all()

    def abandon(self, call_ids: Iterable[str]) -> None:
        """A response ended without spans (dropped, or spans turned off): stop waiting for its calls."""
        with self._written:
            for call_id in call_ids:
                self._expected.pop(call_id)
            self._written.notify_all()

    def get(self, call_id: str, wait_s: float = WAIT_S) -> Optional[Any]:
        deadline = time.monotonic() + wait_s
        with self._written:
            while True:
                context = self._contexts.get(call_id)
                remaining = deadline - time.monotonic()
                if context is not None or call_id not in self._expected or remaining <= 0:
                    return context
                self._written.wait(remaining)
