"""What a thread held before a run, read incrementally so cost grows with new content, not thread length.

A run's prompt includes the thread's earlier messages, but a thread can hold thousands of them. So
each thread's messages are kept once read: a later run reads the thread newest first and stops at the
first message already *anchored* (a message whose whole past is known), so it fetches one page for a
thread with a few new messages. Only token counts are kept, not texts: each message is tokenised once,
with the encoding of the thread's model, when it is read (a thread read with another encoding is read
again). The HTTP call is injected (``pager``): this module knows no SDK.

Memory is bounded by an estimate of bytes (``max_bytes``) and a number of threads; least recently read
threads are dropped whole, each in O(1). Messages the app creates or reads (:meth:`ThreadHistory.remember`)
cost the caller one O(1) append to a bounded inbox, emptied off the caller's path after every run:
messages of threads already read are tokenised there, so a page that returns them later does not
tokenise them again; the others are dropped.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import OrderedDict, deque
from collections.abc import Iterable
from typing import Callable, Optional

from .. import model
from .tokens import Encoder

# pager(thread_id, after_cursor, limit) -> (messages newest first, has_more); after_cursor is the id
# of the last (oldest) message of the previous page, None for the newest page.
Pager = Callable[[str, Optional[str], int], tuple[list[model.Message], bool]]

ENTRY_BYTES = 360  # what one kept message costs, roughly: a Message without text, its ids, a count
INBOX_BYTES = 1 << 20  # texts waiting in the inbox, at most


@dataclasses.dataclass
class CountedMessage(model.Message):
    """A thread message kept without its text: ``tokens`` in the ``encoding`` it was counted with."""

    tokens: int = 0
    encoding: str = ""


def entry_bytes(message: model.Message) -> int:
    return ENTRY_BYTES + len(message.id) + len(message.run_id or "") + len(message.assistant_id or "")


class _Thread:
    """One thread's known messages: ``anchored`` oldest first, each with its whole past known."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.anchored: list[CountedMessage] = []
        self.anchored_ids: set[str] = set()
        self.complete = False  # the anchored list starts at the thread's first message
        self.encoder: Optional[Encoder] = None  # the encoder of every count kept
        self.counted: dict[str, int] = {}  # remembered messages, counted ahead of their page
        self.bytes = 0
        self.dropped = False  # evicted: its bytes no longer count


