"""The call tracker of the one-request APIs: a chat completion, legacy completion, embedding or
moderation is created by one request and ends with what that request returns (its body, or its
stream's last chunk), so there is nothing to poll.

Every form meets here: the plain call (body parsed inside the request), ``with_raw_response`` and
``with_streaming_response`` (the app parses later: the call waits in ``_pending`` for its body),
``stream=True`` and the ``.stream()`` helper (the watcher ends it), ``parse``. Reads, updates and
deletions of stored completions cost nothing and are never accounted. A body seen twice (a raw
response parsed again) is accounted once: ended completion ids are remembered. Nothing here blocks.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Any, Callable, Optional

from ..config import Settings
from ..fields import fields, get, provider_of, text
from ..forking import in_child_after_fork
from ..frontends import Call
from ..links import Recent
from . import coexist, observe
from .state import CallState
from .streams import ChatStreamWatcher

Finish = Callable[[CallState], None]
PENDING_TIMEOUT_S = 600.0  # a raw response never parsed, a stream never read: ended unobserved after this


class ChatTracker:
    def __init__(self, settings: Settings, finish: Finish) -> None:
        self.enabled = True
        self.settings = settings
        self._finish = finish
        self._lock = threading.Lock()
        self._pending: OrderedDict[int, CallState] = OrderedDict()  # id(request body) -> a call returned unread
        self._ended = Recent(10_000)  # completion ids already accounted
        in_child_after_fork(self, ChatTracker._after_fork_in_child)

    def _after_fork_in_child(self) -> None:
        """A forked child starts empty: the parent's calls are the parent's to emit."""
        self._lock = threading.Lock()
        self._pending = OrderedDict()

    # --- frontends.FrontEnd ------------------------------------------------------------------------

    @staticmethod
    def claims(path: str) -> bool:
        return bool(observe.PATHS.match(path))

    def call_started(self, call: Call) -> None:
        kind = observe.creation_kind(call.method, call.path)
        if kind is not None:
            call.state["chat"] = self._new_state(call, kind)

    def call_ended(self, call: Call, error: Optional[BaseException]) -> None:
        state: Optional[CallState] = call.state.get("chat")
        if state is None or state.ended_ns is not None:
            return
        if error is not None:
            state.end_reason, state.error = "request_failed", type(error).__name__
            self._end(state)
            return
        evicted = []
        with self._lock:  # returned unread (raw, streaming response, a stream not yet read)
            self._pending[id(call.body)] = state
            while len(self._pending) > self.settings.max_tracked_runs:
                evicted.append(self._pending.popitem(last=False)[1])
        for oldest in evicted:
            oldest.end_reason = "evicted"
            self._end(oldest)

    def observe(self, call: Call, parsed: Any) -> None:
        kind = observe.creation_kind(call.method, call.path)
        if kind is None:
            return  # stored completions read, listed, updated or deleted: free, nothing accounted
        f = fields(parsed)
        ident = text(f.get("id"))
        if ident and ident in self._ended:
            return
        state = self._state_of(call, kind)
        if state.ended_ns is not None:
            return
        if state.unread:  # no other instrumentation's span to annotate now: read in the background
            state.returned, state.returned_calls = parsed, observe.tool_call_ids(kind, f)
            if ident:
                self._ended.put(ident, True)
        else:
            state.completion = observe.completion(kind, parsed)
        self._end(state)

    def stream_opened(self, call: Call) -> Optional[ChatStreamWatcher]:
        kind = observe.creation_kind(call.method, call.path)
        if kind is None:
            return None
        state = self._state_of(call, kind)
        observe.read_unread(state)  # the watcher reads the request (made unread where no stream was asked)
        return ChatStreamWatcher(self, state)

    # --- from the stream watcher ------------------------------------------------------------------

    def stream_closed(self, state: CallState, finished: bool, error: Optional[BaseException]) -> None:
        """A stream ended: read to its end (``finished``), or cut (``error``), or closed early by the app."""
        if state.ended_ns is not None:
            return
        if not finished:
            state.end_reason = "stream_closed"
            state.error = type(error).__name__ if error is not None else None
        self._end(state)

    # --- life cycle -----------------------------------------------------------------------------

    def _state_of(self, call: Call, kind: str) -> CallState:
        """The call's state: made at its request, waiting for its body, or (hooks bypassed) made now."""
        state: Optional[CallState] = call.state.get("chat")
        if state is None:
            with self._lock:
                state = self._pending.pop(id(call.body), None)
        if state is None:
            state = call.state["chat"] = self._new_state(call, kind)
        return state

    def _new_state(self, call: Call, kind: str) -> CallState:
        """A call's state. Its request and server are read now only where the caller's path needs them:
        a stream (its watcher reads the request) or another instrumentation's span to annotate before
        it ends; otherwise in the background (``observe.read_unread``)."""
        state = CallState(kind=kind, parent=call.context, started_ns=call.started_ns, client=call.client,
                          provider=provider_of(call.client), body=call.body or None,
                          foreign_span=coexist.open_foreign_span(), unread=True)
        if state.foreign_span is not None or get(call.body, "stream") is True:
            observe.read_unread(state)
        return state

    def _end(self, state: CallState, at_ns: Optional[int] = None) -> None:
        with self._lock:
            if state.ended_ns is not None:
                return
            state.ended_ns = at_ns or time.time_ns()
            body = state.body
            if body is not None and self._pending.get(id(body)) is state:
                del self._pending[id(body)]
        if state.completion is not None and state.completion.id:
            self._ended.put(state.completion.id, True)
        self._finish(state)

    def sweep(self, now_s: Optional[float] = None) -> None:
        """End calls whose body or stream the app never read, past ``PENDING_TIMEOUT_S``."""
        now_s = now_s or time.time()
        with self._lock:
            stale = [(key, s) for key, s in self._pending.items() if now_s - s.started_ns / 1e9 >= PENDING_TIMEOUT_S]
            for key, _ in stale:
                del self._pending[key]
        for _, state in stale:
            state.end_reason = "unobserved"
            self._end(state)

    def end_all(self, reason: str) -> None:
        with self._lock:
            states = list(self._pending.values())
            self._pending.clear()
        for state in states:
            state.end_reason = reason
            self._end(state)

    def live_calls(self) -> int:
        with self._lock:
            return len(self._pending)
