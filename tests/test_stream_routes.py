"""Stream events routed without a call (``eventroutes``): what the app iterates is untouched, and what
the watchers make of kept or fast-read events is what they made of them one by one.

The end-to-end stream tests (tests/test_responses.py, test_chat.py, test_runs.py, the invariants) drive
the real SDK against the fake API; these check the routing itself and the two bulk readers on the SDK's
own event models, built as the SDK builds them (``construct_type``)."""

from __future__ import annotations

import asyncio
from typing import Any, AsyncIterator, Iterator, Optional

import pytest
from openai._models import construct_type
from openai.types.beta import AssistantStreamEvent
from openai.types.chat import ChatCompletionChunk

from opentelemetry import context as otel_context
from opentelemetry.instrumentation.openai_assistants import hooks
from opentelemetry.instrumentation.openai_assistants.assistants import observe as run_observe
from opentelemetry.instrumentation.openai_assistants.assistants.streams import RunStreamWatcher
from opentelemetry.instrumentation.openai_assistants.chat.state import CallState
from opentelemetry.instrumentation.openai_assistants.chat.streams import ChatStreamWatcher
from opentelemetry.instrumentation.openai_assistants.eventroutes import KEEP, PASS, WATCH, RoutedWatcher
from opentelemetry.instrumentation.openai_assistants.frontends import Call
from opentelemetry.instrumentation.openai_assistants.model import Completion, CompletionRequest, ToolCall


class _Event:
    def __init__(self, kind: str, n: int) -> None:
        self.type, self.n = kind, n


class _Recorder(RoutedWatcher):
    """Passes ``skip``, keeps ``delta``, watches the rest; records what it is told."""

    asked: list[str] = []

    def __init__(self, fail_on: Optional[str] = None) -> None:
        super().__init__()
        self.seen: list[tuple[str, int]] = []
        self.closed_with: list[Optional[BaseException]] = []
        self.fail_on = fail_on

    def route_of(self, kind: Any) -> int:
        self.asked.append(kind)
        return {"skip": PASS, "delta": KEEP}.get(kind, WATCH)

    def handle(self, event: Any, at_ns: Optional[int] = None) -> None:
        if event.type == self.fail_on:
            raise RuntimeError("watcher bug")
        self.seen.append((event.type, event.n))

    def closed(self, error: Optional[BaseException]) -> None:
        self.drain()
        self.closed_with.append(error)


def _source(kinds: list[str], fail_at: Optional[int] = None) -> Iterator[Any]:
    for n, kind in enumerate(kinds):
        if n == fail_at:
            raise ConnectionResetError("cut mid-stream")
        yield _Event(kind, n)


KINDS = ["start", "delta", "skip", "delta", "delta", "skip", "end"]


def test_the_app_gets_every_event_and_the_watcher_only_its_own_in_order() -> None:
    _Recorder.asked.clear()
    for _ in range(2):
        watcher = _Recorder()
        got = list(hooks._watch_sync(_source(KINDS), watcher))
        assert [(e.type, e.n) for e in got] == [(k, n) for n, k in enumerate(KINDS)]
        assert watcher.seen == [(k, n) for n, k in enumerate(KINDS) if k != "skip"]
        assert watcher.closed_with == [None]
    assert sorted(_Recorder.asked) == ["delta", "end", "skip", "start"]  # once per kind, for every stream


def test_kept_events_are_read_in_bounded_batches() -> None:
    watcher = _Recorder()
    kinds = ["start"] + ["delta"] * 600
    events = hooks._watch_sync(_source(kinds), watcher)
    for _ in range(300):
        next(events)
    assert len(watcher.kept) < 256 and len(watcher.seen) > 1
    list(events)
    assert watcher.seen == [(k, n) for n, k in enumerate(kinds)]


def test_our_failure_is_swallowed_and_the_source_error_reaches_the_app_and_the_watcher() -> None:
    watcher = _Recorder(fail_on="start")
    events = hooks._watch_sync(_source(KINDS, fail_at=4), watcher)
    got = []
    with pytest.raises(ConnectionResetError) as raised:
        for event in events:
            got.append(event.n)
    assert got == [0, 1, 2, 3]
    assert watcher.seen == [("delta", 1), ("delta", 3)]  # kept before the error: read at the close
    assert watcher.closed_with == [raised.value]


def test_an_early_close_closes_the_source_and_reads_what_was_kept() -> None:
    closed = []

    def source() -> Iterator[Any]:
        try:
            yield from _source(KINDS)
        finally:
            closed.append(True)

    watcher = _Recorder()
    events = hooks._watch_sync(source(), watcher)
    assert [next(events).n for _ in range(2)] == [0, 1]
    events.close()
    assert closed == [True] and watcher.closed_with == [None]
    assert watcher.seen == [("start", 0), ("delta", 1)]


def test_the_async_loop_routes_alike() -> None:
    async def source() -> AsyncIterator[Any]:
        for event in _source(KINDS):
            yield event

    async def main() -> list[int]:
        return [event.n async for event in hooks._watch_async(source(), watcher)]

    watcher = _Recorder()
    assert asyncio.run(main()) == list(range(len(KINDS)))
    assert watcher.seen == [(k, n) for n, k in enumerate(KINDS) if k != "skip"]
    assert watcher.closed_with == [None]


