"""The README's and the documentation's snippets, run as a reader would run them: every code block
marked ``<!-- test: NAME -->`` is executed here, and every Python block must be marked, so neither the
README nor the docs can drift from what the code does. The fake API comes from its installed
distribution (``openai-fake-api``), as a reader installs it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.stack.harness import free_port

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
MARKED = re.compile(r"<!-- (test|output): ([\w-]+) -->\n```\w*\n(.*?)```", re.S)
DOC_PORT = "8765"


def blocks(kind: str = "test") -> dict[str, str]:
    found: dict[str, str] = {}
    for page in PAGES:
        for k, name, body in MARKED.findall(page.read_text()):
            if k == kind:
                assert name not in found, f"{name} is marked twice"
                found[name] = body
    return found


def _env(**extra: str) -> dict[str, str]:
    """A shell as the reader has one: the virtualenv activated, no OTEL_* or OPENAI_* settings, no PYTHONPATH."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "OPENAI_")) and k != "PYTHONPATH"}
    env.update({"PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}", "VIRTUAL_ENV": str(BIN.parent), **extra})
    env.setdefault("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", "openai")  # the test extra installs other OpenAI ones
    return env


def _with_port(text: str, port: int) -> str:
    """The docs' port, replaced by a free one: tests run side by side on one machine."""
    return text.replace(DOC_PORT, str(port))


