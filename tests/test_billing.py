"""The billing exporter against the fake's Costs and Usage endpoints, over real HTTP with the SDK."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from decimal import Decimal

import pytest
from openai import OpenAI
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from examples.workload import register_scripts, run_workload
from openai_fake_api import FakeAssistantsAPI
from openai_fake_api.billing import DAY_S, Unseen
from opentelemetry.instrumentation.openai_assistants import semconv as sc
from opentelemetry.instrumentation.openai_assistants.billing.exporter import Exporter, KeyRefused
from opentelemetry.instrumentation.openai_assistants.billing.ledger import Ledger
from opentelemetry.instrumentation.openai_assistants.billing.lineitems import load
from opentelemetry.instrumentation.openai_assistants.billing.metrics import BillingInstruments
from opentelemetry.instrumentation.openai_assistants.billing.reader import Reader

pytestmark = pytest.mark.openai_min("2.34", "the billing exporter reads the Costs and Usage API through "
                                             "the SDK's admin resources (openai 2.34)")

MODULE = "opentelemetry.instrumentation.openai_assistants.billing"


@pytest.fixture(scope="module")
def billed() -> FakeAssistantsAPI:
    api = FakeAssistantsAPI().start()
    register_scripts(api)
    run_workload(api.base_url)
    yield api
    api.stop()


def _exporter(api: FakeAssistantsAPI, key: str | None = None, window: int = 7) -> tuple[Exporter, InMemoryMetricReader]:
    client = OpenAI(base_url=api.base_url, api_key="unused", admin_api_key=key or api.billing.admin_key,
                    max_retries=3)
    metrics = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[metrics])
    instruments = BillingInstruments(provider.get_meter("test"), Ledger())
    return Exporter(Reader(client, load()), instruments.ledger, instruments, window), metrics


def _points(reader: InMemoryMetricReader, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    data = reader.get_metrics_data()
    out = {}
    for resource in data.resource_metrics if data else []:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                if metric.name == name:
                    for point in metric.data.data_points:
                        out[tuple(sorted((k, str(v)) for k, v in (point.attributes or {}).items()))] = point.value
    return out


def _by_kind(reader: InMemoryMetricReader) -> dict[str, Decimal]:
    totals: dict[str, Decimal] = {}
    for labels, value in _points(reader, sc.METRIC_BILLED_SPEND).items():
        kind = dict(labels)[sc.COST_KIND]
        totals[kind] = totals.get(kind, Decimal(0)) + Decimal(str(value))
    return totals


def test_line_items_map_to_our_cost_kinds() -> None:
    kinds = load()
    assert kinds.kind("gpt-4o-mini, input") == "input_tokens"
    assert kinds.kind("gpt-6-astra, input_tokens") == "input_tokens"
    assert kinds.kind("gpt-5.6, cached input") == "cached_input_tokens"
    assert kinds.kind("gpt-5.6, cache write") == "cache_write_tokens"
    assert kinds.kind("gpt-4o, output") == "output_tokens"
    assert kinds.kind("gpt-image-1, input") == "image_generation"
    assert kinds.kind("Code Interpreter sessions") == "code_interpreter_session"
    assert kinds.kind("Containers, 1g") == "container"
    assert kinds.kind("Web search tool calls") == "web_search"
    assert kinds.kind("File search tool calls") == "file_search"
    assert kinds.kind("Fine-tuning training") == "other"
    assert kinds.kind(None) == "other"


def test_billed_figures_equal_what_the_workload_used(billed: FakeAssistantsAPI) -> None:
    exporter, metrics = _exporter(billed)
    assert exporter.read_once()
    kinds = _by_kind(metrics)
    assert set(kinds) == {"input_tokens", "output_tokens", "code_interpreter_session"}
    assert kinds["code_interpreter_session"] == Decimal("0.03") * _sessions(metrics)
    today = time.strftime("%Y-%m-%d", time.gmtime())
    days = {dict(k)[sc.BILLING_DAY] for k in _points(metrics, sc.METRIC_BILLED_DAY)}
    assert today in days and len(days) == 7
    runs = [r for r in billed.world.runs if r.get("usage")]
    tokens = _points(metrics, sc.METRIC_BILLED_TOKENS)
    assert sum(v for k, v in tokens.items() if dict(k)[sc.GEN_AI_TOKEN_TYPE] == "input") == sum(
        r["usage"]["prompt_tokens"] for r in runs)
    assert not billed.validation_errors


def _sessions(metrics: InMemoryMetricReader) -> int:
    quantities = _points(metrics, sc.METRIC_BILLED_QUANTITY)
    return int(sum(v for k, v in quantities.items() if dict(k)[sc.BILLING_USAGE] == "code_interpreter_sessions"))


def test_a_revised_bucket_replaces_the_earlier_read(billed: FakeAssistantsAPI) -> None:
    exporter, metrics = _exporter(billed)
    exporter.read_once()
    before = _by_kind(metrics)["input_tokens"]
    billed.billing.revise(int(time.time()), "input_tokens", 1.1)
    try:
        exporter.read_once()
        exporter.read_once()
        assert _by_kind(metrics)["input_tokens"] == pytest.approx(before * Decimal("1.1"), rel=Decimal("1e-12"))
    finally:
        billed.billing.revisions.clear()


def test_pages_are_followed_and_a_delayed_day_reads_as_nothing(billed: FakeAssistantsAPI) -> None:
    exporter, metrics = _exporter(billed, window=31)
    today = int(time.time()) // DAY_S * DAY_S
    billed.billing.unseen.append(Unseen(day=today - 20 * DAY_S, input_tokens=1_000_000, sessions=2))
    billed.billing.delayed_days.add(today)
    try:
        assert exporter.read_once()
        costs = billed.count("GET", r"/organization/costs$")
        assert costs >= 5  # 31 days at 7 buckets a page
        days = {dict(k)[sc.BILLING_DAY] for k in _points(metrics, sc.METRIC_BILLED_SPEND)}
        old = time.strftime("%Y-%m-%d", time.gmtime(today - 20 * DAY_S))
        assert days == {old}  # today is delayed: no figure, not a zero
    finally:
        billed.billing.unseen.clear()
        billed.billing.delayed_days.clear()


def test_429_and_500_are_retried(billed: FakeAssistantsAPI) -> None:
    exporter, metrics = _exporter(billed)
    billed.faults.add(r"/organization/costs$", "429")
    billed.faults.add(r"/organization/usage/completions$", "500")
    assert exporter.read_once()
    reads = _points(metrics, sc.METRIC_BILLING_READS)
    assert all(dict(k)[sc.BILLING_OUTCOME] == "ok" for k in reads)


def test_a_refused_key_raises_and_is_never_logged(billed: FakeAssistantsAPI) -> None:
    exporter, _ = _exporter(billed, key="sk-admin-wrong")
    with pytest.raises(KeyRefused) as refused:
        exporter.read_once()
    assert "sk-admin-wrong" not in str(refused.value)


@pytest.mark.parametrize("key", ["sk-admin-wrong-secret", None], ids=["bad-key", "no-key"])
def test_the_console_script_exits_non_zero_with_one_clear_line(billed: FakeAssistantsAPI, key: str | None) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "OTEL_"))}
    env.update(OPENAI_BASE_URL=billed.base_url, OTEL_METRICS_EXPORTER="prometheus",
               OTEL_EXPORTER_PROMETHEUS_PORT="0", OTEL_EXPORTER_PROMETHEUS_HOST="127.0.0.1")
    if key:
        env["OPENAI_ADMIN_KEY"] = key
    result = subprocess.run([sys.executable, "-m", MODULE, "--once"], env=env, capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert ("refused" if key else "no admin key") in lines[0]
    assert "secret" not in result.stderr + result.stdout


def test_a_different_session_rule_bills_more_sessions(billed: FakeAssistantsAPI) -> None:
    exporter, metrics = _exporter(billed)
    exporter.read_once()
    documented = _sessions(metrics)
    billed.billing.session_rule = "per_call"
    try:
        exporter.read_once()
        assert _sessions(metrics) > documented >= 1
        assert _by_kind(metrics)["code_interpreter_session"] == Decimal("0.03") * _sessions(metrics)
    finally:
        billed.billing.session_rule = "thread_hour"


def _run(billed: FakeAssistantsAPI, *, blocked: tuple[str, ...] = (),
         **env_vars: str) -> subprocess.CompletedProcess[str]:
    """The console script with ``--once``; ``blocked`` modules fail to import (an extra not installed)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "OTEL_"))}
    env.update(OPENAI_BASE_URL=billed.base_url, OPENAI_ADMIN_KEY=billed.billing.admin_key, **env_vars)
    code = (f"import sys; sys.modules.update(dict.fromkeys({list(blocked)!r}));"
            f"from {MODULE}.cli import main; sys.exit(main(['--once', '--window-days', '2']))")
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120,
                          check=False)


