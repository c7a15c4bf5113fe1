"""The stack demo: ``demo.py --steady`` keeps spend rising in a real Prometheus and in OTLP exports, and
its spike raises the spend rate of one assistant above the alert's floor."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from otlp_receiver import HttpReceiver, Received

from tests.stack.harness import Prometheus, free_port, require_binary, running, wait_for

ROOT = Path(__file__).resolve().parents[1]
SPEND = "openai_cost_spend_USD_total"


def _demo(prometheus_port: int, otlp_endpoint: str, log: Path, *extra: str) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env.update({"OTEL_EXPORTER_OTLP_ENDPOINT": otlp_endpoint, "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
                "OTEL_METRIC_EXPORT_INTERVAL": "1000"})
    args = [sys.executable, str(ROOT / "examples" / "demo.py"), "--steady", "--interval", "1",
            "--duration", "300", "--prometheus-port", str(prometheus_port), *extra]
    with log.open("wb") as out:
        return subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT)


class SteadyDemo:
    def __init__(self, prometheus: Prometheus, received: Received, log: Path) -> None:
        self.prometheus, self.received, self.log = prometheus, received, log


@pytest.fixture(scope="module")
def steady(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SteadyDemo]:
    prometheus_bin = require_binary("prometheus", "prometheus")
    tmp = tmp_path_factory.mktemp("steady")
    app_port, prom_port = free_port(), free_port()
    (tmp / "prometheus.yml").write_text(yaml.safe_dump({
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "scrape_configs": [{"job_name": "demo", "static_configs": [{"targets": [f"127.0.0.1:{app_port}"]}]}],
    }))
    prom_args = [prometheus_bin, f"--config.file={tmp / 'prometheus.yml'}",
                 f"--storage.tsdb.path={tmp / 'prom-data'}", f"--web.listen-address=127.0.0.1:{prom_port}"]
    with HttpReceiver() as receiver:
        demo = _demo(app_port, receiver.endpoint, tmp / "demo.log", "--spike-at", "0")
        try:
            with running(prom_args, tmp / "prometheus.log", f"http://127.0.0.1:{prom_port}/-/ready"):
                yield SteadyDemo(Prometheus(f"http://127.0.0.1:{prom_port}"), receiver.received, tmp / "demo.log")
        finally:
            demo.terminate()
            demo.wait(20)


def _total(prometheus: Prometheus) -> float:
    result = prometheus.query(f"sum({SPEND})")
    return float(result[0]["value"][1]) if result else 0.0


def test_spend_keeps_rising_between_scrapes(steady: SteadyDemo) -> None:
    first = wait_for(lambda: _total(steady.prometheus), 60, "the first scrape of spend")
    time.sleep(4)
    assert _total(steady.prometheus) > first
    increase = wait_for(lambda: steady.prometheus.query(f"sum(increase({SPEND}[10s])) > 0"), 30,
                        "a positive increase() of spend")
    assert float(increase[0]["value"][1]) > 0


def test_runaway_agent_spends_above_the_spike_alerts_floor(steady: SteadyDemo) -> None:
    """The rule's expression, over a short window: the runaway agent's rate is far above 5 USD/h."""
    query = f'sum by (gen_ai_agent_name) (rate({SPEND}{{gen_ai_agent_name="Runaway agent"}}[10s])) * 3600 > 5'
    assert wait_for(lambda: steady.prometheus.query(query), 60, "the runaway agent's spend rate")


def test_otlp_exports_carry_rising_spend(steady: SteadyDemo) -> None:
    received = steady.received

    def total() -> float:
        return sum(received.latest_sums("openai_cost.spend").values())

    assert received.wait_for(lambda: total() > 0, 60)
    first = total()
    assert received.wait_for(lambda: total() > first, 30), steady.log.read_text()[-2000:]


def test_steady_demo_prints_no_warnings(steady: SteadyDemo) -> None:
    wait_for(lambda: "cycle 2:" in steady.log.read_text(), 60, "two cycles")
    lines = steady.log.read_text().splitlines()
    assert lines[0].startswith("steady workload every 1 s")
    noise = [line for line in lines if not line.startswith(("steady workload", "cycle "))]
    assert not noise, noise
