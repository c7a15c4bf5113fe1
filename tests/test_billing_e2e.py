"""End to end, billed vs measured: the workload through the instrumentor (Python Prometheus
exporter) and the billing exporter reading the fake's bill of the same workload, both scraped by a
real Prometheus evaluating our billing rules, whose alert reaches a real Alertmanager's webhook.

The compared day becomes today (the run cannot wait for midnight): the rules' day alignment is
rewritten from the last UTC midnight to now; promtool's unit tests cover the alignment itself.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import yaml
from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.resources import Resource
from prometheus_client import CollectorRegistry, start_http_server

from examples.workload import register_scripts, run_workload
from openai_fake_api import BUILTIN_SCRIPTS, FakeAssistantsAPI, Script
from opentelemetry.instrumentation.openai_assistants import AssistantsInstrumentor
from tests.stack.harness import Prometheus, free_port, require_binary, running, wait_for
from tests.stack.promql import BILLING_RULES_FILE, dashboard_targets, load_dashboard, metric_names
from tests.test_stack_e2e import BILLING_NAMES, Webhook, _alertmanager_config, _webhook_server

pytestmark = pytest.mark.openai_min("2.34", "the billing exporter reads the Costs and Usage API through "
                                             "the SDK's admin resources (openai 2.34)")

ALERT = "OpenAIBilledSpendMismatch"
KINDS = {"input_tokens", "output_tokens", "code_interpreter_session"}
ENDPOINTS = 11  # costs, completions, code_interpreter_sessions, web_search_calls, file_search_calls, images,
# audio_speeches, audio_transcriptions, embeddings, moderations, vector_stores


@dataclass
class Billing:
    fake: FakeAssistantsAPI
    prometheus: Prometheus
    webhook: Webhook


def _rules_for_today() -> dict[str, Any]:
    """Compare today instead of yesterday, alert at once, and a floor under the workload's cents."""
    text = (BILLING_RULES_FILE.read_text().replace("[1d:1d]", "[1s:1s]")
            .replace("time() - 86400)", "time())").replace("time() - 172800", "time() - 86400")
            .replace("expr: vector(0.10)", "expr: vector(0.00001)"))
    doc = yaml.safe_load(text)
    for group in doc["groups"]:
        group["interval"] = "1s"
        for rule in group["rules"]:
            if "alert" in rule:
                rule["for"] = "0s"
    return dict(doc)


@pytest.fixture(scope="module")
def billing(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Billing]:
    prometheus_bin = require_binary("prometheus", "prometheus")
    alertmanager_bin = require_binary("prometheus-alertmanager", "prometheus-alertmanager")
    tmp = tmp_path_factory.mktemp("billing")
    registry = CollectorRegistry()  # its own: the other stack test uses the global one
    meter_provider = MeterProvider(metric_readers=[PrometheusMetricReader(registry=registry)],
                                   resource=Resource.create({"service.name": "billing-e2e"}))
    instrumentor = AssistantsInstrumentor()
    instrumentor.instrument(meter_provider=meter_provider)
    fake = FakeAssistantsAPI().start()
    register_scripts(fake)
    # Every run reports its usage: the fake bills reported usage only (an estimate is compared with
    # the bill by openai_cost.usage.estimate_error, not here).
    fake.scripts["seed_no_usage"] = Script(list(BUILTIN_SCRIPTS["seed"].steps))
    app_port, billing_port, am_port, prom_port = free_port(), free_port(), free_port(), free_port()
    app_server, _ = start_http_server(app_port, addr="127.0.0.1", registry=registry)
    hook_server, hook = _webhook_server()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "OTEL_"))}
    env.update(OPENAI_ADMIN_KEY=fake.billing.admin_key, OPENAI_BASE_URL=fake.base_url,
               OTEL_METRICS_EXPORTER="prometheus", OTEL_EXPORTER_PROMETHEUS_PORT=str(billing_port),
               OTEL_EXPORTER_PROMETHEUS_HOST="127.0.0.1")
    (tmp / "alertmanager.yml").write_text(yaml.safe_dump(_alertmanager_config(hook)))
    (tmp / "rules.yml").write_text(yaml.safe_dump(_rules_for_today()))
    targets = [f"127.0.0.1:{app_port}", f"127.0.0.1:{billing_port}"]
    (tmp / "prometheus.yml").write_text(yaml.safe_dump({
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(tmp / "rules.yml")],
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{am_port}"]}]}]},
        "scrape_configs": [{"job_name": "billing", "static_configs": [{"targets": targets}]}],
    }))
    exporter = [sys.executable, "-m", "opentelemetry.instrumentation.openai_assistants.billing", "--interval", "1"]
    try:
        run_workload(fake.base_url)
        assert instrumentor.force_flush(20_000)
        with (
            running([alertmanager_bin, f"--config.file={tmp / 'alertmanager.yml'}",
                     f"--storage.path={tmp / 'am-data'}", f"--web.listen-address=127.0.0.1:{am_port}",
                     "--cluster.listen-address="], tmp / "alertmanager.log", f"http://127.0.0.1:{am_port}/-/ready"),
            running([prometheus_bin, f"--config.file={tmp / 'prometheus.yml'}",
                     f"--storage.tsdb.path={tmp / 'prom-data'}", f"--web.listen-address=127.0.0.1:{prom_port}"],
                    tmp / "prometheus.log", f"http://127.0.0.1:{prom_port}/-/ready"),
        ):
            with (tmp / "exporter.log").open("wb") as log:
                process = subprocess.Popen(exporter, env=env, stdout=log, stderr=subprocess.STDOUT)
            try:
                prometheus = Prometheus(f"http://127.0.0.1:{prom_port}")
                wait_for(lambda: len(prometheus.query(
                    'openai_cost_billing_reads_total{openai_cost_billing_outcome="ok"}')) == ENDPOINTS,
                         60, "a first read of every endpoint")
                wait_for(lambda: len(prometheus.query("openai_cost:billing_ratio:last_day")) == len(KINDS),
                         60, "the ratio of every kind")
                yield Billing(fake, prometheus, hook)
            finally:
                process.terminate()
                process.wait(10)
    finally:
        instrumentor.uninstrument()
        fake.stop()
        meter_provider.shutdown()
        app_server.shutdown()
        hook_server.shutdown()


