"""The instrumentor's contract with the host app: switch on and off cleanly, change nothing the app
sees, keep content and keys out, end every span, and do its background work whatever the app does."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import openai
import pytest
import wrapt
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.trace import StatusCode
from spanutil import assert_tree_is_sound, attrs, children, named, one, shape
from test_runs import outputs_for, start

from openai_fake_api import FakeAssistantsAPI

ROOT = Path(__file__).resolve().parents[1]


def _run_function_scenario(api: Any) -> list[Any]:
    """A run through requires_action, returning what the app got at each call."""
    assistant, thread = start(api, "function")
    runs = api.client.beta.threads.runs
    results = [assistant, thread]
    run = api(runs.create_and_poll, thread_id=thread.id, assistant_id=assistant.id)
    results.append(run)
    results.append(api(runs.submit_tool_outputs_and_poll, run_id=run.id, thread_id=thread.id,
                       tool_outputs=outputs_for(run)))
    results.append(api(runs.steps.list, run.id, thread_id=thread.id))
    results.append(api(api.client.beta.threads.messages.list, thread.id))
    return results


def _error_of(api: Any) -> tuple[type, str]:
    try:
        api(api.client.beta.threads.runs.retrieve, "run_missing", thread_id="thread_missing")
    except openai.APIError as error:
        return type(error), str(error)
    raise AssertionError("expected an error")


def test_results_and_errors_are_unchanged(api: Any, otel: Any, fake_api: Any) -> None:
    plain = [shape(r) for r in _run_function_scenario(api)]
    plain_error = _error_of(api)
    otel.instrument()
    instrumented = [shape(r) for r in _run_function_scenario(api)]
    assert instrumented == plain
    assert _error_of(api) == plain_error
    assert len(named(otel.spans(), "invoke_agent")) == 1


def test_uninstrument_restores_the_sdk_including_wrappers_captured_earlier(api: Any, otel: Any) -> None:
    runs = api.client.beta.threads.runs
    raw = runs.with_raw_response  # captured before instrument(): the SDK caches it
    otel.instrument()
    assistant, thread = start(api, "text")
    api.wait(api(raw.create, thread_id=thread.id, assistant_id=assistant.id).parse())
    api(runs.poll, *_last_run(api, thread))
    assert len(named(otel.spans(), "invoke_agent")) == 1
    otel.instrumentor.uninstrument()
    import openai._base_client as base

    assert not isinstance(vars(base.SyncAPIClient)["request"], wrapt.ObjectProxy)
    assert not isinstance(vars(base.AsyncAPIClient)["request"], wrapt.ObjectProxy)
    otel.exporter.clear()
    api.wait(api(raw.create, thread_id=thread.id, assistant_id=assistant.id).parse())
    api(runs.poll, *_last_run(api, thread))
    assert otel.exporter.get_finished_spans() == ()


def _last_run(api: Any, thread: Any) -> tuple[str, str]:
    page = api(api.client.beta.threads.runs.list, thread.id)
    return page.data[0].id, thread.id


def test_instrument_twice_traces_once(api: Any, otel: Any) -> None:
    otel.instrument()
    otel.instrument()
    assistant, thread = start(api, "text")
    api(api.client.beta.threads.runs.create_and_poll, thread_id=thread.id, assistant_id=assistant.id)
    assert len(named(otel.spans(), "invoke_agent")) == 1


def test_suppressed_calls_are_not_traced(api: Any, instrumented: Any) -> None:
    with suppress_instrumentation():
        assistant, thread = start(api, "text")
        api(api.client.beta.threads.runs.create_and_poll, thread_id=thread.id, assistant_id=assistant.id)
    assert instrumented.spans() == []


def test_a_refused_run_creation_is_an_error_span(api: Any, instrumented: Any) -> None:
    assistant, thread = start(api, "function")
    runs = api.client.beta.threads.runs
    api(runs.create_and_poll, thread_id=thread.id, assistant_id=assistant.id)  # left at requires_action
    with pytest.raises(openai.BadRequestError):
        api(runs.create, thread_id=thread.id, assistant_id=assistant.id)
    failed = [s for s in named(instrumented.spans(), "invoke_agent") if s.status.status_code == StatusCode.ERROR]
    assert len(failed) == 1
    assert attrs(failed[0])["error.type"] == "BadRequestError"


def test_content_is_off_by_default_and_capped_when_on(api: Any, otel: Any, monkeypatch: Any) -> None:
    secret = "the user's private question"
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "SPAN_ONLY")
    otel.instrument(content_max_length=20)
    assistant, thread = start(api, "function")
    runs = api.client.beta.threads.runs
    api(api.client.beta.threads.messages.create, thread.id, role="user", content=secret)
    run = api(runs.create_and_poll, thread_id=thread.id, assistant_id=assistant.id, instructions="Be brief")
    api(runs.submit_tool_outputs_and_poll, run_id=run.id, thread_id=thread.id, tool_outputs=outputs_for(run))
    spans = otel.spans()
    tool = attrs(one(spans, "execute_tool"))
    assert tool["gen_ai.tool.call.arguments"] == '{"city": "Paris"}'
    assert tool["gen_ai.tool.call.result"] == '{"ok": true}'
    run_attrs = attrs(one(spans, "invoke_agent"))
    assert len(run_attrs["gen_ai.system_instructions"]) <= 20
    assert len(run_attrs["gen_ai.output.messages"]) <= 20
    otel.instrumentor.uninstrument()
    otel.exporter.clear()
    monkeypatch.delenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT")
    otel.instrument()
    run = api(runs.create_and_poll, thread_id=thread.id, assistant_id=assistant.id, instructions="Be brief")
    api(runs.submit_tool_outputs_and_poll, run_id=run.id, thread_id=thread.id, tool_outputs=outputs_for(run))
    for span in otel.spans():
        for key, value in attrs(span).items():
            assert not key.startswith(("gen_ai.input", "gen_ai.output", "gen_ai.system", "gen_ai.tool.call.arg",
                                       "gen_ai.tool.call.result")), key
            assert "Paris" not in str(value) and secret not in str(value) and "sk-test" not in str(value)


def test_steps_are_listed_after_the_app_closes_its_client(api: Any, instrumented: Any) -> None:
    assistant, thread = start(api, "code_interpreter")
    for _ in range(2):  # the pool is busy: enrichment waits until the app has closed its client
        instrumented.instrumentor._background.submit(time.sleep, 0.3)
    api(api.client.beta.threads.runs.create_and_poll, thread_id=thread.id, assistant_id=assistant.id)
    api.wait(api.client.close())
    spans = instrumented.spans()
    assert len(children(spans, one(spans, "invoke_agent"))) == 2
    assert len(named(spans, "execute_tool")) == 1


def test_steps_are_listed_after_asyncio_run_returns(fake_api: Any, instrumented: Any) -> None:
    async def app() -> None:
        client = openai.AsyncOpenAI(base_url=fake_api.base_url, api_key="sk-test")
        assistant = await client.beta.assistants.create(model="gpt-4o-mini", name="Helper",
                                                        metadata={"script": "code_interpreter"})
        thread = await client.beta.threads.create(messages=[{"role": "user", "content": "Hi"}])
        for _ in range(2):
            instrumented.instrumentor._background.submit(time.sleep, 0.3)
        await client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id)

    asyncio.run(app())  # returns (and closes its loop) before the enrichment runs
    spans = instrumented.spans()
    assert_tree_is_sound(spans)
    assert len(children(spans, one(spans, "invoke_agent"))) == 2


def test_background_reads_can_be_turned_off(api: Any, otel: Any, fake_api: Any) -> None:
    otel.instrument(fetch_steps=False)
    assistant, thread = start(api, "code_interpreter")
    api(api.client.beta.threads.runs.create_and_poll, thread_id=thread.id, assistant_id=assistant.id)
    spans = otel.spans()
    assert children(spans, one(spans, "invoke_agent")) == []
    assert fake_api.count("GET", r"/steps$") == 0


def test_a_run_never_seen_to_finish_is_ended_and_forgotten(api: Any, otel: Any) -> None:
    otel.instrument(unobserved_run_timeout_s=0.2)
    assistant, thread = start(api, "text")
    api(api.client.beta.threads.runs.create, thread_id=thread.id, assistant_id=assistant.id)
    deadline = time.monotonic() + 10
    while otel.instrumentor._tracker.live_runs() and time.monotonic() < deadline:
        time.sleep(0.05)
    span = one(otel.spans(), "invoke_agent")
    assert attrs(span)["assistants.run.end_reason"] == "unobserved"
    assert span.status.status_code == StatusCode.ERROR


def test_tracked_runs_are_bounded(api: Any, otel: Any) -> None:
    otel.instrument(max_tracked_runs=2)
    assistant, _ = start(api, "text")
    for _ in range(3):
        thread = api(api.client.beta.threads.create)
        api(api.client.beta.threads.runs.create, thread_id=thread.id, assistant_id=assistant.id)
    assert otel.instrumentor._tracker.live_runs() == 2
    evicted = one(otel.spans(), "invoke_agent")
    assert attrs(evicted)["assistants.run.end_reason"] == "evicted"
    otel.instrumentor.uninstrument()  # ends the rest
    assert len(named(otel.exporter.get_finished_spans(), "invoke_agent")) == 3


def test_no_api_key_anywhere(api: Any, instrumented: Any) -> None:
    assistant, thread = start(api, "code_interpreter")
    api(api.client.beta.threads.runs.create_and_poll, thread_id=thread.id, assistant_id=assistant.id)
    spans = instrumented.spans()
    assert spans
    blob = repr([attrs(s) for s in spans]) + repr(instrumented.metrics())
    assert "sk-test" not in blob


def _tree(*prefix: str) -> list[str]:
    env = {**os.environ, "OTEL_TRACES_EXPORTER": "none", "OTEL_METRICS_EXPORTER": "none",
           "OTEL_LOGS_EXPORTER": "none", "PYTHONPATH": str(ROOT / "src")}
    env["OTEL_PYTHON_DISABLED_INSTRUMENTATIONS"] = "openai"  # the test extra installs other OpenAI instrumentations
    env.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)
    out = subprocess.run([*prefix, sys.executable, str(ROOT / "examples" / "demo.py"), "--tree"], env=env,
                         capture_output=True, text=True, timeout=120, check=True)
    return out.stdout.splitlines()


def test_opentelemetry_instrument_gives_the_same_tree_as_the_explicit_call() -> None:
    explicit = _tree()
    auto = _tree(str(Path(sys.executable).parent / "opentelemetry-instrument"))
    assert any(line.startswith("invoke_agent") for line in explicit)
    assert auto == explicit


def test_fake_api_fixture_is_real_http(fake_api: FakeAssistantsAPI) -> None:
    assert fake_api.base_url.startswith("http://127.0.0.1:")


@pytest.mark.parametrize("disabled,expected", [("", "True"), ("openai_assistants", "False")])
def test_opentelemetry_instrument_loads_us_unless_disabled(disabled: str, expected: str) -> None:
    env = {**os.environ, "OTEL_TRACES_EXPORTER": "none", "OTEL_METRICS_EXPORTER": "none",
           "OTEL_LOGS_EXPORTER": "none", "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": disabled}
    code = ("from opentelemetry.instrumentation.openai_assistants import AssistantsInstrumentor as A;"
            "print(A().is_instrumented_by_opentelemetry)")
    out = subprocess.run([str(Path(sys.executable).parent / "opentelemetry-instrument"), sys.executable, "-c", code],
                         env=env, capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == expected
