"""The overhead benchmark stays runnable, and its floor replays what a run really emits.

Times are printed by the benchmark, never asserted here; what is asserted are counts.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.openai_min("3", "the overhead benchmark drives the SDK through an in-process httpx2 "
                                          "transport (openai 3.x)")

REPO = Path(__file__).resolve().parents[1]


def test_overhead_benchmark_runs_and_counts_the_sdk_floor(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    done = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "bench_overhead.py"), "--quick", "--no-memory",
         "--only", "responses.create(background", "--only", "create_and_poll (", "--latency", "--json", str(out)],
        capture_output=True, text=True, timeout=600,
        env={**os.environ, "BENCH_PAIRS": "1", "BENCH_LATENCY_MS": "5", "BENCH_LATENCY_PAIRS": "1"},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "## The OpenTelemetry SDK's floor" in done.stdout
    (ours,) = json.loads(out.read_text())
    assert [r["errors"] for r in ours["results"]] == [{}] * 3  # sync and async create_and_poll, background
    floor = {row["name"].split(" ")[0]: row for row in ours["floor"]}
    polled, background = floor["create_and_poll"], floor["responses.create(background=True)"]
    assert floor["async"]["spans"] == 6.0
    assert (polled["spans"], background["spans"]) == (6.0, 2.0)  # run, 3 steps, 2 tool calls; response, tool
    assert polled["measurements"] > background["measurements"] >= 10
    for row in (polled, background):
        assert row["floor_calls"] > 0 and row["our_calls"] > 0
        assert row["floor_us"] > 0 and row["woken_floor_us"] > 0
        # counters are added up in the process: only histogram records reach the SDK per run
        assert 0 < row["sync_measurements"] < row["measurements"]
    assert polled["our_calls"] - polled["floor_calls"] > 1_000  # the steps read through the SDK's client
    # the caller's path counted: Python calls on the calling thread, instrumented and bare
    for result in ours["results"]:
        calls = result["caller_calls"]
        assert calls["base"] > 0 and calls["inst"] > calls["base"]
        assert len(result["own_added_us"]) == 1
    # the same calls with latency per request, measured without errors
    assert "## With a real API's latency: 5 ms per request" in done.stdout
    assert [r["name"] for r in ours["latency"]] == [r["name"] for r in ours["results"]]
    assert [r["errors"] for r in ours["latency"]] == [{}] * 3
