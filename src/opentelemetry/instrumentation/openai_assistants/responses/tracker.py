"""The response tracker: every way of observing a response (returned, streamed, resumed, polled,
cancelled) meets here.

One ``ResponseState`` per response id, from the call that created it to its terminal status, so a
response polled from another thread or task, or resumed by a later stream, keeps one span. Polls
add no spans. Conversation and container calls are observed too: containers are handed on for
their billing. Nothing here blocks: the caller's path only updates plain data under a lock.

A poll or a stream event is life: a response is taken to have ended unseen only
``unobserved_run_timeout_s`` after its last observation, and never later than its completion window
(``ResponseState.limit``). Even then its ending is provisional: the response waits, bounded in
number, as a tombstone until that ending is final (its limit: the window has closed), and its
estimate is counted only then. If its terminal object is seen first (a late poll), the response
ends as observed and its reported usage is what counts: counters only grow, so the estimate of a
response whose usage may still arrive is never counted, and the money metrics equal the reported
figures exactly, never an estimate plus them. A tombstone pushed out by the bound, or still there
at shutdown, ends with its estimate.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import OrderedDict
from typing import Any, Callable, Optional

from ..config import Settings
from ..ended import EndedIds
from ..fields import fields, get, page_items, provider_of, text
from ..forking import in_child_after_fork
from ..frontends import Call
from ..model import TERMINAL_RESPONSE_STATUSES, Response
from . import observe
from .state import ResponseState
from .streams import ResponseStreamWatcher

logger = logging.getLogger(__name__)

_PATHS = re.compile(r"^(?:responses|conversations|containers)(?:/|$)")
_STEADY = frozenset({"queued", "in_progress"})
_CONTAINER = re.compile(r"^containers(?:/[^/]+)?$")
_CONTAINER_DELETE = re.compile(r"^containers/([^/]+)$")

Finish = Callable[[ResponseState], None]
ContainerSeen = Callable[[Call, Any], None]  # (call, container object as the SDK returned it)


class ResponseTracker:
    """Keeps responses by id and turns observations into response state; see the module docstring."""

    def __init__(self, settings: Settings, finish: Finish, on_container: Optional[ContainerSeen] = None,
                 ended: Optional[EndedIds] = None) -> None:
        self.enabled = True
        self.settings = settings
        self._finish = finish
        self.on_container = on_container
        self.on_track: Callable[[], None] = lambda: None
        self._lock = threading.Lock()
        self._live: OrderedDict[str, ResponseState] = OrderedDict()
        # only with trace_observed_runs: responses not to trace again (kept across restarts when given)
        self._ended = ended if ended is not None else EndedIds()
        self._evicted: list[ResponseState] = []
        self._unseen: OrderedDict[str, ResponseState] = OrderedDict()  # ended unobserved, not final yet
        in_child_after_fork(self, ResponseTracker._after_fork_in_child)

    def _after_fork_in_child(self) -> None:
        """A forked child starts empty: the parent's responses are the parent's to emit, and its lock
        may have been held by a thread that does not exist here."""
        self._lock = threading.Lock()
        self._live = OrderedDict()
        self._evicted = []
        self._unseen = OrderedDict()

    # --- frontends.FrontEnd ------------------------------------------------------------------------

    @staticmethod
    def claims(path: str) -> bool:
        return bool(_PATHS.match(path))

    @staticmethod
    def is_creation(call: Call) -> bool:
        return call.method == "post" and call.path == "responses"

    def call_started(self, call: Call) -> None:
        """Nothing to read yet: a creation's body is read when its state is made (in the background
        for a response ended when first seen)."""

    def call_ended(self, call: Call, error: Optional[BaseException]) -> None:
        if error is not None and self.is_creation(call) and "response" not in call.state:
            self._creation_failed(call, error)
        deleted = _CONTAINER_DELETE.match(call.path) if call.method == "delete" and error is None else None
        if deleted and self.on_container is not None:  # the SDK returns no object for a deletion
            self.on_container(call, {"id": deleted.group(1), "object": "container.deleted", "deleted": True})

    def observe(self, call: Call, parsed: Any) -> None:
        f = fields(parsed)
        kind = f.get("object")
        if kind == "response":
            self._observe_object(call, parsed, f)
        elif kind == "response.compaction":
            self._compaction(call, parsed)
        elif self.on_container is not None and _CONTAINER.match(call.path):
            for obj in page_items(parsed) or (parsed,):
                if get(obj, "object") in ("container", "container.deleted"):
                    self.on_container(call, obj)

    def stream_opened(self, call: Call) -> Optional[ResponseStreamWatcher]:
        if call.path.startswith("responses"):
            return ResponseStreamWatcher(self, call, observe.response_id_of(call.path))
        return None

    # --- observations ---------------------------------------------------------------------------

    def _observe_object(self, call: Call, obj: Any, f: Any) -> None:
        status, ident = f.get("status"), f.get("id")
        if (isinstance(status, str) and isinstance(ident, str) and ident
                and (status in _STEADY or status in TERMINAL_RESPONSE_STATUSES)
                and self._observe_unread(call, obj, f, ident, status)):
            return
        response = observe.response(obj)
        if response is not None:
            self.observe_response(call, response, created=self.is_creation(call))

    def unchanged(self, obj: Any) -> bool:
        """A status event of a tracked response that tells nothing new (still queued or in progress): only
        life, no record built (the stream watcher's test)."""
        f = fields(obj)
        status, ident = f.get("status"), f.get("id")
        if not isinstance(status, str) or status not in _STEADY or not isinstance(ident, str):
            return False
        with self._lock:
            state = self._live.get(ident)
            if state is None or state.response.status != status:
                return False
            state.seen_ns = time.time_ns()  # alive: its deadline moves on
            return True

    def _observe_unread(self, call: Call, obj: Any, f: Any, ident: str, status: str) -> bool:
        """A response observed without building its record on the caller's path. A poll that tells
        nothing new (still queued or in progress) is only life. An ended response (most plain creates
        return one) is finished with the SDK object itself kept in its state, read into its record off
        the caller's path (``observe.read_returned``): the caller's path keeps the id and status test,
        the function call ids a later response may link to, and the hand-over. ``False``: built now (a
        snapshot of a response still running, kept in its state meanwhile; a response not seen before
        that is not a creation, or seen again after it ended unobserved, which ``observe_response``
        decides on; any with ``trace_observed_runs``, which remembers end times from the record)."""
        steady, now = status in _STEADY, time.time_ns()
        with self._lock:
            state = self._live.get(ident)
            if state is not None and steady and state.response.status == status:
                state.seen_ns = now  # alive: its deadline moves on
                return True
            created = self.is_creation(call)
            if steady or self.settings.trace_observed_runs or (
                    state is None and (not created or ident in self._unseen)):
                return False
            record = Response(id=ident, status=status, background=f.get("background") is True)
            if state is None:
                state = self._new_state(call, record, read_request=False)
            if created:
                call.state["response"] = ident
            state.response, state.returned, state.seen_ns, state.ended_ns = record, obj, now, now
            state.returned_calls = observe.function_call_ids(f.get("output"))
            self._live.pop(ident, None)
        self._finish(state)
        return True

    def observe_response(self, call: Call, response: Response, created: bool, at_ns: Optional[int] = None) -> None:
        now = at_ns or time.time_ns()
        with self._lock:
            state = self._live.get(response.id) or self._revived(response.id)
            if state is None:
                if not created and (not self.settings.trace_observed_runs or self._ended.remembered(response.id)):
                    return  # traced here already; one forgotten since is claimed once by the finisher
                # a response already ended when first seen (most plain creates) is finished, not tracked
                state = self._new_state(call, response) if response.terminal else self._track(call, response)
            if self.is_creation(call):
                call.state["response"] = response.id
            state.response, state.returned = response, None
            state.seen_ns = now
            finished = response.terminal and state.ended_ns is None
            if finished:
                state.ended_ns = now
                self._untrack(response)
        self._finish_evicted()
        if finished:
            self._finish(state)

    def item_started(self, response_id: Optional[str], item: Any, at_ns: int) -> None:
        item_id = text(get(item, "id"))
        if response_id and item_id and observe.is_tool_item(text(get(item, "type")) or ""):
            with self._lock:
                state = self._live.get(response_id)
                if state is not None:
                    state.seen_ns = at_ns
                    state.item_started_ns.setdefault(item_id, at_ns)

    def item_done(self, response_id: Optional[str], item: Any, at_ns: int) -> None:
        item_id = text(get(item, "id"))
        if response_id and item_id and observe.is_tool_item(text(get(item, "type")) or ""):
            with self._lock:
                state = self._live.get(response_id)
                if state is not None:
                    state.seen_ns = at_ns
                    state.item_ended_ns[item_id] = at_ns

    def live(self, response_id: Optional[str]) -> Optional[ResponseState]:
        """The state of a response being tracked, for a stream to write its deltas into."""
        if not response_id:
            return None
        with self._lock:
            return self._live.get(response_id)

    def stream_closed(self, response_id: Optional[str], error: Optional[BaseException]) -> None:
        """A stream ended before its response did. A background response goes on server-side (a later
        poll or resumed stream sees its end); a foreground one stops with its stream: ended here."""
        if not response_id:
            return
        with self._lock:
            state = self._live.get(response_id)
            if state is None or state.response.background or state.ended_ns is not None:
                return
            state.end_reason, state.ended_ns = "stream_closed", time.time_ns()
            self._untrack(state.response)
        logger.debug("stream of response %s closed early (%s)", response_id, type(error).__name__)
        self._finish(state)

    # --- life cycle -----------------------------------------------------------------------------

    def _new_state(self, call: Call, response: Response, read_request: bool = True) -> ResponseState:
        """A response's state. Its request is read now unless ``read_request`` is off (a response that
        has ended already: read with it in the background); a tracked one needs its completion window.
        The client's server is read off the caller's path (``observe.read_returned``)."""
        state = ResponseState(response=response, parent=call.context, started_ns=call.started_ns, client=call.client,
                              provider=provider_of(call.client), body=call.body or None)
        if read_request:
            state.request, state.request_read = observe.request(call.body), True
        return state

    def _track(self, call: Call, response: Response) -> ResponseState:
        state = self._live[response.id] = self._new_state(call, response)
        self.on_track()
        while len(self._live) > self.settings.max_tracked_runs:
            _, oldest = self._live.popitem(last=False)
            self._forget(oldest.response)
            oldest.end_reason, oldest.ended_ns = "evicted", time.time_ns()
            self._evicted.append(oldest)  # finished once the lock is released
        return state

    def _revived(self, response_id: str) -> Optional[ResponseState]:
        """A response ended unobserved but seen again before that was final: tracked again (lock held)."""
        state = self._unseen.pop(response_id, None)
        if state is not None:
            state.end_reason, state.ended_ns, state.final_s = "observed", None, 0.0
            self._live[response_id] = state
        return state

    def _finish_evicted(self) -> None:
        with self._lock:
            evicted, self._evicted = self._evicted, []
        for state in evicted:
            self._finish(state)

    def _untrack(self, response: Response) -> None:
        self._live.pop(response.id, None)
        self._forget(response)

    def _forget(self, response: Response) -> None:
        if self.settings.trace_observed_runs:
            self._ended.put(response.id, _ended_at(response))

    def _creation_failed(self, call: Call, error: BaseException) -> None:
        """A creation the API refused still gets its (failed) span: no id, no usage, nothing billed."""
        state = self._new_state(call, Response(id="", status="failed", error_code=type(error).__name__))
        state.response.model = state.request.model
        state.end_reason, state.ended_ns = "request_failed", time.time_ns()
        self._finish(state)

    def _compaction(self, call: Call, obj: Any) -> None:
        """``responses.compact``: one inference, billed by its usage, ended when returned."""
        ident = text(get(obj, "id"))
        if not ident or call.method != "post":
            return
        request = observe.request(call.body)
        response = Response(id=ident, status="completed", model=request.model,
                            created_at=observe.integer_field(obj, "created_at"),
                            usage=observe.usage(get(obj, "usage")))
        state = self._new_state(call, response)
        state.ended_ns = time.time_ns()
        self._finish(state)

    def sweep(self, now_s: Optional[float] = None) -> None:
        """End responses not seen for too long (provisionally), and finish those whose ending is final."""
        now_s = now_s or time.time()
        timeout = self.settings.unobserved_run_timeout_s
        final: list[ResponseState] = []
        with self._lock:
            for state in list(self._live.values()):
                if now_s >= state.deadline(timeout):
                    self._live.pop(state.response.id, None)
                    state.end_reason, state.ended_ns = "unobserved", max(state.started_ns, int(now_s * 1e9))
                    state.final_s = state.limit(timeout)  # its window closed: no end to wait for
                    self._unseen[state.response.id] = state
            for state in list(self._unseen.values()):
                if now_s >= state.final_s:
                    final.append(self._unseen.pop(state.response.id))
            while len(self._unseen) > max(1, self.settings.max_tracked_runs):
                final.append(self._unseen.popitem(last=False)[1])
            for state in final:
                self._forget(state.response)
        for state in final:
            self._finish(state)

    def end_all(self, reason: str) -> None:
        with self._lock:
            states, unseen = list(self._live.values()), list(self._unseen.values())
            for state in states + unseen:
                self._forget(state.response)
            self._live.clear()
            self._unseen.clear()
        for state in states:
            state.end_reason, state.ended_ns = reason, time.time_ns()
            self._finish(state)
        for state in unseen:  # ended unobserved: now final, with its estimate
            self._finish(state)

    def live_responses(self) -> int:
        with self._lock:
            return len(self._live)


def _ended_at(response: Response) -> Optional[int]:
    """When the API says the response ended (a failed or cancelled one may not say: its creation)."""
    return response.completed_at or response.created_at
