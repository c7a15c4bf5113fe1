"""How the stream hook hands each event to its watcher, at no Python call for most events.

A stream is mostly deltas: hundreds of events that tell a watcher nothing (message deltas of a run)
or only a piece of text it keeps for an estimate (a response's text deltas). Calling the watcher for
each cost more than the 2 % of the SDK's own work a stream may add. So the hook looks each event's
kind up in its watcher's table (``routes``: the kind, read from the event's ``__dict__``, to a route)
and, without calling anything of ours:

- ``PASS``: lets it through untouched;
- ``KEEP``: appends it with its arrival time to the watcher's ``kept``, which the watcher reads
  (``drain``) when it is next called: at an event it watches, at the stream's close, or once
  ``KEPT_MAX`` events wait;
- ``WATCH``: calls the watcher's ``event`` (which drains what was kept first, keeping the order).

A kind not in the table yet is routed by the watcher (``route``), which learns it for every later
stream: the table holds a few dozen kinds per API and never more than ``ROUTES_MAX``.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Optional

from .fields import fields

logger = logging.getLogger(__name__)

PASS, KEEP, WATCH = 1, 2, 3  # truthy: ``routes.get(kind) or watcher.route(event)``
KEPT_MAX = 256  # events kept before the watcher is called to read them: bounds what a stream holds
ROUTES_MAX = 256  # kinds learned per watcher class: the API's own, not whatever a stream sends


class RoutedWatcher:
    """The routing half of a stream watcher: subclasses say what each kind of event needs
    (``route_of``) and handle the events themselves (``event``, ``closed``, and ``handle`` for kept ones)."""

    key: str = "type"  # the field naming an event's kind
    routes: dict[Any, int] = {}  # kind -> route, per class (``__init_subclass__``)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.routes = {}  # one table per watcher class, shared by its streams

    def __init__(self) -> None:
        self.kept: list[tuple[Any, int]] = []

    def route(self, event: Any) -> int:
        kind = fields(event).get(self.key)
        route = self.route_of(kind)
        if isinstance(kind, str) and len(self.routes) < ROUTES_MAX:
            self.routes[kind] = route
        return route

    def route_of(self, kind: Any) -> int:
        return WATCH

    def drain(self) -> None:
        """Reads the kept events, in their order, each with its arrival time."""
        if not self.kept:
            return
        kept = self.kept[:]
        self.kept.clear()  # the hook holds this very list: emptied, not replaced
        try:
            self.handle_kept(kept)
        except Exception:  # a failure here must not cost the close that follows (``closed`` drains first)
            logger.debug("openai-assistants instrumentation: reading kept stream events failed", exc_info=True)

    def handle_kept(self, kept: list[tuple[Any, int]]) -> None:
        for event, at_ns in kept:
            self.handle(event, at_ns)

    def handle(self, event: Any, at_ns: Optional[int] = None) -> None:
        """One event, arrived at ``at_ns`` (now when not given)."""

    def event(self, event: Any) -> None:
        now = time.time_ns()
        if self.kept:
            self.drain()
        self.handle(event, now)
