"""The fake API as a tool for users: ``python -m openai_fake_api`` with its options, run from a directory outside
the checkout (the pytest plugin in a project of one's own: ``test_readme.py``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from openai_fake_api.__main__ import parse_fault
from openai_fake_api.script_file import ScriptError, load_scripts

SCRIPTS = {
    "weather": [{"function": "get_weather", "arguments": "{\"city\": \"Paris\"}", "usage": [80, 12]},
                {"say": "It is sunny in Paris.", "usage": [120, 9]}],
    "text": {"steps": [{"say": "Hi from a scripts file."}], "report_usage": False},
}


def _env() -> dict[str, str]:
    """The user's environment: the fake installed (``pip install ./openai-fake-api``), no checkout on the path."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}


@pytest.fixture
def cli(tmp_path: Path) -> Iterator[openai.OpenAI]:
    """``python -m openai_fake_api`` with a scripts file and a fault, started in a directory of its own."""
    (tmp_path / "scripts.json").write_text(json.dumps(SCRIPTS))
    args = [sys.executable, "-m", "openai_fake_api", "--scripts", "scripts.json", "--fault", "429:1", "/assistants$"]
    process = subprocess.Popen(args, cwd=tmp_path, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    try:
        assert process.stdout is not None
        base_url = process.stdout.readline().strip()
        assert base_url.startswith("http://127.0.0.1:") and base_url.endswith("/v1"), process.stderr
        client = openai.OpenAI(base_url=base_url, api_key="sk-fake", max_retries=0)
        yield client
        client.close()
    finally:
        process.terminate()
        _, err = process.communicate(timeout=10)
    assert process.returncode == 0 and not err, err


def test_cli_plays_scripts_from_a_file_and_planned_faults(cli: openai.OpenAI) -> None:
    with pytest.raises(openai.RateLimitError):  # --fault 429:1 /assistants$: the first create only
        cli.beta.assistants.create(model="gpt-4o-mini")
    weather = cli.beta.assistants.create(model="gpt-4o-mini", metadata={"script": "weather"})
    thread = cli.beta.threads.create(messages=[{"role": "user", "content": "Weather?"}])
    run = cli.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=weather.id)
    assert run.status == "requires_action"
    call = run.required_action.submit_tool_outputs.tool_calls[0]  # type: ignore[union-attr]
    assert (call.function.name, call.function.arguments) == ("get_weather", '{"city": "Paris"}')
    run = cli.beta.threads.runs.submit_tool_outputs_and_poll(
        run_id=run.id, thread_id=thread.id, tool_outputs=[{"tool_call_id": call.id, "output": "sunny"}])
    assert run.status == "completed" and run.usage is not None
    assert (run.usage.prompt_tokens, run.usage.completion_tokens) == (200, 21)

    plain = cli.beta.assistants.create(model="gpt-4o-mini")  # no script: "text", redefined by the file
    run = cli.beta.threads.create_and_run_poll(assistant_id=plain.id)
    assert run.status == "completed" and run.usage is None  # report_usage: false
    text = cli.beta.threads.messages.list(thread_id=run.thread_id).data[0].content[0]
    assert text.text.value == "Hi from a scripts file."  # type: ignore[union-attr]


def test_cli_lists_scripts_and_rejects_bad_input(tmp_path: Path) -> None:
    listed = subprocess.run([sys.executable, "-m", "openai_fake_api", "--list-scripts"], cwd=tmp_path, env=_env(),
                            capture_output=True, text=True, timeout=60, check=True)
    assert "code_interpreter " in listed.stdout and "seed " in listed.stdout
    assert "(Responses API)" in listed.stdout
    (tmp_path / "bad.json").write_text(json.dumps({"x": [{"dance": 1}]}))
    bad = subprocess.run([sys.executable, "-m", "openai_fake_api", "--scripts", "bad.json"], cwd=tmp_path, env=_env(),
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "not a tool call" in bad.stderr


@pytest.mark.parametrize("spec,expected", [("429", ("429", 1, 0.0)), ("reset:all", ("reset", None, 0.0)),
                                           ("delay=0.5:3", ("delay", 3, 0.5))])
def test_fault_specs(spec: str, expected: tuple[object, ...]) -> None:
    assert parse_fault(spec) == expected


def test_script_file_checks_usage(tmp_path: Path) -> None:
    (tmp_path / "s.json").write_text(json.dumps({"x": [{"say": "hi", "usage": [1]}]}))
    with pytest.raises(ScriptError, match="usage"):
        load_scripts(tmp_path / "s.json")
