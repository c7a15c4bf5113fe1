"""Plays a run's script: each ``advance`` is one transition, returning the stream events it caused.

Polling advances a run one transition per read; a stream advances it until it stops
(``requires_action`` or a terminal status). Both therefore see the same runs, steps and messages.
"""

from __future__ import annotations

import copy
from typing import Any, Dict, Iterator, List, Optional, Tuple

from .scripts import (
    Code,
    Expire,
    Fail,
    FileSearch,
    Function,
    Incomplete,
    Say,
    Script,
    StepUsage,
    ToolCallPlan,
    Tools,
)
from .state import Obj, World, new_id

Event = Tuple[str, Obj]
TERMINAL = frozenset({"completed", "failed", "cancelled", "expired", "incomplete"})
EXPIRES_AFTER_S = 600


def snap(obj: Obj) -> Obj:
    return copy.deepcopy(obj)


def text_part(value: str) -> Obj:
    return {"type": "text", "text": {"value": value, "annotations": []}}


def chunks(text: str, size: int) -> List[str]:
    size = max(1, size)
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def _words(text: str) -> int:
    return len(text.split())


class LiveRun:
    """One run being played; all methods are called with ``world.lock`` held."""

    def __init__(self, world: World, run: Obj, script: Script, report_usage: bool) -> None:
        self.world = world
        self.run = run
        self.script = script
        self.report_usage = report_usage if script.report_usage is None else script.report_usage
        self.usages: List[StepUsage] = []
        self.images: List[str] = []
        self.context = 0
        self._gen: Iterator[List[Event]] = self._play()

    # -- driving -------------------------------------------------------------------------------
    @property
    def status(self) -> str:
        return str(self.run["status"])

    def stopped(self) -> bool:
        """True when the run waits for the app (requires_action) or is over."""
        return self.status == "requires_action" or self.status in TERMINAL

    def advance(self) -> List[Event]:
        """One transition; nothing when the run waits for tool outputs or is over.

        A live run whose ``expires_at`` has passed on the clock expires instead.
        """
        if self.status in TERMINAL:
            return []
        if self._now() >= self.run["expires_at"]:
            return self._abort("expired")
        if self.status == "cancelling":
            return self._abort("cancelled")
        if self.stopped():
            return []
        try:
            return next(self._gen)
        except StopIteration:
            return []

    def submit(self, outputs: Dict[str, str]) -> List[Event]:
        for step in self.world.steps.where(run_id=self.run["id"], status="in_progress"):
            for call in step["step_details"].get("tool_calls", []):
                if call["type"] == "function" and call["id"] in outputs:
                    call["function"]["output"] = outputs[call["id"]]
        self._set(status="queued", required_action=None)
        return [("thread.run.queued", snap(self.run))]

    # -- helpers ------------------------------------------------------------------------------
    def _now(self) -> int:
        return self.world.clock.now()

    def _set(self, **fields: Any) -> None:
        self.run.update(fields)

    def _usage(self, planned: Optional[StepUsage], completion: int) -> Optional[Obj]:
        prompt, done = planned if planned is not None else (100 + self.context, completion)
        self.context += done + 4
        self.usages.append((prompt, done))
        if not self.report_usage:
            return None
        return {"prompt_tokens": prompt, "completion_tokens": done, "total_tokens": prompt + done}

    def _run_usage(self) -> Optional[Obj]:
        if not self.report_usage:
            return None
        prompt = sum(p for p, _ in self.usages)
        done = sum(c for _, c in self.usages)
        return {"prompt_tokens": prompt, "completion_tokens": done, "total_tokens": prompt + done}

    def _end(self, status: str, event: str, **fields: Any) -> List[Event]:
        self._set(status=status, usage=self._run_usage(), required_action=None, **fields)
        if status != "expired":
            self._set(expires_at=None)
        return [(event, snap(self.run))]

    def _new_step(self, details: Obj) -> Obj:
        step = {
            "id": new_id("step"),
            "object": "thread.run.step",
            "created_at": self._now(),
            "assistant_id": self.run["assistant_id"],
            "thread_id": self.run["thread_id"],
            "run_id": self.run["id"],
            "type": details["type"],
            "status": "in_progress",
            "cancelled_at": None,
            "completed_at": None,
            "expired_at": None,
            "failed_at": None,
            "last_error": None,
            "step_details": details,
            "usage": None,
            "metadata": {},
        }
        return self.world.steps.add(step)

    def _complete_step(self, step: Obj, usage: Optional[Obj]) -> Event:
        step.update(status="completed", completed_at=self._now(), usage=usage)
        return ("thread.run.step.completed", snap(step))

    def _failed_step(self, planned: Fail) -> None:
        step = self._new_step({"type": "tool_calls", "tool_calls": []})
        step.update(status="failed", failed_at=self._now(),
                    last_error={"code": planned.code, "message": planned.message})

    def _step_events(self, step: Obj, hide_calls: bool) -> List[Event]:
        shown = snap(step)
        if hide_calls and shown["type"] == "tool_calls":
            shown["step_details"]["tool_calls"] = []
        return [("thread.run.step.created", shown), ("thread.run.step.in_progress", snap(shown))]

    def _step_delta(self, step: Obj, calls: List[Obj]) -> Event:
        data = {"id": step["id"], "object": "thread.run.step.delta"}
        data["delta"] = {"step_details": {"type": "tool_calls", "tool_calls": calls}}
        return ("thread.run.step.delta", data)

    # -- the script ---------------------------------------------------------------------------
    def _play(self) -> Iterator[List[Event]]:
        self._set(status="in_progress", started_at=self._now())
        yield [("thread.run.in_progress", snap(self.run))]
        for planned in self.script.steps:
            if isinstance(planned, Say):
                yield from self._say(planned.text, planned.usage, planned.chunk)
            elif isinstance(planned, Incomplete):
                yield from self._say(planned.text, planned.usage, 8, cut=planned.reason)
                return
            elif isinstance(planned, (Code, Function, FileSearch, Tools)):
                yield from self._tools(planned)
            elif isinstance(planned, Fail):
                if planned.in_step:
                    self._failed_step(planned)
                yield self._end(
                    "failed",
                    "thread.run.failed",
                    failed_at=self._now(),
                    last_error={"code": planned.code, "message": planned.message},
                )
                return
            elif isinstance(planned, Expire):
                yield self._expire()
                return
        yield self._end("completed", "thread.run.completed", completed_at=self._now())

    def _say(
        self, text: str, usage: Optional[StepUsage], size: int, cut: Optional[str] = None
    ) -> Iterator[List[Event]]:
        now = self._now()
        message = {
            "id": new_id("msg"),
            "object": "thread.message",
            "created_at": now,
            "thread_id": self.run["thread_id"],
            "role": "assistant",
            "content": [],
            "assistant_id": self.run["assistant_id"],
            "run_id": self.run["id"],
            "attachments": [],
            "metadata": {},
            "status": "in_progress",
            "completed_at": None,
            "incomplete_at": None,
            "incomplete_details": None,
        }
        self.world.messages.add(message)
        step = self._new_step({"type": "message_creation", "message_creation": {"message_id": message["id"]}})
        yield [
            *self._step_events(step, hide_calls=False),
            ("thread.message.created", snap(message)),
            ("thread.message.in_progress", snap(message)),
        ]
        events: List[Event] = []
        parts: List[Obj] = []
        for file_id in self.images:
            part = {"type": "image_file", "image_file": {"file_id": file_id}}
            events.append(self._message_delta(message, {"index": len(parts), **part}))
            parts.append(part)
        self.images = []
        index = len(parts)
        for i, piece in enumerate(chunks(text, size)):
            body: Obj = {"value": piece, "annotations": []} if i == 0 else {"value": piece}
            events.append(self._message_delta(message, {"index": index, "type": "text", "text": body}))
        parts.append(text_part(text))
        message["content"] = parts
        step_usage = self._usage(usage, _words(text) + 2)
        if cut is None:
            message.update(status="completed", completed_at=self._now())
            events.append(("thread.message.completed", snap(message)))
            events.append(self._complete_step(step, step_usage))
            yield events
            return
        message.update(
            status="incomplete", incomplete_at=self._now(), incomplete_details={"reason": "max_tokens"}
        )
        events.append(("thread.message.incomplete", snap(message)))
        events.append(self._complete_step(step, step_usage))
        events.extend(self._end("incomplete", "thread.run.incomplete", incomplete_details={"reason": cut}))
        yield events

    @staticmethod
    def _message_delta(message: Obj, part: Obj) -> Event:
        data = {"id": message["id"], "object": "thread.message.delta", "delta": {"content": [part]}}
        return ("thread.message.delta", data)

    def _tools(self, planned: Any) -> Iterator[List[Event]]:
        plans: List[ToolCallPlan] = list(planned.calls) if isinstance(planned, Tools) else [planned]
        calls = [self._call(plan) for plan in plans]
        step = self._new_step({"type": "tool_calls", "tool_calls": calls})
        events = self._step_events(step, hide_calls=True)
        for index, (plan, call) in enumerate(zip(plans, calls, strict=True)):
            events.extend(self._call_deltas(step, index, plan, call))
        yield events

        functions = [call for call in calls if call["type"] == "function"]
        if functions:
            required = [
                {
                    "id": c["id"],
                    "type": "function",
                    "function": {k: c["function"][k] for k in ("name", "arguments")},
                }
                for c in functions
            ]
            self._set(
                status="requires_action",
                required_action={
                    "type": "submit_tool_outputs",
                    "submit_tool_outputs": {"tool_calls": required},
                },
            )
            yield [("thread.run.requires_action", snap(self.run))]
            # Resumed after the outputs were submitted (the run is ``queued`` again).
            self._set(status="in_progress")
            events = [("thread.run.in_progress", snap(self.run))]
        else:
            events = []
        for index, (plan, call) in enumerate(zip(plans, calls, strict=True)):
            events.extend(self._finish_call(step, index, plan, call))
        completion = sum(self._call_tokens(plan) for plan in plans)
        explicit = planned.usage
        events.append(self._complete_step(step, self._usage(explicit, completion)))
        yield events

    @staticmethod
    def _call_tokens(plan: ToolCallPlan) -> int:
        if isinstance(plan, Code):
            return _words(plan.input) + 6
        if isinstance(plan, Function):
            return len(plan.arguments) // 4 + 6
        return 10

    @staticmethod
    def _call(plan: ToolCallPlan) -> Obj:
        call_id = new_id("call")
        if isinstance(plan, Code):
            return {
                "id": call_id,
                "type": "code_interpreter",
                "code_interpreter": {"input": plan.input, "outputs": []},
            }
        if isinstance(plan, Function):
            function = {"name": plan.name, "arguments": plan.arguments, "output": None}
            return {"id": call_id, "type": "function", "function": function}
        ranking = {"ranker": "default_2024_08_21", "score_threshold": 0.0}
        return {
            "id": call_id,
            "type": "file_search",
            "file_search": {"ranking_options": ranking, "results": []},
        }

    def _call_deltas(self, step: Obj, index: int, plan: ToolCallPlan, call: Obj) -> List[Event]:
        head: Obj = {"index": index, "id": call["id"], "type": call["type"]}
        if isinstance(plan, Code):
            head["code_interpreter"] = {"input": "", "outputs": []}
            pieces = chunks(plan.input, 10)
            tail = [
                {"index": index, "type": "code_interpreter", "code_interpreter": {"input": p}} for p in pieces
            ]
        elif isinstance(plan, Function):
            head["function"] = {"name": plan.name, "arguments": "", "output": None}
            pieces = chunks(plan.arguments, 10)
            tail = [{"index": index, "type": "function", "function": {"arguments": p}} for p in pieces]
        else:
            head["file_search"] = {}
            tail = []
        return [self._step_delta(step, [head])] + [self._step_delta(step, [t]) for t in tail]

    def _finish_call(self, step: Obj, index: int, plan: ToolCallPlan, call: Obj) -> List[Event]:
        if isinstance(plan, Code):
            outputs: List[Obj] = [{"type": "logs", "logs": log} for log in plan.logs]
            for _ in range(plan.images):
                file_id = new_id("file")
                self.images.append(file_id)
                outputs.append({"type": "image", "image": {"file_id": file_id}})
            call["code_interpreter"]["outputs"] = outputs
            if not outputs:
                return []
            indexed = [{"index": i, **out} for i, out in enumerate(outputs)]
            delta = {"index": index, "type": "code_interpreter", "code_interpreter": {"outputs": indexed}}
            return [self._step_delta(step, [delta])]
        if isinstance(plan, FileSearch):
            call["file_search"]["results"] = [
                {"file_id": new_id("file"), "file_name": f"doc{i + 1}.pdf", "score": round(0.9 - i * 0.1, 2)}
                for i in range(plan.results)
            ]
        return []

    def _expire(self) -> List[Event]:
        return self._abort("expired", close=False)

    def _abort(self, status: str, close: bool = True) -> List[Event]:
        """End a live run as ``cancelled`` or ``expired``: its live step and message end with it."""
        close_gen = getattr(self._gen, "close", None)
        if close and close_gen is not None:
            close_gen()
        now = self._now()
        stamp = "cancelled_at" if status == "cancelled" else "expired_at"
        reason = "run_cancelled" if status == "cancelled" else "run_expired"
        events: List[Event] = []
        for message in self.world.messages.where(run_id=self.run["id"], status="in_progress"):
            message.update(status="incomplete", incomplete_at=now, incomplete_details={"reason": reason})
            events.append(("thread.message.incomplete", snap(message)))
        for step in self.world.steps.where(run_id=self.run["id"], status="in_progress"):
            step.update({"status": status, stamp: now})
            events.append((f"thread.run.step.{status}", snap(step)))
        fields = {"cancelled_at": now} if status == "cancelled" else {}
        return events + self._end(status, f"thread.run.{status}", **fields)