@pytest.mark.parametrize("missing", ["openai", "opentelemetry.sdk.metrics", "opentelemetry.exporter.otlp"])
def test_without_its_extra_the_script_says_what_to_install_in_one_line(billed: FakeAssistantsAPI,
                                                                       missing: str) -> None:
    result = _run(billed, blocked=(missing,), OTEL_METRICS_EXPORTER="otlp")
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert "pip install 'opentelemetry-instrumentation-openai-assistants[billing]'" in lines[0]
    assert "Traceback" not in result.stderr


def test_otel_metrics_exporter_console_and_none(billed: FakeAssistantsAPI) -> None:
    console = _run(billed, OTEL_METRICS_EXPORTER="console")
    assert console.returncode == 0, console.stderr
    assert sc.METRIC_BILLED_SPEND in console.stdout  # the console exporter printed the billed figures
    nothing = _run(billed, OTEL_METRICS_EXPORTER="none")
    assert nothing.returncode == 0 and sc.METRIC_BILLED_SPEND not in nothing.stdout, nothing.stderr
    unknown = _run(billed, OTEL_METRICS_EXPORTER="carrier-pigeon")
    assert unknown.returncode == 2 and "carrier-pigeon" in unknown.stderr and "Traceback" not in unknown.stderr


def test_once_exits_non_zero_when_the_export_failed(billed: FakeAssistantsAPI) -> None:
    import socket

    with socket.socket() as closed:  # a port nobody listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    result = _run(billed, OTEL_METRICS_EXPORTER="otlp", OTEL_EXPORTER_OTLP_METRICS_PROTOCOL="http/protobuf",
                  OTEL_EXPORTER_OTLP_METRICS_ENDPOINT=f"http://127.0.0.1:{port}/v1/metrics",
                  OTEL_EXPORTER_OTLP_METRICS_TIMEOUT="2")
    assert result.returncode == 1, result.stderr
    assert "exporting the metrics failed" in result.stderr
