"""The README's snippets, run as a reader would run them: every block marked ``<!-- test: NAME -->``
is executed here, so the README cannot drift from what the code does."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.stack.harness import free_port

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
MARKED = re.compile(r"<!-- (test|output): ([\w-]+) -->\n```\w*\n(.*?)```", re.S)
README_PORT = "8765"


def blocks(kind: str = "test") -> dict[str, str]:
    return {name: body for k, name, body in MARKED.findall((ROOT / "README.md").read_text()) if k == kind}


def _env(**extra: str) -> dict[str, str]:
    """A shell as the README's reader has one: the virtualenv activated, no OTEL_* settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "OPENAI_")) and k != "PYTHONPATH"}
    env.update({"PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}", "VIRTUAL_ENV": str(BIN.parent), **extra})
    env.setdefault("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", "openai")  # the test extra installs other OpenAI ones
    return env


def test_every_marked_block_is_run_here() -> None:
    assert set(blocks()) == {"use-in-app", "auto-app", "auto-fake", "auto-run", "pytest-conftest", "pytest-test"}
    assert set(blocks("output")) == {"use-in-app"}


def test_use_in_app_prints_spans_with_tokens_and_cost() -> None:
    done = subprocess.run([sys.executable, "-"], input=blocks()["use-in-app"], cwd=ROOT, env=_env(),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    expected = [line for line in blocks("output")["use-in-app"].splitlines() if "..." not in line]
    assert [line for line in expected if line not in lines] == []
    run = next(line for line in lines if line.startswith("invoke_agent Data analyst"))
    assert "'openai_cost.rollup.total_usd': 0.03004335" in run
    response = next(line for line in lines if line.startswith("chat gpt-5.4-mini"))
    assert "'openai_cost.input_tokens_usd': 1.8e-05" in response and "'openai_cost.rollup.total_usd'" in response
    assert "Traceback" not in done.stderr


def _without_port(text: str, port: int) -> str:
    """The README's port, replaced by a free one: tests run side by side on one machine."""
    return text.replace(README_PORT, str(port))


def test_opentelemetry_instrument_prints_spans_and_no_export_errors(tmp_path: Path) -> None:
    port = free_port()
    (tmp_path / "app.py").write_text(blocks()["auto-app"])
    fake = subprocess.Popen(["bash", "-c", "exec " + _without_port(blocks()["auto-fake"], port)], cwd=ROOT,
                            env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert fake.stdout is not None
        assert fake.stdout.readline().strip() == f"http://127.0.0.1:{port}/v1"
        done = subprocess.run(["bash", "-e", "-c", _without_port(blocks()["auto-run"], port)], cwd=tmp_path,
                              env=_env(), capture_output=True, text=True, timeout=120)
    finally:
        fake.terminate()
        fake.wait(10)
    assert done.returncode == 0, done.stderr
    assert "completed 109 tokens" in done.stdout
    for name in ("create_agent Helper", "invoke_agent Helper", "chat gpt-4o-mini"):
        assert f'"name": "{name}"' in done.stdout
    assert '"openai_cost.rollup.total_usd"' in done.stdout and '"gen_ai.usage.input_tokens": 100' in done.stdout
    noise = [line for line in done.stderr.splitlines()
             if re.search(r"error|exception|traceback|failed", line, re.I)]
    assert noise == []


def test_pytest_plugin_example_passes_in_a_project_of_ones_own(tmp_path: Path) -> None:
    (tmp_path / "conftest.py").write_text(blocks()["pytest-conftest"])
    (tmp_path / "test_analyst.py").write_text(blocks()["pytest-test"])
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=tmp_path,
                          env=_env(PYTHONPATH=str(ROOT)), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout


@pytest.mark.parametrize("command", ["--list-scripts", "--help"])
def test_fake_api_commands_work_from_another_directory(tmp_path: Path, command: str) -> None:
    """``PYTHONPATH=/path/to/checkout python -m fakeapi`` as the README says."""
    done = subprocess.run([sys.executable, "-m", "fakeapi", command], cwd=tmp_path,
                          env=_env(PYTHONPATH=str(ROOT)), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "text" in done.stdout
