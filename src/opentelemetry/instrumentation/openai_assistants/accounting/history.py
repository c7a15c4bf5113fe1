"""What a thread held before a run, read incrementally so cost grows with new content, not thread length.

A run's prompt includes the thread's earlier messages, but a thread can hold thousands of them. So
each thread's messages are kept once read: a later run reads the thread newest first and stops at the
first message already *anchored* (a message whose whole past is known), so it fetches one page for a
thread with a few new messages; token counts are cached per (message id, encoding), so only new
messages are tokenised. The HTTP call is injected (``pager``): this module knows no SDK.

Messages fed with :meth:`ThreadHistory.remember` (created or listed by the app) are known but not
anchored, since messages written meanwhile by the API (assistant answers) or by another process
may sit between them: they spare tokenising, and one page still checks the order.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable
from typing import Callable, Optional

from .. import model
from .tokens import Encoder

# pager(thread_id, after_cursor, limit) -> (messages newest first, has_more); after_cursor is the id
# of the last (oldest) message of the previous page, None for the newest page.
Pager = Callable[[str, Optional[str], int], tuple[list[model.Message], bool]]


class _Thread:
    """One thread's known messages: ``anchored`` oldest first, each with its whole past known."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.anchored: list[model.Message] = []
        self.anchored_ids: set[str] = set()
        self.complete = False  # the anchored list starts at the thread's first message
        self.remembered: dict[str, model.Message] = {}


class ThreadHistory:
    """Bounded LRU of threads (``max_threads``, and ``max_messages`` over all threads), thread-safe.

    Reads of one thread are serialised (a second reader waits and reuses the first one's pages);
    reads of different threads run concurrently.
    """

    def __init__(
        self,
        *,
        max_threads: int = 1024,
        max_messages: int = 200_000,
        page_size: int = 100,
        max_token_counts: int = 500_000,
    ) -> None:
        self._lock = threading.Lock()
        self._threads: OrderedDict[str, _Thread] = OrderedDict()
        self._max_threads = max_threads
        self._max_messages = max_messages
        self._page_size = page_size
        self._counts: OrderedDict[tuple[str, str], int] = OrderedDict()
        self._counts_lock = threading.Lock()
        self._max_counts = max_token_counts

    def _thread(self, thread_id: str) -> _Thread:
        with self._lock:
            state = self._threads.get(thread_id)
            if state is None:
                state = self._threads[thread_id] = _Thread()
            self._threads.move_to_end(thread_id)
            return state

    def _evict(self) -> None:
        with self._lock:
            total = sum(len(t.anchored) + len(t.remembered) for t in self._threads.values())
            while self._threads and (len(self._threads) > self._max_threads or total > self._max_messages):
                if len(self._threads) == 1:
                    break  # keep the thread just read, whatever its size
                _, old = self._threads.popitem(last=False)
                total -= len(old.anchored) + len(old.remembered)

    def remember(self, messages: Iterable[model.Message]) -> None:
        """Messages the app created or listed: their content needs no fetch (see module docstring)."""
        for msg in messages:
            state = self._thread(msg.thread_id)
            with state.lock:
                if msg.id not in state.anchored_ids:
                    state.remembered[msg.id] = msg
        self._evict()

    def messages_before(
        self,
        thread_id: str,
        pager: Pager,
        until: Optional[int] = None,
        *,
        exclude_run_id: Optional[str] = None,
    ) -> list[model.Message]:
        """The thread's messages, oldest first, created at or before ``until`` (a run's ``created_at``),
        without those of ``exclude_run_id`` (the run being accounted).

        Reads newest first and stops at the first anchored message; a never-seen thread is read to
        its start. Exceptions of ``pager`` propagate (the caller counts failed fetches); what was
        read before the failure is kept as remembered, not anchored.
        """
        state = self._thread(thread_id)
        with state.lock:
            fresh: list[model.Message] = []  # newest first
            cursor: Optional[str] = None
            reached_anchor = False
            try:
                while True:
                    page, has_more = pager(thread_id, cursor, self._page_size)
                    for msg in page:
                        if msg.id in state.anchored_ids:
                            reached_anchor = True
                            break
                        fresh.append(state.remembered.pop(msg.id, msg))
                    if reached_anchor or not has_more or not page:
                        break
                    cursor = page[-1].id
            except BaseException:
                for msg in fresh:
                    state.remembered[msg.id] = msg
                raise
            if reached_anchor or not state.anchored:
                fresh.reverse()
                state.anchored.extend(fresh)
                state.anchored_ids.update(m.id for m in fresh)
                if not reached_anchor:
                    state.complete = True
            else:  # the anchor vanished (messages deleted): start again from this full read
                fresh.reverse()
                state.anchored = fresh
                state.anchored_ids = {m.id for m in fresh}
                state.complete = True
            result = [
                m
                for m in state.anchored
                if (until is None or m.created_at is None or m.created_at <= until)
                and (exclude_run_id is None or m.run_id != exclude_run_id)
            ]
        self._evict()
        return result

    def message_tokens(self, message: model.Message, encoder: Encoder) -> int:
        """Token count of a message's text, cached per (message id, encoding); usable by the estimator."""
        if not message.id:
            return encoder.count(message.text)
        key = (message.id, encoder.name)
        with self._counts_lock:
            cached = self._counts.get(key)
            if cached is not None:
                self._counts.move_to_end(key)
                return cached
        tokens = encoder.count(message.text)
        with self._counts_lock:
            self._counts[key] = tokens
            while len(self._counts) > self._max_counts:
                self._counts.popitem(last=False)
        return tokens