def _by_kind(prometheus: Prometheus, expr: str) -> dict[str, float]:
    return {r["metric"]["openai_cost_kind"]: float(r["value"][1]) for r in prometheus.query(expr)}


def _firing(prometheus: Prometheus) -> list[dict[str, Any]]:
    return [a for a in prometheus.alerts() if a["labels"]["alertname"] == ALERT and a["state"] == "firing"]


def test_ratio_is_one_per_kind_on_the_dashboard(billing: Billing) -> None:
    queries = [(t, e) for t, e in dashboard_targets(load_dashboard()) if metric_names(e) & BILLING_NAMES]
    assert len(queries) >= 7
    for title, expr in queries:
        assert billing.prometheus.query(expr), f"{title}: {expr} returned nothing"
    ratios = _by_kind(billing.prometheus, "openai_cost:billing_ratio:last_day")
    assert set(ratios) == KINDS
    assert {kind: round(v, 2) for kind, v in ratios.items()} == dict.fromkeys(KINDS, 1.0)
    remainder = _by_kind(billing.prometheus, "openai_cost:billing_remainder_usd:last_day")
    assert all(abs(v) < 1e-9 for v in remainder.values()), remainder
    assert not _firing(billing.prometheus)


def test_billed_tokens_and_sessions_equal_the_measured(billing: Billing) -> None:
    def token_ratios() -> list[dict[str, Any]] | None:
        result = billing.prometheus.query("openai_cost:billing_tokens_ratio:last_day")
        return result if len(result) >= 6 else None  # input and output of every model the workload ran

    tokens = wait_for(token_ratios, 20, "the token ratios")
    assert all(float(r["value"][1]) == 1.0 for r in tokens), tokens
    counts = {r["metric"]["openai_cost_billing_usage"]: float(r["value"][1])
              for r in billing.prometheus.query("openai_cost:billing_quantity_ratio:last_day")}
    assert counts == {"code_interpreter_sessions": 1.0, "file_search_calls": 1.0}

    def values(expr: str) -> dict[tuple[str, ...], float]:
        return {tuple(sorted(r["metric"].values())): float(r["value"][1]) for r in billing.prometheus.query(expr)}

    by = "sum by (gen_ai_request_model, gen_ai_token_type)"
    assert values(f'{by} (openai_cost_billed_tokens{{gen_ai_token_type=~"input|output"}})') == values(
        f"{by} (gen_ai_client_token_usage_sum)")
    billed = values('sum(openai_cost_billed_quantity{openai_cost_billing_usage="code_interpreter_sessions"})')
    assert billed == values("sum(openai_cost_code_interpreter_sessions_total)")
    files = values('sum(openai_cost_billed_quantity{openai_cost_billing_usage="file_search_calls"})')
    assert files == values('sum(openai_cost_tool_calls_total{gen_ai_tool_name="file_search"})')


def test_a_revised_bucket_with_ten_percent_more_fires_the_alert_naming_the_kind(billing: Billing) -> None:
    prometheus = billing.prometheus
    before = _by_kind(prometheus, "openai_cost:billed_spend_usd:last_day")["output_tokens"]
    assert not _firing(prometheus)
    # Notifications of the start-up (one target scraped before the other; production waits ``for: 1h``).
    billing.webhook.received.clear()
    billing.fake.billing.revise(int(time.time()), "output_tokens", 1.1)
    ratio = wait_for(lambda: _by_kind(prometheus, "openai_cost:billing_ratio:last_day")["output_tokens"] < 0.95,
                     30, "the revised bucket")
    assert ratio
    after = _by_kind(prometheus, "openai_cost:billed_spend_usd:last_day")["output_tokens"]
    assert after == pytest.approx(before * 1.1, rel=1e-9)  # replaced, not added to the first read
    alerts = wait_for(lambda: _firing(prometheus), 30, "the alert")
    assert [a["labels"]["openai_cost_kind"] for a in alerts] == ["output_tokens"]

    def notified() -> list[dict[str, Any]]:
        return [a for m in billing.webhook.received for a in m["alerts"]
                if a["labels"]["alertname"] == ALERT and a["status"] == "firing"]

    received = wait_for(notified, 30, "the webhook notification")
    assert received[0]["labels"]["openai_cost_kind"] == "output_tokens"
    assert "output_tokens" in received[0]["annotations"]["summary"]
