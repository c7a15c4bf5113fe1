"""The run tracker: every way of observing a run (a call, a poll, a stream event, a list) meets here.

Hooks hand it what they saw; it keeps one ``RunState`` per run id, decides when a run has ended,
and hands finished runs to the background for enrichment, accounting and telemetry. Nothing here
blocks: the caller's path only updates plain data under a lock.
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
from ..forking import in_child_after_fork
from ..frontends import Call
from ..model import Assistant, Message, Run, RunRequest, Step, ToolCall
from . import observe
from .state import RunState
from .streams import RunStreamWatcher

logger = logging.getLogger(__name__)

_PATHS = re.compile(r"^(?:assistants|threads)(?:/|$)")
_RUN_CREATE = re.compile(r"^threads/(?:[^/]+/)?runs$")
_SUBMIT = re.compile(r"^threads/[^/]+/runs/([^/]+)/submit_tool_outputs$")
_STEADY = frozenset({"queued", "in_progress"})  # statuses in which a poll rarely tells anything new


class BoundedDict(OrderedDict):  # type: ignore[type-arg]
    """An LRU mapping that forgets its oldest entries past ``limit``; ``put`` is safe across threads
    (the caller's threads and the background workers write to the same maps)."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit
        self._lock = threading.Lock()

    def put(self, key: Any, value: Any) -> None:
        with self._lock:
            self[key] = value
            self.move_to_end(key)
            while len(self) > self.limit:
                self.popitem(last=False)

    def get(self, key: Any, default: Any = None) -> Any:
        with self._lock:
            return super().get(key, default)


class RunTracker:
    """Keeps runs by id and turns observations into run state; see the module docstring."""

    def __init__(
        self,
        settings: Settings,
        finish: Callable[[RunState], None],
        on_assistant_call: Optional[Callable[[Call, Optional[Assistant], Optional[BaseException]], None]] = None,
        on_message: Optional[Callable[[Message], None]] = None,
        ended: Optional[EndedIds] = None,
    ) -> None:
        self.enabled = True
        self.settings = settings
        self._finish = finish
        self._on_assistant_call = on_assistant_call
        self._on_message = on_message
        self._lock = threading.Lock()
        self._runs: OrderedDict[str, RunState] = OrderedDict()
        # Only with trace_observed_runs: runs not to trace again, kept by the instrumentor across restarts.
        self._ended = ended if ended is not None else EndedIds(max(1, settings.max_tracked_runs))
        self.assistants: BoundedDict = BoundedDict(1000)
        self.thread_metadata: BoundedDict = BoundedDict(1000)  # allow-listed keys only, until a run starts
        self._evicted: list[RunState] = []
        self.on_track: Callable[[], None] = lambda: None  # starts the sweep that ends unobserved runs
        in_child_after_fork(self, RunTracker._after_fork_in_child)

    def _after_fork_in_child(self) -> None:
        """A forked child starts empty: the parent's runs are the parent's to emit, and its lock may
        have been held by a thread that does not exist here."""
        self._lock = threading.Lock()
        self._runs = OrderedDict()
        self._evicted = []

    # --- frontends.FrontEnd ------------------------------------------------------------------------

    @staticmethod
    def claims(path: str) -> bool:
        return bool(_PATHS.match(path))

    def call_started(self, call: Call) -> None:
        match = _SUBMIT.match(call.path)
        if call.method == "post" and match:
            self._outputs_submitted(match.group(1), call)

    def call_ended(self, call: Call, error: Optional[BaseException]) -> None:
        if call.method == "post" and call.path == "assistants" and self._on_assistant_call:
            self._on_assistant_call(call, call.state.get("assistant"), error)
        elif error is not None and call.method == "post" and _RUN_CREATE.match(call.path):
            self._creation_failed(call, error)

    def observe(self, call: Call, parsed: Any) -> None:
        f = observe.fields(parsed)
        data = f.get("data")
        if f.get("object") == "list" or isinstance(data, list):  # a cursor page
            for obj in observe.items(data):
                self.observe_object(call, obj)
        else:
            self.observe_object(call, parsed, f)

    def stream_opened(self, call: Call) -> RunStreamWatcher:
        return RunStreamWatcher(self, call)

    # --- observations ---------------------------------------------------------------------------

    def observe_object(self, call: Call, obj: Any, f: Any = None) -> None:
        """One object the app read; ``f``: its fields, when read already."""
        f = observe.fields(obj) if f is None else f
        kind = f.get("object")
        if kind == "thread.run":
            if self._unchanged(obj, f) or self._created_steady(call, obj, f):
                return
            run = observe.run(obj, f)
            if run is not None:
                self.observe_run(call, run, created=self.is_creation(call))
        elif kind == "thread.run.step":
            step = observe.step(obj)
            if step is not None:
                self.observe_step(step)
        elif kind == "thread.message":
            message = observe.message(obj)
            if message is not None:
                self.observe_message(message)
        elif kind == "assistant":
            self.observe_assistant(call, observe.assistant(obj))
        elif kind == "thread":
            thread_id = observe.text(observe.get(obj, "id"))
            if thread_id and self.settings.metadata_keys:
                self.thread_metadata.put(thread_id, self._allowed(observe.metadata(obj)))

    def unchanged(self, obj: Any) -> bool:
        """The stream watcher's test: a run event that tells nothing new."""
        return self._unchanged(obj, observe.fields(obj))

    def _unchanged(self, obj: Any, f: Any) -> bool:
        """A poll of a tracked run that tells nothing new, the common case: skip building its record.

        While a run stays ``queued`` or ``in_progress`` only its start time and metadata can change
        (usage, errors, ends and required actions come with other statuses; the rest is fixed at creation).
        """
        status, run_id = f.get("status"), f.get("id")
        if not isinstance(status, str) or status not in _STEADY or not isinstance(run_id, str):
            return False
        with self._lock:
            state = self._runs.get(run_id)
            last = state.run if state is not None else None
        return (last is not None and status == last.status
                and observe.integer(f.get("started_at")) == last.started_at
                and observe.metadata(obj) == last.metadata)

    def _created_steady(self, call: Call, obj: Any, f: Any) -> bool:
        """A creation that returns a run still queued or in progress (``runs.create``): its record is
        built without the fields that come only with other statuses (``observe.run(steady=True)``).
        ``False``: not that case; the full record is built."""
        status = f.get("status")
        if not isinstance(status, str) or status not in _STEADY or not self.is_creation(call):
            return False
        run = observe.run(obj, f, steady=True)
        if run is None:
            return False
        self.observe_run(call, run, created=True)
        return True

    def observe_assistant(self, call: Call, assistant: Optional[Assistant]) -> None:
        if assistant is None:
            return
        self.assistants.put(assistant.id, assistant)
        if call.method == "post" and call.path == "assistants":
            call.state["assistant"] = assistant

    def observe_message(self, message: Message) -> None:
        if self._on_message:
            self._on_message(message)
        if message.run_id:
            with self._lock:
                state = self._runs.get(message.run_id)
                if state is not None:
                    state.messages[message.id] = message

    @staticmethod
    def is_creation(call: Call) -> bool:
        return call.method == "post" and bool(_RUN_CREATE.match(call.path))

    def observe_run(self, call: Call, run: Run, created: bool, at_ns: Optional[int] = None) -> None:
        now = at_ns or time.time_ns()
        with self._lock:
            state = self._runs.get(run.id)
            if state is None:
                if not created and (not self.settings.trace_observed_runs or self._ended_before(run)):
                    return
                state = self._track(call, run)
            run.function_calls = _carried_calls(state.run.function_calls, run.function_calls)
            state.run = run
            if run.status == "requires_action":
                for call_id in run.required_tool_call_ids:
                    state.awaiting_ns.setdefault(call_id, now)
            finished = run.terminal and state.ended_ns is None
            if finished:
                state.ended_ns = now
                state.ended_in_stream = at_ns is not None
                self._untrack(run)
        if self._evicted:
            self._finish_evicted()
        if finished:
            self._finish(state)

    def observe_step(self, step: Step, event: Optional[str] = None, at_ns: Optional[int] = None) -> None:
        with self._lock:
            state = self._runs.get(step.run_id)
            if state is None:
                return
            step_state = state.step(step)
            if event == "created":
                step_state.stream_started_ns = step_state.stream_started_ns or at_ns
            elif event is not None and event != "in_progress":
                step_state.stream_ended_ns = at_ns

    def observe_step_delta(self, run_id: str, step_id: str, delta: Any, at_ns: int) -> None:
        with self._lock:
            state = self._runs.get(run_id)
            step_state = state.steps.get(step_id) if state else None
            if step_state is None:
                return
            calls = step_state.step.tool_calls
            for raw in observe.items(observe.get(observe.get(delta, "step_details"), "tool_calls")):
                call = observe.merge_tool_call_delta(calls, raw)
                if call is not None:
                    step_state.call_started_ns.setdefault(calls.index(call), at_ns)

    def stream_failed(self, run_id: str, error: BaseException) -> None:
        """A stream broke: the run may go on server-side, so it stays tracked until seen or expired."""
        logger.debug("stream of run %s ended with %s", run_id, type(error).__name__)

    # --- life cycle -----------------------------------------------------------------------------

    def _new_state(self, call: Call, run: Run) -> RunState:
        """What is known about a run when it is created: its call, client, assistant and thread (the
        client's server is read off the caller's path, ``observe.read_deferred``)."""
        assistant = self.assistants.get(run.assistant_id)
        inherited = ({**self._allowed(assistant.metadata if assistant else {}),
                      **self.thread_metadata.get(run.thread_id, {})} if self.settings.metadata_keys else {})
        return RunState(
            run=run,
            parent=call.context,
            started_ns=call.started_ns,
            client=call.client,
            provider=observe.provider_of(call.client),
            request=RunRequest(additional_instructions=observe.text(call.body.get("additional_instructions"))),
            assistant_name=assistant.name if assistant else None,
            inherited_metadata=inherited,
        )

    def _track(self, call: Call, run: Run) -> RunState:
        state = self._runs[run.id] = self._new_state(call, run)
        self.on_track()
        while len(self._runs) > self.settings.max_tracked_runs:
            _, oldest = self._runs.popitem(last=False)
            self._forget(oldest.run)
            oldest.end_reason, oldest.ended_ns = "evicted", time.time_ns()
            self._evicted.append(oldest)
        return state

    def _untrack(self, run: Run) -> None:
        self._runs.pop(run.id, None)
        self._forget(run)

    def _forget(self, run: Run) -> None:
        """Remember an ended run only where a later observation could trace it again."""
        if not self.settings.trace_observed_runs:
            return
        self._ended.put(run.id, ended_at(run))

    def _ended_before(self, run: Run) -> bool:
        """Already traced here: remembered, or finished no later than a run since forgotten (whole
        seconds: a run ending in the same second as one forgotten is not traced, never twice)."""
        return self._ended.seen(run.id, ended_at(run) if run.terminal else None)

    def _allowed(self, metadata: dict[str, str]) -> dict[str, str]:
        return {k: metadata[k] for k in self.settings.metadata_keys if k in metadata}

    def _finish_evicted(self) -> None:
        if not self._evicted:
            return
        with self._lock:  # taken whole: two callers never race for the same last entry
            evicted, self._evicted = self._evicted, []
        for state in evicted:
            self._finish(state)

    def _outputs_submitted(self, run_id: str, call: Call) -> None:
        with self._lock:
            state = self._runs.get(run_id)
            if state is None:
                return
            for output in observe.items(call.body.get("tool_outputs")):
                call_id = observe.text(observe.get(output, "tool_call_id"))
                if call_id:
                    state.submitted_ns.setdefault(call_id, call.started_ns)
                    if self.settings.capture_content:  # tool outputs are content: kept only when captured
                        state.submitted_outputs[call_id] = observe.text(observe.get(output, "output")) or ""

    def _creation_failed(self, call: Call, error: BaseException) -> None:
        """A run creation the API refused still gets its (failed) invoke_agent span."""
        thread_id = call.path.split("/")[1] if call.path.count("/") == 2 else ""
        run = Run(id="", thread_id=thread_id, status="failed",
                  assistant_id=observe.text(call.body.get("assistant_id")),
                  model=observe.text(call.body.get("model")), error_code=type(error).__name__)
        state = self._new_state(call, run)
        state.end_reason = "request_failed"
        state.ended_ns = time.time_ns()
        self._finish(state)

    def sweep(self, now_s: Optional[float] = None) -> None:
        """End runs never seen to finish once past their deadline."""
        now_s = now_s or time.time()
        expired: list[RunState] = []
        with self._lock:
            for run_id, state in list(self._runs.items()):
                if now_s >= state.deadline(self.settings.expiry_grace_s, self.settings.unobserved_run_timeout_s):
                    self._runs.pop(run_id)
                    self._forget(state.run)
                    expired.append(state)
        for state in expired:
            state.end_reason = "unobserved"
            end_s = min(now_s, state.run.expires_at or now_s)
            state.ended_ns = max(state.started_ns, int(end_s * 1e9))
            self._finish(state)

    def end_all(self, reason: str) -> None:
        """End every live run (shutdown), so no span is lost."""
        with self._lock:
            states = list(self._runs.values())
            for state in states:
                self._forget(state.run)
            self._runs.clear()
        for state in states:
            state.end_reason = reason
            state.ended_ns = time.time_ns()
            self._finish(state)

    def live_runs(self) -> int:
        with self._lock:
            return len(self._runs)


def _carried_calls(earlier: list[ToolCall], latest: list[ToolCall]) -> list[ToolCall]:
    """The function calls a run asked for so far: each ``requires_action`` snapshot names only its own."""
    if not earlier:
        return latest
    known = {c.id for c in latest}
    return [c for c in earlier if c.id not in known] + latest


def ended_at(run: Run) -> Optional[int]:
    """The API's end time of a finished run (whole seconds), if it gave one."""
    expired_at = run.expires_at if run.status == "expired" else None
    return run.completed_at or run.failed_at or run.cancelled_at or expired_at

