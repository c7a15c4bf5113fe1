"""What the tracker knows about one run while it lives: plain data, no telemetry."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from opentelemetry.context import Context

from ..model import Message, Run, RunRequest, Step, ToolCall

UNSUCCESSFUL = frozenset({"failed", "expired", "cancelled"})  # ends a user debugs from the steps


@dataclass
class StepState:
    """A step's latest snapshot, with the local times its stream events arrived."""

    step: Step
    stream_started_ns: Optional[int] = None
    stream_ended_ns: Optional[int] = None
    call_started_ns: dict[int, int] = field(default_factory=dict)  # tool call index -> first delta time

    def update(self, step: Step) -> None:
        """Take a newer snapshot, keeping tool calls gathered from deltas if the snapshot has none."""
        if not step.tool_calls and self.step.tool_calls:
            step.tool_calls = self.step.tool_calls
        self.step = step


@dataclass
class RunState:
    """A run this process created (or was told to trace), from creation to its spans."""

    run: Run
    parent: Context
    started_ns: int
    client: Any  # the SDK client that created it, for background fetches
    provider: str
    server_address: Optional[str] = None
    server_port: Optional[int] = None
    request: RunRequest = field(default_factory=RunRequest)
    assistant_name: Optional[str] = None
    inherited_metadata: dict[str, str] = field(default_factory=dict)  # the assistant's, then the thread's

    @property
    def metadata(self) -> dict[str, str]:
        """Attribution keys: the run's metadata over its thread's over its assistant's."""
        return {**self.inherited_metadata, **self.run.metadata}
    ended_ns: Optional[int] = None
    end_reason: str = "observed"
    steps: dict[str, StepState] = field(default_factory=dict)
    messages: dict[str, Message] = field(default_factory=dict)  # messages the run wrote
    awaiting_ns: dict[str, int] = field(default_factory=dict)  # function call id -> requires_action seen
    submitted_ns: dict[str, int] = field(default_factory=dict)  # function call id -> outputs submitted
    submitted_outputs: dict[str, str] = field(default_factory=dict)
    ended_in_stream: bool = False  # the run's end arrived as a stream event
    accounted: Optional[str] = None  # "queue_full": accounted on the caller's path without background reads
    server_read: bool = False  # the client's server, read off the caller's path (``observe.read_deferred``)

    def steps_complete(self) -> bool:
        """The steps seen account for the whole run, however they were observed: their reported usage
        adds up to the run's; without reported usage, the run ended in a stream that ended every step."""
        usage = self.run.usage
        if usage is not None:
            seen = [s.step.usage for s in self.steps.values() if s.step.usage is not None]
            return (sum(u.input_tokens for u in seen) == usage.input_tokens
                    and sum(u.output_tokens for u in seen) == usage.output_tokens)
        return self.ended_in_stream and all(s.stream_ended_ns is not None for s in self.steps.values())

    def steps_wanted(self) -> bool:
        """Whether listing the run's steps can tell more: money needs them (``steps_complete``), or the run
        ended unsuccessfully and its steps, the failed one with its ``last_error``, were not all seen end."""
        if not self.steps_complete():
            return True
        if self.run.status not in UNSUCCESSFUL:
            return False
        return not (self.steps and all(s.stream_ended_ns is not None for s in self.steps.values()))

    def step(self, step: Step) -> StepState:
        state = self.steps.get(step.id)
        if state is None:
            state = self.steps[step.id] = StepState(step=step)
        else:
            state.update(step)
        return state

    def ordered_steps(self) -> list[StepState]:
        return sorted(self.steps.values(), key=lambda s: (s.step.created_at or 0, s.stream_started_ns or 0))

    def tool_calls(self) -> list[tuple[StepState, ToolCall]]:
        return [(s, c) for s in self.ordered_steps() for c in s.step.tool_calls]

    def deadline(self, grace_s: float, unobserved_s: float) -> float:
        """The wall-clock time after which a run never seen to finish is ended: a grace period past
        its ``expires_at``, or the configured limit, whichever comes first."""
        limit = self.started_ns / 1e9 + unobserved_s
        return min(limit, self.run.expires_at + grace_s) if self.run.expires_at else limit
