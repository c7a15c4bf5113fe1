"""Reads a Responses SSE stream event by event, for the tracker.

Response events carry the whole response (its status, and usage at the end); item events time the
tool calls (``output_item.added`` -> ``output_item.done``); text and argument deltas are kept only
as far as an estimate needs them, should the stream stop before the usage arrives. A resumed stream
(``starting_after``) names its response in the request path, not in its first events.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Optional, Protocol

from ..eventroutes import KEEP, PASS, WATCH, RoutedWatcher
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
    def unchanged(self, obj: Any) -> bool: ...  # a poll of a tracked response that tells nothing new

_RESPONSE_EVENTS = frozenset({"response.created", "response.queued", "response.in_progress", "response.completed",
                              "response.failed", "response.incomplete", "response.cancelled"})
_ITEM_EVENTS = frozenset({"response.output_item.added", "response.output_item.done"})
_DELTAS = frozenset({"response.output_text.delta", "response.refusal.delta", "response.function_call_arguments.delta",
                     "response.code_interpreter_call_code.delta", "response.custom_tool_call_input.delta",
                     "response.mcp_call_arguments.delta", "response.reasoning_summary_text.delta"})
_WATCHED = _RESPONSE_EVENTS | _ITEM_EVENTS


class ResponseStreamWatcher(RoutedWatcher):
    """Text deltas, most of a stream, are kept by the hook without a call and read here in bulk;
    response and item events are watched; every other event passes untouched."""

    def __init__(self, tracker: ResponseObserver, call: Call, response_id: Optional[str]) -> None:
        super().__init__()
        self._tracker = tracker
        self._call = call
        self._id = response_id
        self._state: Optional[ResponseState] = None  # looked up once per response, not per delta
        self._looked_up: Optional[str] = None

    def route_of(self, kind: Any) -> int:
        if kind in _DELTAS:
            return KEEP
        return WATCH if kind in _WATCHED else PASS

    def handle_kept(self, kept: list[tuple[Any, int]]) -> None:
        """Deltas, as text: written into the live response's state, which the finisher reads once it has ended."""
        if self._looked_up != self._id:
            self._looked_up, self._state = self._id, self._tracker.live(self._id)
        if self._state is None:
            return
        texts, last = [], 0
        for event, at_ns in kept:
            values = getattr(event, "__dict__", None)  # a model's own field, read without a call
            delta = values["delta"] if isinstance(values, dict) and "delta" in values else fields(event).get("delta")
            if isinstance(delta, str):
                texts.append(delta)
                last = at_ns
        if texts:
            self._state.streamed(texts, last)  # only this stream writes it

    def handle(self, event: Any, at_ns: Optional[int] = None) -> None:
        values = fields(event)
        kind = values.get("type")
        if not isinstance(kind, str):
            return
        now = at_ns or time.time_ns()
        if kind in _DELTAS:
            self.handle_kept([(event, now)])
        elif kind in _RESPONSE_EVENTS:
            self._response_event(kind, values.get("response"), now)
        elif kind == "response.output_item.added":
            self._tracker.item_started(self._id, values.get("item"), now)
        elif kind == "response.output_item.done":
            self._tracker.item_done(self._id, values.get("item"), now)

    def _response_event(self, kind: str, data: Any, now: int) -> None:
        if self._id is not None and kind != "response.created" and self._tracker.unchanged(data):
            return  # e.g. ``response.in_progress`` right after the creation: read as an unchanged poll is
        response = observe.response(data)
        if response is None:
            return
        self._id = response.id
        created = kind == "response.created" and self._tracker.is_creation(self._call)
        self._tracker.observe_response(self._call, response, created=created, at_ns=now)

    def closed(self, error: Optional[BaseException]) -> None:
        self.drain()
        self._tracker.stream_closed(self._id, error)
