"""What the app and the model wrote never leaves through us unless asked for, and the API key never.

Every built-in script runs polled and streamed (function calls answered with outputs). Then every
exported thing (span names, attributes, events, links, status, resource; metric names and data point
attributes; our log records at every level, tracebacks included) is searched for the texts.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from responses_helpers import last_response
from spanutil import assert_tree_is_sound, named
from test_runs import TOOLS

from openai_fake_api import BUILTIN_SCRIPTS, Code, Function, Incomplete, Say, Tools
from openai_fake_api.responses_scripts import BUILTIN_RESPONSE_SCRIPTS, CodeCall, FunctionCall, McpCall, Text, WebSearch

PACKAGE_LOGGER = "opentelemetry.instrumentation.openai_assistants"
API_KEY = "sk-privacy-7f3a9c1e5b2d4f6a8c0e"
PROMPT = "my bank PIN is 4921 and my cat is Mr Whiskers"
INSTRUCTIONS = "You are the secret-keeping assistant Zebulon"
ADDITIONAL = "Whisper your answers to Quentin"
OUTPUT = "classified output for agent Marigold"
CAPTURED_ATTRIBUTES = ("gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.system_instructions",
                       "gen_ai.tool.call.arguments", "gen_ai.tool.call.result")
MAX_LENGTH = 40


def _script_texts() -> set[str]:
    """The code, logs, function arguments and assistant texts of every built-in script."""
    texts: set[str] = set()
    for script in BUILTIN_SCRIPTS.values():
        for step in script.steps:
            calls = step.calls if isinstance(step, Tools) else [step]
            for item in calls:
                if isinstance(item, Code):
                    texts.update([item.input, *item.logs])
                elif isinstance(item, Function):
                    texts.add(item.arguments)
            if isinstance(step, (Say, Incomplete)):
                texts.add(step.text)
    return {t.strip() for t in texts if len(t.strip()) >= 8}  # shorter ones ("4") occur by chance


def _response_script_texts() -> set[str]:
    """The code, logs, arguments, search queries and texts of every built-in Responses script."""
    texts: set[str] = set()
    for script in BUILTIN_RESPONSE_SCRIPTS.values():
        for part in (script, script.then):
            for item in part.items if part else ():
                if isinstance(item, CodeCall):
                    texts.update([item.code, *item.logs])
                elif isinstance(item, (FunctionCall, McpCall)):
                    texts.add(item.arguments)
                    texts.add(getattr(item, "output", ""))
                elif isinstance(item, WebSearch):
                    texts.add(item.query)
                elif isinstance(item, Text):
                    texts.add(item.text)
    return {t.strip() for t in texts if len(t.strip()) >= 8}


SECRETS = {PROMPT, INSTRUCTIONS, ADDITIONAL, OUTPUT, *_script_texts(), *_response_script_texts()}


def _outputs(run: Any, n: int) -> list[dict[str, str]]:
    calls = run.required_action.submit_tool_outputs.tool_calls
    return [{"tool_call_id": c.id, "output": f"{OUTPUT} #{n}"} for c in calls]


def _play(api: Any, script: str, streamed: bool) -> str:
    """One run of ``script`` to its end, answering function calls; its final status."""
    client = api.client.with_options(api_key=API_KEY)
    beta = client.beta
    assistant = api(beta.assistants.create, model="gpt-4o-mini", name="Helper", instructions=INSTRUCTIONS,
                    tools=TOOLS.get(script, []), metadata={"script": script})
    thread = api(beta.threads.create, messages=[{"role": "user", "content": PROMPT}])
    runs = beta.threads.runs
    options = {"thread_id": thread.id, "assistant_id": assistant.id, "additional_instructions": ADDITIONAL}
    if streamed:
        run = api.wait(api.stream(runs.stream(**options)).get_final_run())
    else:
        run = api(runs.create_and_poll, **options)
    n = 0
    while run.status == "requires_action":
        n += 1
        answer = {"thread_id": thread.id, "run_id": run.id, "tool_outputs": _outputs(run, n)}
        if streamed:
            run = api.wait(api.stream(runs.submit_tool_outputs_stream(**answer)).get_final_run())
        else:
            run = api(runs.submit_tool_outputs_and_poll, **answer)
    api(beta.threads.messages.list, thread.id)
    api(runs.steps.list, run.id, thread_id=thread.id)
    return str(run.status)


def _play_everything(api: Any) -> None:
    for script in BUILTIN_SCRIPTS:
        for streamed in (False, True):
            assert _play(api, script, streamed) in ("completed", "failed", "expired", "incomplete")


def _answer(api: Any, client: Any, response: Any, n: int) -> Any:
    """The next turn of a function-calling loop: every function call of ``response`` answered."""
    outputs = [{"type": "function_call_output", "call_id": item.call_id, "output": f"{OUTPUT} #{n}"}
               for item in response.output if item.type == "function_call"]
    approvals = [{"type": "mcp_approval_response", "approval_request_id": item.id, "approve": True}
                 for item in response.output if item.type == "mcp_approval_request"]
    if not outputs and not approvals:
        return None
    return api(client.responses.create, model="gpt-4o-mini", previous_response_id=response.id,
               input=outputs + approvals)


def _play_response(api: Any, script: str, how: str) -> str:
    """One response of ``script`` (returned, streamed, or background polled), its tool loop answered."""
    client = api.client.with_options(api_key=API_KEY)
    options = {"model": "gpt-4o-mini", "input": PROMPT, "instructions": INSTRUCTIONS, "metadata": {"script": script},
               "background": how == "background"}
    if how == "streamed":
        response = last_response(api, client.responses.stream(**options))
    else:
        response = api(client.responses.create, **options)
        while response.status in ("queued", "in_progress"):
            response = api(client.responses.retrieve, response.id)
    n = 0
    while (following := _answer(api, client, response, n)) is not None:
        response, n = following, n + 1
    return str(response.status)


def _play_responses(api: Any) -> int:
    for script in BUILTIN_RESPONSE_SCRIPTS:
        for how in ("returned", "streamed", "background"):
            assert _play_response(api, script, how) in ("completed", "failed", "incomplete")
    return 3 * len(BUILTIN_RESPONSE_SCRIPTS)


def _play_assistants(api: Any) -> int:
    _play_everything(api)
    return 2 * len(BUILTIN_SCRIPTS)


WORKLOADS = {"assistants": ("invoke_agent", _play_assistants), "responses": ("chat gpt-4o-mini", _play_responses)}


def _exported(otel: Any, caplog: Any) -> tuple[list[Any], str]:
    """The spans, and everything exported (spans, metrics, our logs) as one text."""
    spans = otel.spans()
    parts: list[str] = []
    for span in spans:
        parts += [span.name, repr(dict(span.attributes or {})), repr(span.status.description),
                  repr(dict(span.resource.attributes))]
        parts += [f"{e.name} {dict(e.attributes or {})!r}" for e in span.events]
        parts += [repr(dict(link.attributes or {})) for link in span.links]
    for name, points in otel.metrics().items():
        parts.append(name)
        parts += [repr(dict(p.attributes or {})) for p in points]
    formatter = logging.Formatter("%(name)s %(message)s")
    parts += [formatter.format(r) for r in caplog.records if r.name.startswith(PACKAGE_LOGGER)]
    return spans, "\n".join(parts)


@pytest.fixture
def all_logs(caplog: Any) -> Any:
    caplog.set_level(logging.DEBUG, logger=PACKAGE_LOGGER)
    return caplog


@pytest.mark.parametrize("workload", WORKLOADS)
def test_nothing_written_leaves_with_capture_off(api: Any, otel: Any, all_logs: Any, monkeypatch: Any,
                                                 workload: str) -> None:
    monkeypatch.delenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", raising=False)
    otel.instrument()
    top, play = WORKLOADS[workload]
    played = play(api)
    spans, blob = _exported(otel, all_logs)
    assert_tree_is_sound(spans)
    assert len(named(spans, top)) >= played
    assert API_KEY not in blob
    leaked = sorted(s for s in SECRETS if s in blob)
    assert leaked == []
    for span in spans:
        assert not set(CAPTURED_ATTRIBUTES) & set(span.attributes or {}), span.name


@pytest.mark.parametrize("workload", WORKLOADS)
def test_capture_on_is_capped_and_never_has_the_key(api: Any, otel: Any, all_logs: Any,
                                                    monkeypatch: Any, workload: str) -> None:
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "true")
    otel.instrument(content_max_length=MAX_LENGTH)
    WORKLOADS[workload][1](api)
    spans, blob = _exported(otel, all_logs)
    assert API_KEY not in blob
    captured = 0
    for span in spans:
        for key in CAPTURED_ATTRIBUTES:
            value = (span.attributes or {}).get(key)
            if value is not None:
                captured += 1
                assert isinstance(value, str) and len(value) <= MAX_LENGTH, (span.name, key, value)
    assert captured > 0  # the search above is over real content
    assert any(s[: MAX_LENGTH // 2] in blob for s in SECRETS)
