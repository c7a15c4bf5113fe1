"""Defects found by trying the instrumentor the way real services run: SDK drift, many short-lived
clients, environment settings, background lookups that fail. Each test drives the real SDK over HTTP
against the fake API where the defect is on that path."""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from typing import Any, Optional

import openai._base_client
import openai._legacy_response
import openai._response
import openai._streaming
import pytest
from spanutil import attrs, named, one
from test_runs import start

from opentelemetry import context as otel_context
from opentelemetry.instrumentation.openai_assistants import _PATCHES
from opentelemetry.instrumentation.openai_assistants.accounting.sessions import RedisSessionStore
from opentelemetry.instrumentation.openai_assistants.assistants.accountant import Accountant
from opentelemetry.instrumentation.openai_assistants.assistants.state import RunState
from opentelemetry.instrumentation.openai_assistants.assistants.tracker import BoundedDict, RunTracker
from opentelemetry.instrumentation.openai_assistants.config import Settings
from opentelemetry.instrumentation.openai_assistants.frontends import Call
from opentelemetry.instrumentation.openai_assistants.model import Run

_MODULES = {m.__name__: m for m in (openai._base_client, openai._response, openai._legacy_response,
                                    openai._streaming)}


def _patched_hook_points() -> list[str]:
    found = []
    for module, name, _ in _PATCHES:
        owner, attr = name.split(".")
        if hasattr(vars(getattr(_MODULES[module], owner)).get(attr), "__wrapped__"):
            found.append(name)
    return found


def test_an_sdk_missing_a_hook_point_is_left_untouched(api: Any, otel: Any, monkeypatch: Any,
                                                       caplog: Any) -> None:
    monkeypatch.delattr(openai._streaming.AsyncStream, "__stream__")
    with caplog.at_level(logging.WARNING):
        otel.instrument()
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "AsyncStream.__stream__" in warnings[0].getMessage()
    assert _patched_hook_points() == []  # all or none: the five present hook points stay as they were
    assistant, thread = start(api, "text")
    api(api.client.beta.threads.runs.create_and_poll, thread_id=thread.id, assistant_id=assistant.id)
    assert named(otel.spans(), "invoke_agent") == []
    otel.instrumentor.uninstrument()
    assert _patched_hook_points() == []
    monkeypatch.undo()
    otel.instrument()  # the same instrumentor works once the SDK matches
    assert len(_patched_hook_points()) == len(_PATCHES)
    otel.instrumentor.uninstrument()
    assert _patched_hook_points() == []


@pytest.mark.parametrize("spelling", ["memory", " Memory ", "bogus"])
def test_the_session_store_named_in_the_environment_still_bills(spelling: str, api: Any, otel: Any,
                                                                monkeypatch: Any) -> None:
    monkeypatch.setenv("OTEL_INSTRUMENTATION_OPENAI_ASSISTANTS_SESSION_STORE", spelling)
    otel.instrument()
    assistant, thread = start(api, "code_interpreter")
    api(api.client.beta.threads.runs.create_and_poll, thread_id=thread.id, assistant_id=assistant.id)
    spans = otel.spans()
    run = attrs(one(spans, "invoke_agent"))
    assert "openai_cost.unpriced_reason" not in run
    assert run["openai_cost.rollup.code_interpreter_session_usd"] == 0.03


def test_the_redis_store_named_in_the_environment_is_used(redis_url: str, monkeypatch: Any) -> None:
    monkeypatch.setenv("OTEL_INSTRUMENTATION_OPENAI_ASSISTANTS_SESSION_STORE", "redis")
    monkeypatch.setenv("OTEL_INSTRUMENTATION_OPENAI_ASSISTANTS_REDIS_URL", redis_url)
    monkeypatch.setenv("OTEL_INSTRUMENTATION_OPENAI_ASSISTANTS_REDIS_TIMEOUT_S", "0.25")
    store = Accountant(Settings.load({})).sessions
    assert isinstance(store, RedisSessionStore)
    assert store._client.connection_pool.connection_kwargs["socket_timeout"] == 0.25
    assert store.claim(f"thread_{uuid.uuid4().hex}", "call_1", 1_717_000_000).opened


def _tracker(**settings: Any) -> tuple[RunTracker, list[RunState]]:
    finished: list[RunState] = []
    return RunTracker(Settings(**settings), finish=finished.append), finished


def _call(path: str, body: Optional[dict[str, Any]] = None) -> Call:
    return Call("post", path, body or {}, time.time_ns(), otel_context.get_current(), None)