class ThreadHistory:
    """Bounded LRU of threads by bytes (``max_bytes``) and count (``max_threads``), thread-safe.

    Reads of one thread are serialised (a second reader waits and reuses the first one's pages);
    reads of different threads run concurrently.
    """

    def __init__(
        self, *, max_threads: int = 1024, max_bytes: int = 8 << 20, page_size: int = 100,
        inbox_bytes: int = INBOX_BYTES,
    ) -> None:
        self._lock = threading.Lock()
        self._threads: OrderedDict[str, _Thread] = OrderedDict()
        self._max_threads = max_threads
        self._max_bytes = max_bytes
        self._page_size = page_size
        self._bytes = 0
        self._inbox: deque[model.Message] = deque()
        self._inbox_bytes = 0
        self._inbox_lock = threading.Lock()
        self._inbox_max = inbox_bytes
        self.touched = 0  # thread entries visited by bookkeeping: what the caller's path must not grow

    @property
    def bytes(self) -> int:
        """The estimated bytes kept (texts are not kept: ids, roles, timestamps, counts)."""
        return self._bytes

    def remember(self, messages: Iterable[model.Message]) -> None:
        """Messages the app created or read: one O(1) append each (dropped when the inbox is full)."""
        for msg in messages:
            size = len(msg.text)
            with self._inbox_lock:
                if self._inbox_bytes + size > self._inbox_max:
                    continue
                self._inbox_bytes += size
            self._inbox.append(msg)

    def messages_before(
        self,
        thread_id: str,
        pager: Pager,
        until: Optional[int] = None,
        *,
        exclude_run_id: Optional[str] = None,
        encoder: Optional[Encoder] = None,
    ) -> list[model.Message]:
        """The thread's messages, oldest first, created at or before ``until`` (a run's ``created_at``),
        without those of ``exclude_run_id`` (the run being accounted), each a :class:`CountedMessage`
        counted with ``encoder`` (or without counts when no encoder is given).

        Reads newest first and stops at the first anchored message; a never-seen thread is read to
        its start. Exceptions of ``pager`` propagate (the caller counts failed fetches).
        """
        self.drain()
        state = self._thread(thread_id)
        with state.lock:
            if _name(state.encoder) != _name(encoder):
                self._reset(state, encoder)
            fresh, reached_anchor = self._read_new(state, thread_id, pager)
            if state.anchored and not reached_anchor:  # the anchor vanished (messages deleted): start again
                self._reset(state, encoder)
            counted = [self._counted(m, state) for m in reversed(fresh)]  # oldest first
            state.anchored.extend(counted)
            state.anchored_ids.update(m.id for m in counted)
            state.complete = state.complete or not reached_anchor
            self._account(state, sum(entry_bytes(m) for m in counted))
            result: list[model.Message] = [
                m for m in state.anchored
                if (until is None or m.created_at is None or m.created_at <= until)
                and (exclude_run_id is None or m.run_id != exclude_run_id)
            ]
        self._evict()
        return result

    def message_tokens(self, message: model.Message, encoder: Encoder) -> int:
        """Token count of a message: the kept count when it was counted with ``encoder``, else its text's."""
        if isinstance(message, CountedMessage) and message.encoding == encoder.name:
            return message.tokens
        return encoder.count(message.text)

    # --- internals (under the thread's lock unless said) -------------------------------------------

    def _read_new(self, state: _Thread, thread_id: str, pager: Pager) -> tuple[list[model.Message], bool]:
        """Messages newer than the newest anchored one (newest first), and whether it was reached."""
        fresh: list[model.Message] = []  # newest first
        cursor: Optional[str] = None
        reached = False
        while True:
            page, has_more = pager(thread_id, cursor, self._page_size)
            for msg in page:
                if msg.id in state.anchored_ids:
                    reached = True
                    break
                fresh.append(msg)
            if reached or not has_more or not page:
                break
            cursor = page[-1].id
        return fresh, reached

    def _counted(self, msg: model.Message, state: _Thread) -> CountedMessage:
        tokens = state.counted.pop(msg.id, None)
        if tokens is not None:
            self._account(state, -entry_bytes(msg))  # counted ahead: now kept as anchored instead
        elif state.encoder is not None:
            tokens = state.encoder.count(msg.text)
        fields = {f.name: getattr(msg, f.name) for f in dataclasses.fields(model.Message)}
        fields["text"] = ""
        return CountedMessage(**fields, tokens=tokens or 0, encoding=_name(state.encoder))

    def _reset(self, state: _Thread, encoder: Optional[Encoder]) -> None:
        state.anchored, state.anchored_ids, state.counted = [], set(), {}
        state.complete = False
        state.encoder = encoder
        self._account(state, -state.bytes)

    def _account(self, state: _Thread, delta: int) -> None:
        with self._lock:
            state.bytes += delta
            if not state.dropped:
                self._bytes += delta

    def _thread(self, thread_id: str) -> _Thread:
        with self._lock:
            state = self._threads.get(thread_id)
            if state is None:
                state = self._threads[thread_id] = _Thread()
            else:
                self._threads.move_to_end(thread_id)
            self.touched += 1
            return state

    def _evict(self) -> None:
        """Drop least recently read threads while over a bound: O(1) each, the thread just read kept."""
        with self._lock:
            while len(self._threads) > 1 and (len(self._threads) > self._max_threads or self._bytes > self._max_bytes):
                _, old = self._threads.popitem(last=False)
                self._bytes -= old.bytes
                old.dropped = True
                self.touched += 1

    def drain(self) -> None:
        """Empty the inbox (background, after every run): messages of threads read before are counted
        with their thread's encoding, the others dropped, so no text stays in memory between runs."""
        while True:
            try:
                msg = self._inbox.popleft()
            except IndexError:
                break
            with self._inbox_lock:
                self._inbox_bytes -= len(msg.text)
            with self._lock:
                state = self._threads.get(msg.thread_id)
            if state is None or state.encoder is None:
                continue
            with state.lock:
                if msg.id in state.anchored_ids or msg.id in state.counted or state.encoder is None:
                    continue
                state.counted[msg.id] = state.encoder.count(msg.text)
                self._account(state, entry_bytes(msg))
        self._evict()


def _name(encoder: Optional[Encoder]) -> str:
    return encoder.name if encoder is not None else ""
