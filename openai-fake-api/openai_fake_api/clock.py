"""A settable clock, so tests can place runs minutes or hours apart without waiting."""

from __future__ import annotations

import threading
import time
from typing import Optional


class FakeClock:
    """Whole-second Unix time: real time (or a fixed start) plus an offset that tests can advance."""

    def __init__(self, start: Optional[float] = None) -> None:
        self._lock = threading.Lock()
        self._start = start
        self._offset = 0.0

    def now(self) -> int:
        base = time.time() if self._start is None else self._start
        with self._lock:
            return int(base + self._offset)

    def advance(self, seconds: float) -> None:
        """Move the clock forward (or back, with a negative number)."""
        with self._lock:
            self._offset += seconds

    def set(self, timestamp: float) -> None:
        """Freeze the clock at ``timestamp``; ``advance`` still moves it."""
        with self._lock:
            self._start = timestamp
            self._offset = 0.0
