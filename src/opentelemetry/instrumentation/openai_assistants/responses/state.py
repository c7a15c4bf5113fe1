"""What the tracker knows about one response while it lives: plain data, no telemetry."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from opentelemetry.context import Context

from ..model import Response, ResponseRequest

MAX_OBSERVED_TEXT = 1_000_000  # characters of streamed output kept for an estimate
WINDOW_S = {"2h": 2 * 3600, "8h": 8 * 3600}  # background_options.completion_window
LONGEST_WINDOW_S = 8 * 3600


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
    seen_ns: int = 0  # the last observation (a poll, a stream event): the response was alive then
    final_s: float = 0.0  # ended unobserved: when that ending becomes final, unless its end is seen first
    # Read off the caller's path once the response has ended (``observe.read_returned``): the last SDK
    # object observed, when it was not read into ``response`` there, the request, the client's server.
    returned: Any = None
    returned_calls: Optional[list[str]] = None  # the ended object's function call ids, read on that path
    request_read: bool = False
    server_read: bool = False

    def function_calls(self) -> list[str]:
        """Ids of the function calls it asked for: the spans a later response may link to."""
        if self.returned_calls is not None:
            return self.returned_calls
        return [c.id for c in self.response.tool_calls if c.type == "function" and c.id]

    def streamed(self, deltas: list[str], at_ns: int) -> None:
        """Output deltas the stream sent up to ``at_ns`` (written in bulk: one call for many deltas)."""
        self.seen_ns = at_ns
        for delta in deltas:
            if self.streamed_chars >= MAX_OBSERVED_TEXT:
                break
            self.streamed_text.append(delta)
            self.streamed_chars += len(delta)

    def limit(self, unobserved_s: float) -> float:
        """The latest a response may live: its completion window (the longest one when not given)."""
        return self.started_ns / 1e9 + max(unobserved_s, WINDOW_S.get(self.request.completion_window or "",
                                                                      LONGEST_WINDOW_S))

    def deadline(self, unobserved_s: float) -> float:
        """When a response not seen since is taken to have ended unseen: ``unobserved_s`` after the last
        observation (a poll or a stream event is life), never past its ``limit``."""
        return min(max(self.started_ns, self.seen_ns) / 1e9 + unobserved_s, self.limit(unobserved_s))