@contextmanager
def fake_api_command(cwd: Path) -> Iterator[int]:
    """The fake API started with the docs' own command (``openai-fake-api --port 8765``), on a free port."""
    port = free_port()
    fake = subprocess.Popen(["bash", "-c", "exec " + _with_port(blocks()["auto-fake"], port)], cwd=cwd,
                            env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert fake.stdout is not None
        assert fake.stdout.readline().strip() == f"http://127.0.0.1:{port}/v1"
        yield port
    finally:
        fake.terminate()
        fake.wait(10)


def test_every_marked_block_is_run_here() -> None:
    assert set(blocks()) == {"quick-start", "quick-fake", "use-in-app", "auto-app", "auto-fake", "auto-run",
                             "pytest-test", "scripts-json", "billing-offline"}
    assert set(blocks("output")) == {"quick-start", "use-in-app"}


def unmarked_python_blocks() -> list[tuple[str, str]]:
    """Python blocks without a ``test:`` mark: each runs on its own, as a script, and must succeed."""
    found = []
    for page in PAGES:
        text = page.read_text()
        for i, match in enumerate(re.finditer(r"^(<!-- test: [\w-]+ -->\n)?```python\n(.*?)^```", text, re.M | re.S)):
            if not match.group(1):
                found.append((f"{page.relative_to(ROOT)}#{i}", match.group(2)))
    return found


@pytest.mark.parametrize("where,code", unmarked_python_blocks())
def test_every_other_python_block_runs(tmp_path: Path, where: str, code: str) -> None:
    done = subprocess.run([sys.executable, "-"], input=code, cwd=tmp_path, env=_env(), capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, f"{where}: {done.stderr}"


def test_readme_stays_short() -> None:
    assert len((ROOT / "README.md").read_bytes()) <= 12 * 1024


def _shell_lines(block: str) -> str:
    """A block of shell commands as a script: the background server line left to the fixture."""
    return "\n".join(line for line in block.splitlines() if not line.rstrip().endswith("&")
                     and not line.startswith("pip install"))


@pytest.mark.needs_package("langchain-openai")  # the quick start calls LangChain too
def test_quick_start_prints_a_costed_span(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(blocks()["quick-start"])
    assert "openai-fake-api --port 8765 &" in blocks()["quick-fake"]
    with fake_api_command(tmp_path) as port:
        script = _with_port(_shell_lines(blocks()["quick-fake"]), port) + "\npython app.py\n"
        done = subprocess.run(["bash", "-e", "-c", script], cwd=tmp_path, env=_env(), capture_output=True,
                              text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    printed = {line.strip().rstrip(",") for line in done.stdout.splitlines()}
    expected = [line.strip().rstrip(",") for line in blocks("output")["quick-start"].splitlines()]
    assert [line for line in expected if line not in printed] == []
    assert "Traceback" not in done.stderr


def test_use_in_app_prints_spans_with_tokens_and_cost(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-"], input=blocks()["use-in-app"], cwd=tmp_path, env=_env(),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    expected = [line for line in blocks("output")["use-in-app"].splitlines() if "..." not in line]
    assert [line for line in expected if line not in lines] == []
    run = next(line for line in lines if line.startswith("invoke_agent Data analyst"))
    assert "'openai_cost.rollup.total_usd': 0.03004335" in run
    response = next(line for line in lines if line.startswith("chat gpt-5.4-mini"))
    assert "'openai_cost.input_tokens_usd': 1.8e-05" in response and "'openai_cost.rollup.total_usd'" in response
    assert "openai_cost.usage.scope" not in response and "run_level" not in response
    assert "Traceback" not in done.stderr


def test_opentelemetry_instrument_prints_spans_and_no_export_errors(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(blocks()["auto-app"])
    with fake_api_command(tmp_path) as port:
        done = subprocess.run(["bash", "-e", "-c", _with_port(blocks()["auto-run"], port)], cwd=tmp_path,
                              env=_env(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "completed 109 tokens" in done.stdout
    for name in ("create_agent Helper", "invoke_agent Helper", "chat gpt-4o-mini"):
        assert f'"name": "{name}"' in done.stdout
    assert '"openai_cost.rollup.total_usd"' in done.stdout and '"gen_ai.usage.input_tokens": 100' in done.stdout
    noise = [line for line in done.stderr.splitlines()
             if re.search(r"error|exception|traceback|failed", line, re.I)]
    assert noise == []


def test_pytest_plugin_example_passes_in_a_project_of_ones_own(tmp_path: Path) -> None:
    """No conftest.py, no PYTHONPATH: the fixtures come from the installed plugin's entry point."""
    (tmp_path / "test_analyst.py").write_text(blocks()["pytest-test"])
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=tmp_path,
                          env=_env(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout


def test_scripts_file_of_the_docs_loads(tmp_path: Path) -> None:
    from openai_fake_api.script_file import load_scripts

    path = tmp_path / "my_scripts.json"
    path.write_text(blocks()["scripts-json"])
    assert set(load_scripts(str(path))) == set(json.loads(blocks()["scripts-json"])) == {"weather", "text"}


@pytest.mark.openai_min("2.34", "the billing exporter reads the Costs and Usage API through the SDK's admin "
                                 "resources (openai 2.34)")
def test_billing_exporter_reads_the_fakes_bill_offline(tmp_path: Path) -> None:
    """The docs' offline try: a run against the fake, then the exporter prints the fake's bill of it."""
    (tmp_path / "app.py").write_text(blocks()["auto-app"])
    with fake_api_command(tmp_path) as port:
        app = subprocess.run([sys.executable, "app.py"], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                             env=_env(OPENAI_BASE_URL=f"http://127.0.0.1:{port}/v1", OPENAI_API_KEY="sk-fake"))
        assert app.returncode == 0, app.stderr
        done = subprocess.run(["bash", "-e", "-c", _with_port(blocks()["billing-offline"], port)], cwd=tmp_path,
                              env=_env(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert '"name": "openai_cost.billed.spend"' in done.stdout
    assert '"openai_cost.kind": "input_tokens"' in done.stdout


@pytest.mark.parametrize("command", [["openai-fake-api", "--list-scripts"], ["openai-fake-api", "--help"],
                                     [sys.executable, "-m", "openai_fake_api", "--list-scripts"]])
def test_fake_api_commands_work_from_another_directory(tmp_path: Path, command: list[str]) -> None:
    """The installed fake's console script and module, with no checkout on the path."""
    done = subprocess.run(command, cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "text" in done.stdout


def test_self_check_prints_what_the_installation_would_do(tmp_path: Path) -> None:
    env = _env(TIKTOKEN_CACHE_DIR=str(tmp_path), OTEL_EXPORTER_OTLP_ENDPOINT="http://collector:4318",
               OTEL_EXPORTER_OTLP_PROTOCOL="http/protobuf", OTEL_METRICS_EXPORTER="none")
    done = subprocess.run([sys.executable, "-m", "opentelemetry.instrumentation.openai_assistants"], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert out.startswith("opentelemetry-instrumentation-openai-assistants 0.")
    assert re.search(r"openai SDK: [23]\.\d+\.\d+; all \d+ hook points present", out)
    assert re.search(r"prices: shipped data dated up to \d{4}-\d\d-\d\d; model token prices from genai-prices \d",
                     out)
    assert "spans: otlp over http/protobuf to http://collector:4318/v1/traces" in out
    assert "metrics: nowhere (none)" in out
    assert f"tiktoken: looked in {tmp_path} (TIKTOKEN_CACHE_DIR); found: none" in out
    assert "missing o200k_base, cl100k_base" in out
