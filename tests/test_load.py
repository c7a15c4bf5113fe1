"""Many runs at once: each gets its own span tree under the right parent, nothing leaks between runs,
nothing is left behind; switching the instrumentation on and off mid-flight and forking are safe."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import select
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import openai
from sdk import http as sdk_http
from spanutil import assert_tree_is_sound, attrs, children, named

from openai_fake_api import BUILTIN_SCRIPTS, Say
from opentelemetry import trace

TEXT = BUILTIN_SCRIPTS["text"].steps[0]
assert isinstance(TEXT, Say)


def _trees_are_separate(spans: list[Any], app_spans: int) -> None:
    """Each app span holds exactly one run; each run's steps name that run."""
    assert_tree_is_sound(spans)
    apps = named(spans, "app ")
    assert len(apps) == app_spans
    runs = named(spans, "invoke_agent")
    assert len(runs) == app_spans
    seen: set[str] = set()
    for app in apps:
        (run,) = children(spans, app)
        assert run.name.startswith("invoke_agent")
        run_id = attrs(run)["assistants.run.id"]
        assert attrs(run)["assistants.run.status"] == "completed"
        assert run_id not in seen
        seen.add(run_id)
        steps = children(spans, run)
        assert len(steps) == 1
        for step in steps:
            assert attrs(step)["assistants.run.id"] == run_id
    for step in named(spans, "chat"):
        parent = next(r for r in runs if r.context.span_id == step.parent.span_id)
        assert attrs(step)["assistants.run.id"] == attrs(parent)["assistants.run.id"]


def _no_detach_errors(caplog: Any) -> None:
    """Nothing from OpenTelemetry (``Failed to detach context`` is an ERROR of ``opentelemetry.context``)
    nor from us above DEBUG."""
    bad = [r for r in caplog.records if r.name.startswith("opentelemetry") and r.levelno > logging.DEBUG]
    assert bad == [], [r.getMessage() for r in bad]


def test_500_concurrent_async_runs(fake_api: Any, otel: Any, caplog: Any) -> None:
    caplog.set_level(logging.WARNING)
    instrumentor = otel.instrument()
    tracer = otel.tracer_provider.get_tracer("app")

    async def app() -> list[tuple[str, bool]]:
        # All 500 runs are live at once; HTTP requests queue on a pool of 32 connections, which keeps
        # the in-process fake API (a thread per connection) from thrashing.
        http = openai.DefaultAsyncHttpxClient(limits=sdk_http.Limits(max_connections=32))
        client = openai.AsyncOpenAI(base_url=fake_api.base_url, api_key="sk-test", max_retries=5,
                                    http_client=http)
        assistant = await client.beta.assistants.create(model="gpt-4o-mini", name="Helper",
                                                        metadata={"script": "text"})

        async def one(i: int) -> tuple[str, bool]:
            with tracer.start_as_current_span(f"app {i}") as span:
                thread = await client.beta.threads.create(messages=[{"role": "user", "content": f"Hi {i}"}])
                run = await client.beta.threads.runs.create_and_poll(thread_id=thread.id,
                                                                     assistant_id=assistant.id)
                assert trace.get_current_span() is span
                return run.status, run.thread_id == thread.id

        try:
            return await asyncio.gather(*(one(i) for i in range(500)))
        finally:
            await client.close()

    assert asyncio.run(app()) == [("completed", True)] * 500
    spans = otel.spans()
    _trees_are_separate(spans, 500)
    assert instrumentor._tracker.live_runs() == 0
    _no_detach_errors(caplog)


def test_300_concurrent_async_responses(fake_api: Any, otel: Any, caplog: Any) -> None:
    """Returned, streamed and background-polled responses, all live at once, each under its own parent;
    every span names its own response and every token reported is counted once."""
    caplog.set_level(logging.WARNING)
    instrumentor = otel.instrument()
    tracer = otel.tracer_provider.get_tracer("app")

    async def app() -> list[tuple[str, str, int]]:
        http = openai.DefaultAsyncHttpxClient(limits=sdk_http.Limits(max_connections=32))
        client = openai.AsyncOpenAI(base_url=fake_api.base_url, api_key="sk-test", max_retries=5, http_client=http)

        async def one(i: int) -> tuple[str, str, int]:
            options: dict[str, Any] = {"model": "gpt-4o-mini", "input": f"Hi {i}", "metadata": {"script": "cached"}}
            with tracer.start_as_current_span(f"app {i}") as span:
                if i % 3 == 0:
                    stream = await client.responses.create(stream=True, **options)
                    response = [event async for event in stream][-1].response
                else:
                    response = await client.responses.create(background=i % 3 == 1, **options)
                    while response.status in ("queued", "in_progress"):
                        response = await client.responses.retrieve(response.id)
                assert trace.get_current_span() is span
                return response.status, response.id, response.usage.input_tokens

        try:
            return await asyncio.gather(*(one(i) for i in range(300)))
        finally:
            await client.close()

    results = asyncio.run(app())
    assert {status for status, _, _ in results} == {"completed"}
    spans = otel.spans()
    assert_tree_is_sound(spans)
    apps = named(spans, "app ")
    assert len(apps) == 300
    seen = set()
    for app_span in apps:
        (response,) = children(spans, app_span)
        assert response.name == "chat gpt-4o-mini"
        seen.add(attrs(response)["gen_ai.response.id"])
    assert seen == {response_id for _, response_id, _ in results}
    tokens = sum(p.sum for p in otel.metrics()["gen_ai.client.token.usage"]
                 if p.attributes["gen_ai.token.type"] == "input" and p.attributes["openai.api.type"] == "responses")
    assert tokens == sum(t for _, _, t in results)
    assert instrumentor._responses.live_responses() == 0
    _no_detach_errors(caplog)


