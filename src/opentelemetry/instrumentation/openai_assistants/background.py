"""Work off the caller's path: a small bounded pool of daemon threads, and a periodic sweep.

Threads, not the app's event loop: work scheduled on the app's loop dies when ``asyncio.run()``
returns. The pool is rebuilt in a forked child (pre-forking servers), bounded in concurrency and
queue length, and drained by ``drain()`` (``force_flush`` and interpreter exit). Work given the same
``key`` runs in the order it was submitted, one at a time: the runs of one thread are accounted in the
order they ended, so which of them opened a Code Interpreter session does not depend on which worker
was faster.
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any, Callable, Optional

from opentelemetry.instrumentation.utils import suppress_instrumentation

logger = logging.getLogger(__name__)


class Background:
    def __init__(self, concurrency: int, queue_size: int, tick_s: float, on_tick: Callable[[], None]) -> None:
        self._concurrency = max(1, concurrency)
        self._queue_size = max(1, queue_size)
        self._tick_s = tick_s
        self._on_tick = on_tick
        self._lock = threading.Lock()
        self._pending: set[Future[Any]] = set()
        self._queued = 0  # submitted, not yet started: what the queue bound counts
        # key -> the work waiting for the running work of that key
        self._serial: dict[Any, deque[tuple[Callable[..., Any], tuple[Any, ...]]]] = {}
        self._executor: Optional[ThreadPoolExecutor] = None
        self._ticker: Optional[threading.Thread] = None
        self._stop = threading.Event()
        if hasattr(os, "register_at_fork"):
            ref = weakref.ref(self)
            os.register_at_fork(after_in_child=lambda: _call_if_alive(ref))

    def submit(self, fn: Callable[..., Any], *args: Any, key: Any = None) -> bool:
        """Run ``fn`` in the pool with instrumentation suppressed; ``False`` when the queue is full.

        Work with a ``key`` waits for earlier work of the same key to finish first."""
        with self._lock:
            if self._queued >= self._queue_size or self._stop.is_set():
                return False
            if key is not None:
                waiting = self._serial.get(key)
                if waiting is not None:  # work of this key is queued or running: it starts this when done
                    waiting.append((fn, args))
                    self._queued += 1
                    return True
            future = self._start(fn, args, key)
            if future is None:
                return False
            if key is not None:
                self._serial[key] = deque()
            self._queued += 1
        future.add_done_callback(self._done)  # outside the lock: a future already done calls back at once
        return True

    def _start(self, fn: Callable[..., Any], args: tuple[Any, ...], key: Any) -> Optional[Future[Any]]:
        """Hand work to the pool (the lock is held); the caller adds ``_done`` once the lock is released."""
        try:
            future = self._pool().submit(self._run, fn, args, key)
        except RuntimeError:  # the pool refuses work once the interpreter is shutting down
            return None
        self._pending.add(future)
        return future

    def _run(self, fn: Callable[..., Any], args: tuple[Any, ...], key: Any = None) -> None:
        with self._lock:
            self._queued -= 1
        try:
            with suppress_instrumentation():
                fn(*args)
        except Exception:
            logger.debug("openai-assistants background work failed", exc_info=True)
        finally:
            if key is not None:
                self._next_of(key)

    def _next_of(self, key: Any) -> None:
        """Start the next work of ``key``, before this one's future is done (``drain`` sees no gap)."""
        future = None
        with self._lock:
            waiting = self._serial.get(key)
            while waiting and future is None:
                fn, args = waiting.popleft()
                future = self._start(fn, args, key)
                if future is None:
                    self._queued -= 1  # the pool is gone (interpreter exit): that work is dropped
            if future is None:
                self._serial.pop(key, None)
        if future is not None:
            future.add_done_callback(self._done)

    def _done(self, future: Future[Any]) -> None:
        with self._lock:
            self._pending.discard(future)

    def _pool(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self._concurrency, thread_name_prefix="otel-openai-assistants")
        if self._ticker is None and self._tick_s > 0:
            self._ticker = threading.Thread(target=self._tick, name="otel-openai-assistants-sweep", daemon=True)
            self._ticker.start()
        return self._executor

    def _tick(self) -> None:
        while not self._stop.wait(self._tick_s):
            try:
                self._on_tick()
            except Exception:
                logger.debug("openai-assistants sweep failed", exc_info=True)

    def ensure_ticking(self) -> None:
        if self._executor is not None and (self._ticker is not None or self._tick_s <= 0):
            return  # already running (every tracked run asks): no lock on the caller's path
        with self._lock:
            self._pool()

    def drain(self, timeout_s: float) -> bool:
        """Wait for queued work, including work that queued work submits; ``True`` when all done."""
        deadline = threading.Event()
        timer = threading.Timer(timeout_s, deadline.set)
        timer.daemon = True
        timer.start()
        try:
            while not deadline.is_set():
                with self._lock:
                    pending = set(self._pending)
                if not pending:
                    return True
                wait(pending, timeout=0.05)
            return False
        finally:
            timer.cancel()

    def pending(self) -> int:
        with self._lock:
            return len(self._pending)

    def shutdown(self, timeout_s: float) -> None:
        self.drain(timeout_s)
        self._stop.set()
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False)

    def _forget_parent_threads(self) -> None:
        """In a forked child the parent's threads are gone: start afresh on first use."""
        self._lock = threading.Lock()
        self._pending = set()
        self._queued = 0
        self._serial = {}
        self._executor = None
        self._ticker = None
        self._stop = threading.Event()


def _call_if_alive(ref: weakref.ref[Background]) -> None:
    background = ref()
    if background is not None:
        background._forget_parent_threads()
