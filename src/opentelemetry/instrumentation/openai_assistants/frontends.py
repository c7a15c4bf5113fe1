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


class Registry:
    """The front ends in use, asked in order which one claims a path."""

    def __init__(self, front_ends: tuple[FrontEnd, ...] = ()) -> None:
        self.front_ends = front_ends
        self.enabled = True

    def claimant(self, path: str) -> Optional[FrontEnd]:
        for front_end in self.front_ends:
            if front_end.claims(path):
                return front_end
        return None
