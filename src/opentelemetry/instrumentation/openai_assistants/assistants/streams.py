"""Reads an Assistants SSE stream event by event, for the tracker.

Only raw events are read: the SDK's ``AssistantEventHandler`` callbacks repeat and skip tool calls
(CONTEXT.md §5), the events do not. Each event is stamped with its arrival time, which times the
step and tool-call spans of a streamed run more finely than the API's whole-second timestamps.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Optional, Protocol

from ..fields import fields
from . import observe

if TYPE_CHECKING:
    from ..frontends import Call
    from ..model import Message, Run, Step


class RunObserver(Protocol):
    """What the watcher tells the run tracker (which opens watchers: the arrow points one way)."""

    def observe_message(self, message: Message) -> None: ...
    def is_creation(self, call: Call) -> bool: ...
    def observe_run(self, call: Call, run: Run, created: bool, at_ns: Optional[int] = None) -> None: ...
    def observe_step(self, step: Step, event: Optional[str] = None, at_ns: Optional[int] = None) -> None: ...
    def observe_step_delta(self, run_id: str, step_id: str, delta: Any, at_ns: int) -> None: ...
    def stream_failed(self, run_id: str, error: BaseException) -> None: ...

_STEP_PREFIX = "thread.run.step."
_RUN_PREFIX = "thread.run."
_MESSAGE_DONE = ("thread.message.completed", "thread.message.incomplete")


class RunStreamWatcher:
    """Follows one stream; remembers the run it belongs to, since step deltas name only the step."""

    def __init__(self, tracker: RunObserver, call: Call) -> None:
        self._tracker = tracker
        self._call = call
        self._run_id: Optional[str] = None
        self._step_runs: dict[str, str] = {}

    def event(self, event: Any) -> None:
        values = fields(event)  # once: this runs for every event of every stream
        name = values.get("event")
        if not isinstance(name, str):
            return
        if name.startswith(_STEP_PREFIX):
            self._step_event(name[len(_STEP_PREFIX):], values.get("data"), time.time_ns())
        elif name.startswith(_RUN_PREFIX):
            self._run_event(name, values.get("data"), time.time_ns())
        elif name in _MESSAGE_DONE:  # message deltas, most of a stream, are only looked at by name
            message = observe.message(values.get("data"))
            if message is not None:
                self._tracker.observe_message(message)

    def _run_event(self, name: str, data: Any, now: int) -> None:
        run = observe.run(data)
        if run is None:
            return
        self._run_id = run.id
        created = name == "thread.run.created" and self._tracker.is_creation(self._call)
        self._tracker.observe_run(self._call, run, created=created, at_ns=now)

    def _step_event(self, kind: str, data: Any, now: int) -> None:
        if kind == "delta":
            step_id = observe.text(observe.get(data, "id")) or ""
            run_id = self._step_runs.get(step_id) or self._run_id
            if run_id:
                self._tracker.observe_step_delta(run_id, step_id, observe.get(data, "delta"), now)
            return
        step = observe.step(data)
        if step is not None:
            self._step_runs[step.id] = step.run_id
            self._tracker.observe_step(step, event=kind, at_ns=now)

    def closed(self, error: Optional[BaseException]) -> None:
        if error is not None and self._run_id:
            self._tracker.stream_failed(self._run_id, error)
