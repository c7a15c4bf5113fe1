"""Builders of model records for the accounting tests."""

from __future__ import annotations

from typing import Any

from opentelemetry.instrumentation.openai_assistants.model import Message, Run, Step, ToolCall, ToolDefinition

CODE = ToolDefinition(type="code_interpreter")


def run(
    run_id: str = "run_1", thread_id: str = "thread_1", model: str = "gpt-4-turbo-preview", **kw: Any
) -> Run:
    kw.setdefault("tools", [CODE])
    kw.setdefault("status", "completed")
    return Run(id=run_id, thread_id=thread_id, model=model, **kw)


def msg(msg_id: str, role: str, text: str, thread_id: str = "thread_1", **kw: Any) -> Message:
    return Message(id=msg_id, thread_id=thread_id, role=role, text=text, **kw)


def message_step(
    step_id: str, message_id: str, run_id: str = "run_1", created_at: int = 0, **kw: Any
) -> Step:
    return Step(
        id=step_id,
        run_id=run_id,
        thread_id="thread_1",
        type="message_creation",
        status="completed",
        message_id=message_id,
        created_at=created_at,
        **kw,
    )


def calls_step(
    step_id: str, calls: list[ToolCall], run_id: str = "run_1", created_at: int = 0, **kw: Any
) -> Step:
    return Step(
        id=step_id,
        run_id=run_id,
        thread_id=kw.pop("thread_id", "thread_1"),
        type="tool_calls",
        status="completed",
        tool_calls=calls,
        created_at=created_at,
        **kw,
    )


def code_call(call_id: str, code: str, logs: list[str], images: int = 0) -> ToolCall:
    return ToolCall(
        id=call_id, type="code_interpreter", name="code_interpreter", arguments=code, logs=logs, images=images
    )


def claim_all_in_random_order(
    url: str, prefix: str, calls: list[tuple[str, str, int]], seed: int, barrier: Any
) -> dict[str, tuple[bool, bool, Any]]:
    """A worker process: claims every call through Redis in its own order; returns the decisions."""
    import random

    from opentelemetry.instrumentation.openai_assistants.accounting.sessions import RedisSessionStore

    store = RedisSessionStore(url=url, prefix=prefix)
    order = list(calls)
    random.Random(seed).shuffle(order)
    barrier.wait(30)
    out = {}
    for thread_id, call_id, ts in order:
        d = store.claim(thread_id, call_id, ts)
        out[call_id] = (d.opened, d.late, d.session_started_at)
    return out
