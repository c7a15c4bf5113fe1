"""What the front end knows about one call while it lives: plain data, no telemetry."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from opentelemetry.context import Context

from ..model import Completion, CompletionRequest, ToolCall

MAX_OBSERVED_TEXT = 1_000_000  # characters of streamed output kept for an estimate


@dataclass
class CallState:
    """A chat completion, completion, embedding or moderation call, from its request to its spans."""

    kind: str  # openai.api.type
    parent: Context
    started_ns: int
    client: Any
    provider: str
    request: CompletionRequest = field(default_factory=CompletionRequest)
    body: Any = None  # the request body, read for an estimate off the caller's path
    server_address: Optional[str] = None
    server_port: Optional[int] = None
    completion: Optional[Completion] = None  # as returned, or assembled from a stream
    ended_ns: Optional[int] = None
    end_reason: str = "observed"  # observed | stream_closed | request_failed | unobserved | evicted | shutdown
    error: Optional[str] = None  # error.type of a refused request or a broken stream
    foreign_span: Any = None  # another instrumentation's span open around the call (coexistence)
    account: Any = None  # accounted on the caller's path (reported usage, another span to annotate)
    streamed_text: list[str] = field(default_factory=list)  # output deltas seen, for an estimate
    streamed_chars: int = 0
    streamed_calls: dict[tuple[int, int], ToolCall] = field(default_factory=dict)  # (choice, index) -> call
    # Read off the caller's path (``observe.read_unread``) when no other instrumentation's span waits
    # for our attributes: the request body, the client's server and the SDK object returned.
    unread: bool = False
    returned: Any = None
    returned_calls: Optional[list[str]] = None  # its tool call ids, read on the caller's path

    def call_ids(self) -> list[str]:
        """Ids of the tool calls the model asked for: the spans a later request may link to."""
        if self.returned_calls is not None:
            return self.returned_calls
        return [c.id for c in self.completion.tool_calls if c.id] if self.completion is not None else []

    def streamed(self, deltas: list[str]) -> None:
        """Output deltas, written in bulk (one call for a whole stream)."""
        for delta in deltas:
            if self.streamed_chars >= MAX_OBSERVED_TEXT:
                break
            self.streamed_text.append(delta)
            self.streamed_chars += len(delta)
