"""The one-shot demo as a newcomer sees it: a summary that explains itself, a tree with figures, and no
warnings that look like errors."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _demo(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    return subprocess.run([sys.executable, str(ROOT / "examples" / "demo.py"), *args], env={**base, **env},
                          capture_output=True, text=True, timeout=180, check=True)


def test_summary_without_a_tokenizer_says_so_in_a_line_of_its_own(tmp_path: Path) -> None:
    done = _demo(TIKTOKEN_CACHE_DIR=str(tmp_path))  # an empty cache: no encoding can be loaded
    lines = done.stdout.splitlines()
    legacy = next(line for line in lines if line.startswith("Legacy analyst"))
    assert " estimated~ " in legacy  # the run whose usage was estimated, without a tokenizer
    note = next(line for line in lines if line.startswith("~ estimated without a tokenizer"))
    assert str(tmp_path) in note and "TIKTOKEN_CACHE_DIR" in note  # where it looked, and what to set
    in_house = [line for line in lines if line.startswith("n/a: In-house runs on acme-llm-7")]
    assert len(in_house) == 1 and "never counted as $0" in in_house[0]
    assert done.stderr == ""


def test_tree_shows_tokens_and_cost_beside_each_span() -> None:
    done = _demo("--tree")
    lines = done.stdout.splitlines()
    chat = next(line for line in lines if line.strip().startswith("chat gpt-4o-mini"))
    assert re.search(r"\d+/\d+ tokens  \$0\.\d{6}$", chat)
    session = next(line for line in lines if line.strip().startswith("execute_tool code_interpreter"))
    assert session.endswith("$0.030000")
    assert any(line.startswith("invoke_agent In-house") and line.endswith("unpriced") for line in lines)
    assert "(run total)" in next(line for line in lines if line.startswith("invoke_agent Data analyst"))
    responses = [line for line in lines if line.startswith("chat gpt-5.4")]
    assert responses and all("(run total)" not in line for line in responses)
    assert any(line.endswith("(response total)") for line in responses)
    search = next(line for line in lines if line.strip().startswith("execute_tool web_search"))
    assert re.search(r"\$0\.\d{6}$", search)  # a hosted tool's fee, beside its span
    assert done.stderr == ""