@pytest.mark.parametrize("capture", [False, True])
def test_tool_outputs_are_kept_only_when_content_is_captured(capture: bool) -> None:
    tracker, _ = _tracker(capture_content=capture)
    tracker.observe_run(_call("threads/thread_1/runs"), Run("run_1", "thread_1", "requires_action"), created=True)
    tracker.call_started(_call("threads/thread_1/runs/run_1/submit_tool_outputs",
                               {"tool_outputs": [{"tool_call_id": "call_1", "output": "secret"}]}))
    state = tracker._runs["run_1"]
    assert "call_1" in state.submitted_ns  # timing is kept either way
    assert state.submitted_outputs == ({"call_1": "secret"} if capture else {})


class _Interleaved(list):  # type: ignore[type-arg]
    """A list whose first emptiness check answers, then lets another thread run ``other`` before the
    checker goes on: the interleaving of two threads finishing evictions at once."""

    def __init__(self, items: list[Any], other: Any) -> None:
        super().__init__(items)
        self._other = other

    def __bool__(self) -> bool:
        answer = len(self) > 0
        other, self._other = self._other, None
        if other is not None:
            thread = threading.Thread(target=other)
            thread.start()
            thread.join()
        return answer


def test_an_evicted_run_is_finished_once_when_two_threads_finish_evictions() -> None:
    tracker, finished = _tracker()
    evicted = RunState(Run("run_old", "thread_1", "queued"), otel_context.get_current(), 0, None, "openai")
    tracker._evicted = _Interleaved([evicted], tracker._finish_evicted)  # the second thread comes in between
    tracker._finish_evicted()  # must not pop() an empty list
    assert [s.run.id for s in finished] == ["run_old"]


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_short_lived_clients_leave_no_descriptors_behind(api: Any, otel: Any) -> None:
    otel.instrument()
    assistant, _ = start(api, "text")

    def one_client_run() -> None:
        client = api.new_client()
        api(client.beta.threads.create_and_run_poll, assistant_id=assistant.id,
            thread={"messages": [{"role": "user", "content": "Hello there"}]})
        api.wait(client.close())

    for _ in range(5):  # warm up: pools, the fake's threads, the shared background client
        one_client_run()
    assert otel.instrumentor.force_flush(10_000)
    before = _open_fds()
    for _ in range(100):
        one_client_run()
    assert otel.instrumentor.force_flush(10_000)
    assert _open_fds() - before < 10
    reads = {p.attributes["openai_cost.fetch.kind"]: p.value for p in otel.metrics()["openai_cost.fetches"]
             if p.attributes["openai_cost.fetch.outcome"] == "ok"}
    assert reads["steps"] == 105  # and the background reads still work
    assert len(named(otel.spans(), "invoke_agent")) == 105


def test_a_failed_assistant_lookup_backs_off_instead_of_repeating(api: Any, otel: Any, fake_api: Any) -> None:
    assistant, _ = start(api, "text")  # created before instrument(): its name must be looked up
    otel.instrument()
    fake_api.faults.add(r"/assistants/asst_", "429", None, method="GET")
    try:
        for _ in range(3):
            api(api.client.beta.threads.create_and_run_poll, assistant_id=assistant.id,
                thread={"messages": [{"role": "user", "content": "Hello there"}]})
            assert otel.instrumentor.force_flush(10_000)
    finally:
        fake_api.faults.clear()
    assert fake_api.count("GET", r"/assistants/asst_") == 1
    outcomes = {p.attributes["openai_cost.fetch.outcome"]: p.value for p in otel.metrics()["openai_cost.fetches"]
                if p.attributes["openai_cost.fetch.kind"] == "assistant"}
    assert outcomes == {"error": 1, "backoff": 2}
    assert len(named(otel.spans(), "invoke_agent")) == 3  # the runs are traced all the same


def test_genai_client_metrics_name_the_server(api: Any, otel: Any, fake_api: Any) -> None:
    otel.instrument()
    assistant, thread = start(api, "code_interpreter")
    api(api.client.beta.threads.runs.create_and_poll, thread_id=thread.id, assistant_id=assistant.id)
    points = otel.metrics()
    port = int(fake_api.base_url.split(":")[2].split("/")[0])
    for name in ("gen_ai.client.token.usage", "gen_ai.client.operation.duration"):
        assert points[name] and all(
            (p.attributes["server.address"], p.attributes["server.port"]) == ("127.0.0.1", port) for p in points[name])
    assert all("server.address" not in p.attributes for p in points["openai_cost.spend"])  # ours stay as they were


def test_the_shared_lru_survives_a_thread_switch_inside_put() -> None:
    lru = BoundedDict(1)
    move_to_end = lru.move_to_end
    others: list[threading.Thread] = []

    def switch_then_move(key: Any) -> None:  # another thread's put runs between insert and move
        if not others:
            others.append(threading.Thread(target=lru.put, args=("b", 2)))
            others[0].start()
            others[0].join(0.5)  # while put holds the lock, the other put waits for it
        move_to_end(key)

    lru.move_to_end = switch_then_move  # type: ignore[method-assign]
    lru.put("a", 1)  # must not raise KeyError
    others[0].join()
    assert list(lru) == ["b"]