def test_32_threads_on_one_sync_client(fake_api: Any, otel: Any, caplog: Any) -> None:
    caplog.set_level(logging.WARNING)
    instrumentor = otel.instrument()
    tracer = otel.tracer_provider.get_tracer("app")
    client = openai.OpenAI(base_url=fake_api.base_url, api_key="sk-test", max_retries=5)
    assistant = client.beta.assistants.create(model="gpt-4o-mini", name="Helper", metadata={"script": "text"})

    def one(i: int) -> str:
        with tracer.start_as_current_span(f"app {i}"):
            thread = client.beta.threads.create(messages=[{"role": "user", "content": f"Hi {i}"}])
            run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id)
            return client.beta.threads.messages.list(thread.id, run_id=run.id).data[0].content[0].text.value

    with ThreadPoolExecutor(32) as pool:
        answers = list(pool.map(one, range(96)))
    client.close()
    assert answers == [TEXT.text] * 96
    _trees_are_separate(otel.spans(), 96)
    assert instrumentor._tracker.live_runs() == 0
    _no_detach_errors(caplog)


def test_switching_on_and_off_mid_flight(api: Any, otel: Any, caplog: Any) -> None:
    caplog.set_level(logging.WARNING)
    client = api.client
    assistant = api(client.beta.assistants.create, model="gpt-4o-mini", name="Helper",
                    metadata={"script": "code_interpreter"})
    stop = threading.Event()
    toggles = 0

    def toggle() -> None:
        nonlocal toggles
        while not stop.is_set():
            otel.instrument()
            time.sleep(0.002)
            otel.instrumentor.uninstrument()
            toggles += 1
            time.sleep(0.002)

    async def many(n: int) -> list[Any]:
        return await asyncio.gather(*(one_async(i) for i in range(n)))

    async def one_async(i: int) -> Any:
        thread = await client.beta.threads.create(messages=[{"role": "user", "content": f"Hi {i}"}])
        stream_runs = client.beta.threads.runs
        if i % 2:
            run = await stream_runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id)
        else:
            async with stream_runs.stream(thread_id=thread.id, assistant_id=assistant.id) as stream:
                await stream.until_done()
                run = await stream.get_final_run()
        return run.status, (await client.beta.threads.messages.list(thread.id)).data[0].content[0].text.value

    def one_sync(i: int) -> Any:
        thread = client.beta.threads.create(messages=[{"role": "user", "content": f"Hi {i}"}])
        if i % 2:
            run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id)
        else:
            with client.beta.threads.runs.stream(thread_id=thread.id, assistant_id=assistant.id) as stream:
                stream.until_done()
                run = stream.get_final_run()
        return run.status, client.beta.threads.messages.list(thread.id).data[0].content[0].text.value

    toggler = threading.Thread(target=toggle)
    toggler.start()
    try:
        if api.kind == "async":
            results = api.wait(many(40))
        else:
            with ThreadPoolExecutor(8) as pool:
                results = list(pool.map(one_sync, range(40)))
    finally:
        stop.set()
        toggler.join()
    assert toggles > 0
    expected = BUILTIN_SCRIPTS["code_interpreter"].steps[-1]
    assert isinstance(expected, Say)
    assert results == [("completed", expected.text)] * 40
    if otel.instrumentor.is_instrumented_by_opentelemetry:
        tracker = otel.instrumentor._tracker
        otel.instrumentor.uninstrument()
        assert tracker.live_runs() == 0
    assert otel.instrumentor._tracker is None  # uninstrument() lets every cache go
    assert_tree_is_sound(list(otel.exporter.get_finished_spans()))
    _no_detach_errors(caplog)


def test_a_forked_child_gets_its_spans(fake_api: Any, otel: Any) -> None:
    otel.instrument()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: run, flush, report, and leave without running the parent's teardown
        code = 1
        try:
            os.close(read_end)
            otel.exporter.clear()
            client = openai.OpenAI(base_url=fake_api.base_url, api_key="sk-test")
            assistant = client.beta.assistants.create(model="gpt-4o-mini", name="Helper",
                                                      metadata={"script": "code_interpreter"})
            thread = client.beta.threads.create(messages=[{"role": "user", "content": "Hi"}])
            run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id)
            spans = otel.spans()
            report = {"status": run.status, "runs": len(named(spans, "invoke_agent")),
                      "steps": len(named(spans, "chat")), "tools": len(named(spans, "execute_tool")),
                      "live": otel.instrumentor._tracker.live_runs()}
            os.write(write_end, json.dumps(report).encode())
            code = 0
        except BaseException as error:
            os.write(write_end, json.dumps({"error": repr(error)}).encode())
        finally:
            os._exit(code)
    os.close(write_end)
    try:
        ready, _, _ = select.select([read_end], [], [], 60)
        assert ready, "the child did not report"
        report = json.loads(os.read(read_end, 65536) or b"{}")
    finally:
        os.close(read_end)
        _, status = os.waitpid(pid, 0)
    assert report == {"status": "completed", "runs": 1, "steps": 2, "tools": 1, "live": 0}
    assert os.waitstatus_to_exitcode(status) == 0
