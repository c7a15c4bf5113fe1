"""Reads a Responses SSE stream event by event, for the tracker.

Response events carry the whole response (its status, and usage at the end); item events time the
tool calls (``output_item.added`` -> ``output_item.done``); text and argument deltas are kept only
as far as an estimate needs them, should the stream stop before the usage arrives. A resumed stream
(``starting_after``) names its response in the request path, not in its first events.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Optional, Protocol

from ..fields import fields
from . import observe

if TYPE_CHECKING:
    from ..frontends import Call
    from ..model import Response
    from .state import ResponseState


class ResponseObserver(Protocol):
    """What the watcher tells the response tracker (which opens watchers: the arrow points one way)."""

    def is_creation(self, call: Call) -> bool: ...
    def observe_response(self, call: Call, response: Response, created: bool,
                         at_ns: Optional[int] = None) -> None: ...
    def item_started(self, response_id: Optional[str], item: Any, at_ns: int) -> None: ...
    def item_done(self, response_id: Optional[str], item: Any, at_ns: int) -> None: ...
    def live(self, response_id: Optional[str]) -> Optional[ResponseState]: ...
    def stream_closed(self, response_id: Optional[str], error: Optional[BaseException]) -> None: ...

_RESPONSE_EVENTS = frozenset({"response.created", "response.queued", "response.in_progress", "response.completed",
                              "response.failed", "response.incomplete", "response.cancelled"})
_DELTAS = frozenset({"response.output_text.delta", "response.refusal.delta", "response.function_call_arguments.delta",
                     "response.code_interpreter_call_code.delta", "response.custom_tool_call_input.delta",
                     "response.mcp_call_arguments.delta", "response.reasoning_summary_text.delta"})


class ResponseStreamWatcher:
    def __init__(self, tracker: ResponseObserver, call: Call, response_id: Optional[str]) -> None:
        self._tracker = tracker
        self._call = call
        self._id = response_id
        self._state: Optional[ResponseState] = None  # looked up once per response, not per delta
        self._looked_up: Optional[str] = None

    def event(self, event: Any) -> None:
        values = fields(event)  # once: this runs for every event of every stream
        kind = values.get("type")
        if not isinstance(kind, str):
            return
        if kind in _DELTAS:  # most of a stream: looked at by name, kept as text
            if self._looked_up != self._id:
                self._looked_up, self._state = self._id, self._tracker.live(self._id)
            delta = values.get("delta")
            if self._state is not None and isinstance(delta, str):
                self._state.streamed(delta)  # only this stream writes it; read once the response has ended
        elif kind in _RESPONSE_EVENTS:
            self._response_event(kind, values.get("response"))
        elif kind == "response.output_item.added":
            self._tracker.item_started(self._id, values.get("item"), time.time_ns())
        elif kind == "response.output_item.done":
            self._tracker.item_done(self._id, values.get("item"), time.time_ns())

    def _response_event(self, kind: str, data: Any) -> None:
        response = observe.response(data)
        if response is None:
            return
        self._id = response.id
        created = kind == "response.created" and self._tracker.is_creation(self._call)
        self._tracker.observe_response(self._call, response, created=created, at_ns=time.time_ns())

    def closed(self, error: Optional[BaseException]) -> None:
        self._tracker.stream_closed(self._id, error)
