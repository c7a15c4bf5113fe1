"""Work off the caller's path: a small bounded pool of daemon threads, and a periodic sweep.

Threads, not the app's event loop: work scheduled on the app's loop dies when ``asyncio.run()``
returns. The pool is rebuilt in a forked child (pre-forking servers), bounded in concurrency and
queue length, and drained by ``drain()`` (``force_flush`` and interpreter exit). Work given the same
``key`` runs in the order it was submitted, one at a time: the runs of one thread are accounted in the
order they ended, so which of them opened a Code Interpreter session does not depend on which worker
was faster.

Handing work over is on the caller's path of every finished call, so it is a count under a lock and
a put on a ``SimpleQueue`` (no ``Future``, no condition, no semaphore: those are Python code); a
worker is started only when no idle one can take the job.
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from collections import deque
from queue import SimpleQueue
from typing import Any, Callable, Optional

from opentelemetry.instrumentation.utils import suppress_instrumentation

logger = logging.getLogger(__name__)

Work = tuple[Callable[..., Any], tuple[Any, ...], Any]  # (fn, args, key)
Job = Optional[Work]  # None: a worker's signal to stop


class Background:
    def __init__(self, concurrency: int, queue_size: int, tick_s: float, on_tick: Callable[[], None]) -> None:
        self._concurrency = max(1, concurrency)
        self._queue_size = max(1, queue_size)
        self._tick_s = tick_s
        self._on_tick = on_tick
        self._start()
        if hasattr(os, "register_at_fork"):
            ref = weakref.ref(self)
            os.register_at_fork(after_in_child=lambda: _call_if_alive(ref))

    def _start(self) -> None:
        """A fresh pool: no threads yet, nothing queued (at creation, and in a forked child)."""
        self._lock = threading.Lock()
        self._idle_or_done = threading.Condition(self._lock)
        self._jobs: SimpleQueue[Job] = SimpleQueue()
        self._queued = 0  # submitted, not yet started: what the queue bound counts
        self._unfinished = 0  # submitted, not yet finished: what ``drain`` waits for
        self._idle = 0  # workers waiting for a job
        self._serial: dict[Any, deque[Work]] = {}  # key -> the work waiting for the running work of that key
        self._workers: list[threading.Thread] = []
        self._ticker: Optional[threading.Thread] = None
        self._stop = threading.Event()
        self._stopped = False  # ``_stop`` read without a call on the caller's path

    def submit(self, fn: Callable[..., Any], *args: Any, key: Any = None) -> bool:
        """Run ``fn`` in the pool with instrumentation suppressed; ``False`` when the queue is full.

        Work with a ``key`` waits for earlier work of the same key to finish first."""
        with self._lock:
            if self._queued >= self._queue_size or self._stopped:
                return False
            self._queued += 1
            self._unfinished += 1
            if key is not None:
                waiting = self._serial.get(key)
                if waiting is not None:  # work of this key is queued or running: it queues this when done
                    waiting.append((fn, args, key))
                    return True
                self._serial[key] = deque()
            grow = self._queued > self._idle and len(self._workers) < self._concurrency
        if grow and not self._grow():
            with self._lock:
                self._queued -= 1
                self._unfinished -= 1
                if key is not None:
                    self._serial.pop(key, None)
            return False
        self._jobs.put((fn, args, key))
        return True

    def _grow(self) -> bool:
        """One more worker (and the sweep's ticker on first use); ``False`` when none can run at all."""
        with self._lock:
            if len(self._workers) >= self._concurrency:
                return True  # another caller started it meanwhile
            worker = threading.Thread(target=self._work, name="otel-openai-assistants", daemon=True)
            try:
                worker.start()
            except RuntimeError:  # no new thread once the interpreter is shutting down
                return bool(self._workers)
            self._workers.append(worker)
            self._start_ticker()
        return True

    def _start_ticker(self) -> None:
        if self._ticker is None and self._tick_s > 0:
            self._ticker = threading.Thread(target=self._tick, name="otel-openai-assistants-sweep", daemon=True)
            self._ticker.start()

    def _work(self) -> None:
        while True:
            with self._lock:
                self._idle += 1
            job = self._jobs.get()
            with self._lock:
                self._idle -= 1
            if job is None:
                return
            try:
                self._run(*job)
            finally:
                with self._idle_or_done:
                    self._unfinished -= 1
                    if not self._unfinished:
                        self._idle_or_done.notify_all()

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
        """Queue the next work of ``key`` before this one counts as finished (``drain`` sees no gap)."""
        with self._lock:
            waiting = self._serial.get(key)
            if not waiting:
                self._serial.pop(key, None)
                return
            work = waiting.popleft()
        self._jobs.put(work)

    def _tick(self) -> None:
        while not self._stop.wait(self._tick_s):
            try:
                self._on_tick()
            except Exception:
                logger.debug("openai-assistants sweep failed", exc_info=True)

    def ensure_ticking(self) -> None:
        if self._ticker is not None or self._tick_s <= 0:
            return  # already running (every tracked run asks): no lock on the caller's path
        with self._lock:
            if not self._stopped:
                self._start_ticker()

    def drain(self, timeout_s: float) -> bool:
        """Wait for queued work, including work that queued work submits; ``True`` when all done."""
        with self._idle_or_done:
            return self._idle_or_done.wait_for(lambda: not self._unfinished, timeout_s)

    def pending(self) -> int:
        with self._lock:
            return self._unfinished

    def shutdown(self, timeout_s: float) -> None:
        self.drain(timeout_s)
        self._stop.set()
        with self._lock:
            self._stopped = True
            workers, self._workers = self._workers, []
        for _ in workers:
            self._jobs.put(None)

    def _forget_parent_threads(self) -> None:
        """In a forked child the parent's threads are gone: start afresh on first use."""
        self._start()


def _call_if_alive(ref: weakref.ref[Background]) -> None:
    background = ref()
    if background is not None:
        background._forget_parent_threads()
