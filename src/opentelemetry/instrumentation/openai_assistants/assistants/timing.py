"""Where each span starts and ends, from what was observed: stream event times where a step was
streamed, the API's whole-second timestamps otherwise, always nested inside the parent span."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from ..model import ToolCall
from .state import RunState, StepState

STREAM = "stream"
SERVER = "server"
_NS = 1_000_000_000


@dataclass
class Window:
    start: int
    end: int

    def clamp(self, start: int, end: int) -> Window:
        """The part of [start, end] inside this window (at least a point)."""
        s = min(max(start, self.start), self.end)
        return Window(s, min(max(end, s), self.end))


def run_window(state: RunState) -> Window:
    end = state.ended_ns or state.started_ns
    return Window(state.started_ns, max(end, state.started_ns))


def step_window(step: StepState, run: Window) -> tuple[Window, str]:
    if step.stream_started_ns is not None:
        return run.clamp(step.stream_started_ns, step.stream_ended_ns or run.end), STREAM
    created, ended = step.step.created_at, step.step.ended_at
    start = created * _NS if created is not None else run.start
    end = ended * _NS if ended is not None else run.end
    return run.clamp(start, end), SERVER


def tool_window(state: RunState, step: StepState, index: int, call: ToolCall,
                step_span: Window, run: Window) -> Window:
    """A function call spans the app's wait (requires_action seen -> outputs submitted); a streamed
    call starts at its first delta; otherwise the call shares its step's window."""
    start: Optional[int] = state.awaiting_ns.get(call.id) or step.call_started_ns.get(index)
    end: Optional[int] = state.submitted_ns.get(call.id)
    return run.clamp(max(start or step_span.start, step_span.start), end or step_span.end)