# --- Assistants: code deltas folded ---------------------------------------------------------------


class _Steps:
    """The run tracker's handling of step deltas (``RunTracker.observe_step_delta``) on one step."""

    def __init__(self) -> None:
        self.calls: list[ToolCall] = []
        self.started: dict[int, int] = {}

    def observe_step_delta(self, run_id: str, step_id: str, delta: Any, at_ns: int) -> None:
        assert (run_id, step_id) == ("run_1", "step_1")
        tool_calls = run_observe.get(run_observe.get(delta, "step_details"), "tool_calls")
        for raw in run_observe.items(tool_calls):
            call = run_observe.merge_tool_call_delta(self.calls, raw)
            if call is not None:
                self.started.setdefault(self.calls.index(call), at_ns)


def _step_delta(index: int, call_id: Optional[str] = None, code: Optional[str] = None,
                logs: Optional[str] = None) -> Any:
    payload: dict[str, Any] = {"input": code} if code is not None else {}
    if logs is not None:
        payload["outputs"] = [{"index": 0, "type": "logs", "logs": logs}]
    call: dict[str, Any] = {"index": index, "type": "code_interpreter", "code_interpreter": payload}
    if call_id:
        call["id"] = call_id
    data = {"id": "step_1", "object": "thread.run.step.delta",
            "delta": {"step_details": {"type": "tool_calls", "tool_calls": [call]}}}
    return construct_type(value={"event": "thread.run.step.delta", "data": data}, type_=AssistantStreamEvent)


def _run_watcher() -> tuple[RunStreamWatcher, _Steps]:
    steps = _Steps()
    watcher = RunStreamWatcher(steps, Call("post", "threads/t/runs", {}, 0, otel_context.get_current(), None))  # type: ignore[arg-type]
    watcher._run_id = "run_1"
    return watcher, steps


def test_code_deltas_folded_make_the_calls_they_made_one_by_one() -> None:
    events = [_step_delta(0, "ci_1", ""), *(_step_delta(0, code=c) for c in ("imp", "ort ", "os\n", "")),
              _step_delta(0, logs="done\n"), _step_delta(0, code="print(1)"),
              _step_delta(1, "ci_2", "x"), _step_delta(1, code=" = 1"), _step_delta(0, code="# late")]
    arrivals = [(event, 1_000 + n) for n, event in enumerate(events)]
    folded, folded_steps = _run_watcher()
    folded.kept.extend(arrivals)
    folded.drain()
    one_by_one, steps = _run_watcher()
    for event, at_ns in arrivals:
        one_by_one.handle(event, at_ns)
    assert folded_steps.calls == steps.calls and folded_steps.started == steps.started
    assert [c.arguments for c in steps.calls] == ["import os\nprint(1)# late", "x = 1"]
    assert steps.calls[0].logs == ["done\n"] and steps.started == {0: 1_000, 1: 1_007}


# --- chat: text-only chunks read without the full reader -------------------------------------------


class _Ends:
    def __init__(self) -> None:
        self.ended: list[tuple[bool, Optional[BaseException]]] = []

    def stream_closed(self, state: CallState, finished: bool, error: Optional[BaseException]) -> None:
        self.ended.append((finished, error))


def _chunk(content: Any = None, finish: Optional[str] = None, tool: Optional[dict[str, Any]] = None,
           usage: bool = False, role: Optional[str] = None) -> Any:
    delta: dict[str, Any] = {"content": content}
    if role:
        delta["role"] = role
    if tool:
        delta["tool_calls"] = [tool]
    value: dict[str, Any] = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-x",
                             "service_tier": "default",
                             "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    if usage:
        value["choices"] = []
        value["usage"] = {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12}
    return construct_type(value=value, type_=ChatCompletionChunk)


def _chat_record(chunks: list[Any], fast: bool) -> tuple[Completion, list[str], _Ends]:
    state = CallState(kind="chat_completions", request=CompletionRequest(model="gpt-x", stream=True,
                                                                        include_usage=True),
                      parent=otel_context.get_current(), started_ns=0, client=None, provider="openai")
    ends = _Ends()
    watcher = ChatStreamWatcher(ends, state)  # type: ignore[arg-type]
    for chunk in chunks:
        (watcher.event if fast else watcher.handle)(chunk)
    watcher.closed(None)
    assert state.completion is not None
    return state.completion, state.streamed_text, ends


def test_text_chunks_read_fast_make_the_record_the_full_reader_made() -> None:
    tool = {"index": 0, "id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{\"a\""}}
    chunks = [_chunk("", role="assistant"), *(_chunk(t) for t in ("Hel", "lo", "", " you")),
              _chunk(tool=tool), _chunk(tool={"index": 0, "function": {"arguments": ": 1}"}}),
              _chunk(" again"), _chunk(finish="stop"), _chunk(usage=True)]
    record, text, ends = _chat_record(chunks, fast=True)
    full_record, full_text, full_ends = _chat_record(chunks, fast=False)
    assert (record, text, ends.ended) == (full_record, full_text, full_ends.ended)
    assert "".join(text) == "Hello you again" and record.finish_reasons == ["stop"]
    assert record.tool_calls[0].arguments == "{\"a\": 1}" and record.usage is not None
    assert ends.ended == [(True, None)]
