"""What the SDK hooks hand to an API front end, and the registry that picks the front end of a call.

The hooks know nothing of any API: each request path is claimed by at most one front end (the
Assistants API, the Responses API), which receives the call, the objects parsed from it and its
stream events. Modelled on the extensions registry of the contrib botocore instrumentation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional, Protocol

from opentelemetry import context as otel_context


@dataclass
class Call:
    """One SDK request, as the app made it."""

    method: str
    path: str
    body: dict[str, Any]
    started_ns: int
    context: otel_context.Context
    client: Any
    state: dict[str, Any] = field(default_factory=dict)  # what the front end keeps for the call's lifetime
    front_end: Optional[FrontEnd] = None  # the front end that claimed the path


class StreamWatcher(Protocol):
    """Routes its events (``eventroutes``): most pass or are kept without a call to it."""

    key: str
    routes: dict[Any, int]
    kept: list[tuple[Any, int]]

    def route(self, event: Any) -> int: ...
    def drain(self) -> None: ...
    def event(self, event: Any) -> None: ...
    def closed(self, error: Optional[BaseException]) -> None: ...


class FrontEnd(Protocol):
    """An API front end: claims request paths and is told what the hooks see on them."""

    enabled: bool

    def claims(self, path: str) -> bool: ...
    def call_started(self, call: Call) -> None: ...
    def call_ended(self, call: Call, error: Optional[BaseException]) -> None: ...
    def observe(self, call: Call, parsed: Any) -> None: ...
    def stream_opened(self, call: Call) -> Optional[StreamWatcher]: ...


_UNKNOWN = object()
_CLAIMS_KEPT = 512  # paths whose claimant is remembered; most calls repeat a few (a creation's)


class Registry:
    """The front ends in use, asked in order which one claims a path. The answer is remembered per
    path (a bounded map, emptied when full): a creation's path is the same on every call."""

    def __init__(self, front_ends: tuple[FrontEnd, ...] = ()) -> None:
        self.front_ends = front_ends
        self.enabled = True
        self._claimed: dict[str, Optional[FrontEnd]] = {}

    def claimant(self, path: str) -> Optional[FrontEnd]:
        claimed = self._claimed
        known = claimed.get(path, _UNKNOWN)  # one lookup: another thread may empty the map meanwhile
        if known is not _UNKNOWN:
            return known  # type: ignore[return-value]
        found = next((f for f in self.front_ends if f.claims(path)), None)
        if len(claimed) >= _CLAIMS_KEPT:
            claimed.clear()
        claimed[path] = found
        return found
