"""Reads an Assistants SSE stream event by event, for the tracker.

Only raw events are read: the SDK's ``AssistantEventHandler`` callbacks repeat and skip tool calls
(CONTEXT.md §5), the events do not. Each event is stamped with its arrival time, which times the
step and tool-call spans of a streamed run more finely than the API's whole-second timestamps.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Optional, Protocol

from ..eventroutes import KEEP, PASS, WATCH, RoutedWatcher
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
    def unchanged(self, obj: Any) -> bool: ...  # the test a poll of a tracked run passes when it tells nothing new

_STEP_PREFIX = "thread.run.step."
_STEP_DELTA = "thread.run.step.delta"
_RUN_PREFIX = "thread.run."
_MESSAGE_DONE = ("thread.message.completed", "thread.message.incomplete")


class RunStreamWatcher(RoutedWatcher):
    """Follows one stream; remembers the run it belongs to, since step deltas name only the step.
    Message deltas and the other message and thread events, most of a stream, pass untouched."""

    key = "event"

    def __init__(self, tracker: RunObserver, call: Call) -> None:
        super().__init__()
        self._tracker = tracker
        self._call = call
        self._run_id: Optional[str] = None
        self._step_runs: dict[str, str] = {}

    def route_of(self, kind: Any) -> int:
        if kind == _STEP_DELTA:
            return KEEP  # read at the next watched event (or the close), in bulk: ``handle_kept``
        if isinstance(kind, str) and (kind.startswith(_RUN_PREFIX) or kind in _MESSAGE_DONE):
            return WATCH  # runs and steps (step events start with the run prefix too), finished messages
        return PASS

    def handle_kept(self, kept: list[tuple[Any, int]]) -> None:
        """Step deltas in their order. A run of deltas that each add only code to the same tool call
        (most of them: the code streamed piece by piece) is folded as one delta with their code
        joined, at the first one's arrival time (the call's start): what the tracker would have made
        of them one by one, for one call instead of one per delta."""
        run: Optional[tuple[str, int]] = None  # (step id, call index) of the code being joined
        pieces: list[str] = []
        first_ns = 0
        for (event, at_ns), code in zip(kept, _code_pieces(kept), strict=True):
            if code is not None and code[:2] == run:
                pieces.append(code[2])
                continue
            if run is not None:
                self._code_delta(run, pieces, first_ns)
            run = None
            if code is None:
                self.handle(event, at_ns)
            else:
                run, pieces, first_ns = code[:2], [code[2]], at_ns
        if run is not None:
            self._code_delta(run, pieces, first_ns)

    def _code_delta(self, run: tuple[str, int], pieces: list[str], at_ns: int) -> None:
        step_id, index = run
        call = {"index": index, "type": "code_interpreter", "code_interpreter": {"input": "".join(pieces)}}
        self._step_event("delta", {"id": step_id, "delta": {"step_details": {"tool_calls": [call]}}}, at_ns)

    def handle(self, event: Any, at_ns: Optional[int] = None) -> None:
        values = fields(event)
        name = values.get("event")
        if not isinstance(name, str):
            return
        now = at_ns or time.time_ns()
        if name.startswith(_STEP_PREFIX):
            self._step_event(name[len(_STEP_PREFIX):], values.get("data"), now)
        elif name.startswith(_RUN_PREFIX):
            self._run_event(name, values.get("data"), now)
        elif name in _MESSAGE_DONE:
            message = observe.message(values.get("data"))
            if message is not None:
                self._tracker.observe_message(message)

    def _run_event(self, name: str, data: Any, now: int) -> None:
        if self._run_id is not None and name != "thread.run.created" and self._tracker.unchanged(data):
            return  # e.g. ``thread.run.queued`` right after the creation: read as an unchanged poll is
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
        self.drain()
        if error is not None and self._run_id:
            self._tracker.stream_failed(self._run_id, error)


_NO_FIELDS: dict[str, Any] = {}


def _code_pieces(kept: list[tuple[Any, int]]) -> list[Optional[tuple[str, int, str]]]:
    """For each kept step delta, (step id, call index, code) if it only adds code to a Code Interpreter
    call already named (one call, no id, no outputs), else None. One call for all of them: each field
    is read from its model's ``__dict__`` with no call; any other shape is left to the full reader (a
    field missing from a ``__dict__`` reads as absent: such a delta is not folded)."""
    pieces: list[Optional[tuple[str, int, str]]] = []
    for event, _ in kept:
        data = getattr(getattr(event, "__dict__", _NO_FIELDS).get("data"), "__dict__", _NO_FIELDS)
        delta = getattr(data.get("delta"), "__dict__", _NO_FIELDS)
        calls = getattr(delta.get("step_details"), "__dict__", _NO_FIELDS).get("tool_calls")
        call = getattr(calls[0], "__dict__", _NO_FIELDS) if isinstance(calls, list) and len(calls) == 1 else {}
        payload = getattr(call.get("code_interpreter"), "__dict__", _NO_FIELDS)
        step_id, index, code = data.get("id"), call.get("index"), payload.get("input")
        named = call.get("id", "") is None and call.get("type") == "code_interpreter"
        if named and not payload.get("outputs", "") and isinstance(step_id, str) and type(index) is int \
                and isinstance(code, str):
            pieces.append((step_id, index, code))
        else:
            pieces.append(None)
    return pieces
