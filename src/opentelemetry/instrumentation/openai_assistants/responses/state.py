"""What the tracker knows about one response while it lives: plain data, no telemetry."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from opentelemetry.context import Context

from ..model import Response, ResponseRequest

MAX_OBSERVED_TEXT = 1_000_000  # characters of streamed output kept for an estimate


@dataclass
class ResponseState:
    """A response this process created (or was told to trace), from creation to its spans."""

    response: Response
    parent: Context
    started_ns: int
    client: Any
    provider: str
    server_address: Optional[str] = None
    server_port: Optional[int] = None
    request: ResponseRequest = field(default_factory=ResponseRequest)
    body: Any = None  # the creating request's body, read for an estimate off the caller's path
    ended_ns: Optional[int] = None
    end_reason: str = "observed"  # observed | stream_closed | request_failed | unobserved | evicted | shutdown
    item_started_ns: dict[str, int] = field(default_factory=dict)  # item id -> output_item.added seen
    item_ended_ns: dict[str, int] = field(default_factory=dict)  # item id -> output_item.done seen
    streamed_text: list[str] = field(default_factory=list)  # output deltas seen, for an estimate
    streamed_chars: int = 0

    def streamed(self, delta: str) -> None:
        if self.streamed_chars < MAX_OBSERVED_TEXT:
            self.streamed_text.append(delta)
            self.streamed_chars += len(delta)

    def deadline(self, unobserved_s: float) -> float:
        return self.started_ns / 1e9 + unobserved_s
