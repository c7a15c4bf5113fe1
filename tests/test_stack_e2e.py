"""End to end: metrics recorded through the OpenTelemetry SDK, exposed by the Python Prometheus
exporter, scraped by a real Prometheus that evaluates our rules, whose spend-spike alert reaches a
real Alertmanager and its webhook.

``workload`` is synthetic for now: it records every metric of the table with the names, units,
kinds and labels the instrumentation uses.
"""

from __future__ import annotations

import json
import math
import threading
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import yaml
from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.resources import Resource
from prometheus_client import REGISTRY, generate_latest, start_http_server
from prometheus_client.parser import text_string_to_metric_families

from tests.stack.harness import Prometheus, free_port, get_json, require_binary, running, wait_for
from tests.stack.naming import HISTOGRAM, METRICS, emitted_series, prometheus_name, sc
from tests.stack.promql import (
    DOCKER,
    RULES_FILE,
    dashboard_targets,
    load_dashboard,
    load_rules,
    operands,
    render,
    variable_queries,
)

AGENT, MODEL = "math-tutor", "gpt-4o-mini"
ESTIMATE_ERROR_BUCKETS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0)
_BUCKETS = {
    sc.METRIC_TOKEN_USAGE: sc.TOKEN_BUCKETS,
    sc.METRIC_OPERATION_DURATION: sc.DURATION_BUCKETS,
    sc.METRIC_RUN_COST: sc.COST_BUCKETS,
    sc.METRIC_ESTIMATE_ERROR: ESTIMATE_ERROR_BUCKETS,
}


def _instruments(meter_provider: MeterProvider, scope: str) -> dict[str, Any]:
    meter = meter_provider.get_meter(scope)
    out: dict[str, Any] = {}
    for spec in METRICS:
        if spec.kind == HISTOGRAM:
            out[spec.name] = meter.create_histogram(
                spec.name, unit=spec.unit, explicit_bucket_boundaries_advisory=list(_BUCKETS[spec.name])
            )
        else:
            out[spec.name] = meter.create_counter(spec.name, unit=spec.unit)
    return out


def workload(meter_provider: MeterProvider) -> None:
    """Record one batch of assistant activity: three runs, their steps, tools, tokens and cost."""
    m = _instruments(meter_provider, "stack-e2e-workload")
    runs = [
        # agent (None: agent names turned off), model, status, provider
        (AGENT, MODEL, "completed"),
        (AGENT, MODEL, "failed"),
        ("data-analyst", "gpt-4o", "completed"),
        (None, MODEL, "expired"),
    ]
    for agent, model, status in runs:
        base = {sc.GEN_AI_PROVIDER_NAME: sc.PROVIDER_OPENAI, sc.GEN_AI_REQUEST_MODEL: model}
        if agent:
            base[sc.GEN_AI_AGENT_NAME] = agent
        for token_type, tokens, source in (
            ("input", 420, "reported"),
            ("output", 57, "reported"),
            ("input", 130, "estimated"),
        ):
            m[sc.METRIC_TOKEN_USAGE].record(
                tokens,
                {
                    **base,
                    sc.GEN_AI_OPERATION_NAME: sc.OP_CHAT,
                    sc.GEN_AI_TOKEN_TYPE: token_type,
                    sc.USAGE_SOURCE: source,
                },
            )
        run_attrs = {**base, sc.GEN_AI_OPERATION_NAME: sc.OP_INVOKE_AGENT}
        if status != "completed":
            run_attrs[sc.ERROR_TYPE] = status
        duration = m[sc.METRIC_OPERATION_DURATION]
        duration.record(4.2, run_attrs)
        duration.record(1.3, {**base, sc.GEN_AI_OPERATION_NAME: sc.OP_CHAT})
        duration.record(0.7, {**base, sc.GEN_AI_OPERATION_NAME: sc.OP_EXECUTE_TOOL})
        duration.record(0.2, {**base, sc.GEN_AI_OPERATION_NAME: sc.OP_CREATE_AGENT})
        for kind, usd in (
            ("input_tokens", 0.0021),
            ("output_tokens", 0.0009),
            ("code_interpreter_session", 0.03),
        ):
            m[sc.METRIC_COST].add(usd, {**base, sc.COST_KIND: kind})
        m[sc.METRIC_RUN_COST].record(0.0021 + 0.0009 + 0.03, base)
        agent_attrs = {k: v for k, v in base.items() if k != sc.GEN_AI_REQUEST_MODEL}
        m[sc.METRIC_SESSIONS].add(1, agent_attrs)
        m[sc.METRIC_RUNS].add(1, {**base, sc.RUN_STATUS: status})
        tool_agent = {sc.GEN_AI_AGENT_NAME: agent} if agent else {}
        for tool_type, tool_name in (("extension", "code_interpreter"), ("function", "get_weather")):
            m[sc.METRIC_TOOL_CALLS].add(
                1, {**tool_agent, sc.GEN_AI_TOOL_TYPE: tool_type, sc.GEN_AI_TOOL_NAME: tool_name}
            )
        for source, steps in (("reported", 2), ("estimated", 1)):
            m[sc.METRIC_USAGE_STEPS].add(steps, {sc.USAGE_SOURCE: source, sc.GEN_AI_REQUEST_MODEL: model})
        for token_type, error in (("input", 0.04), ("output", 0.12)):
            m[sc.METRIC_ESTIMATE_ERROR].record(
                error, {sc.GEN_AI_TOKEN_TYPE: token_type, sc.GEN_AI_REQUEST_MODEL: model}
            )
    unpriced = "ft:gpt-4o-mini:acme"
    m[sc.METRIC_UNPRICED_TOKENS].add(300, {sc.GEN_AI_REQUEST_MODEL: unpriced, sc.GEN_AI_TOKEN_TYPE: "input"})
    m[sc.METRIC_UNPRICED_RUNS].add(1, {sc.GEN_AI_REQUEST_MODEL: unpriced})
    m[sc.METRIC_FETCHES].add(3, {sc.FETCH_KIND: "steps", sc.FETCH_OUTCOME: "ok"})
    m[sc.METRIC_FETCHES].add(1, {sc.FETCH_KIND: "messages", sc.FETCH_OUTCOME: "timeout"})


def spend_spike(meter_provider: MeterProvider, usd: float = 2.0) -> None:
    """Add a sudden spend to one assistant, as a runaway loop would."""
    cost = meter_provider.get_meter("stack-e2e-spike").create_counter(sc.METRIC_COST, unit="USD")
    cost.add(
        usd,
        {
            sc.COST_KIND: "input_tokens",
            sc.GEN_AI_REQUEST_MODEL: MODEL,
            sc.GEN_AI_AGENT_NAME: AGENT,
            sc.GEN_AI_PROVIDER_NAME: sc.PROVIDER_OPENAI,
        },
    )


@dataclass
class Webhook:
    """Alertmanager's webhook receiver: keeps every notification it gets."""

    url: str
    received: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Stack:
    meter_provider: MeterProvider
    exporter_url: str
    prometheus: Prometheus
    webhook: Webhook


def _webhook_server() -> tuple[ThreadingHTTPServer, Webhook]:
    port = free_port()
    hook = Webhook(url=f"http://127.0.0.1:{port}/alerts")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            hook.received.append(json.loads(body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, hook


def _alertmanager_config(hook: Webhook) -> dict[str, Any]:
    """Our Alertmanager config with the webhook pointed at the test and no waiting."""
    config = yaml.safe_load((DOCKER / "alertmanager" / "alertmanager.yml").read_text())
    for receiver in config["receivers"]:
        for webhook in receiver.get("webhook_configs", []):
            webhook["url"] = hook.url
    config["route"].update(group_wait="0s", group_interval="1s")
    return dict(config)


def _rules_without_for() -> dict[str, Any]:
    """Our rule file with every ``for`` set to 0s: the e2e run cannot wait minutes (promtool's
    unit tests cover the ``for`` durations)."""
    doc = yaml.safe_load(RULES_FILE.read_text())
    for group in doc["groups"]:
        for rule in group["rules"]:
            if "alert" in rule:
                rule["for"] = "0s"
    return dict(doc)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    prometheus_bin = require_binary("prometheus", "prometheus")
    alertmanager_bin = require_binary("prometheus-alertmanager", "prometheus-alertmanager")
    tmp = tmp_path_factory.mktemp("stack")

    reader = PrometheusMetricReader()
    meter_provider = MeterProvider(
        metric_readers=[reader], resource=Resource.create({"service.name": "assistants-stack-e2e"})
    )
    exporter_port = free_port()
    exporter, _ = start_http_server(exporter_port, addr="127.0.0.1", registry=REGISTRY)
    hook_server, hook = _webhook_server()

    am_port, prom_port = free_port(), free_port()
    (tmp / "alertmanager.yml").write_text(yaml.safe_dump(_alertmanager_config(hook)))
    (tmp / "rules.yml").write_text(yaml.safe_dump(_rules_without_for()))
    (tmp / "prometheus.yml").write_text(
        yaml.safe_dump(
            {
                "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                "rule_files": [str(tmp / "rules.yml")],
                "alerting": {"alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{am_port}"]}]}]},
                "scrape_configs": [
                    {"job_name": "app", "static_configs": [{"targets": [f"127.0.0.1:{exporter_port}"]}]}
                ],
            }
        )
    )
    am_args = [
        alertmanager_bin,
        f"--config.file={tmp / 'alertmanager.yml'}",
        f"--storage.path={tmp / 'am-data'}",
        f"--web.listen-address=127.0.0.1:{am_port}",
        "--cluster.listen-address=",
    ]
    prom_args = [
        prometheus_bin,
        f"--config.file={tmp / 'prometheus.yml'}",
        f"--storage.tsdb.path={tmp / 'prom-data'}",
        f"--web.listen-address=127.0.0.1:{prom_port}",
    ]
    try:
        with (
            running(am_args, tmp / "alertmanager.log", f"http://127.0.0.1:{am_port}/-/ready"),
            running(prom_args, tmp / "prometheus.log", f"http://127.0.0.1:{prom_port}/-/ready"),
        ):
            prometheus = Prometheus(f"http://127.0.0.1:{prom_port}")
            workload(meter_provider)
            # Two scrapes of the first batch, then a second batch: counters rise between scrapes.
            wait_for(
                lambda: prometheus.query("count_over_time(assistants_runs_total[1m]) >= 2"),
                20,
                "two scrapes of the workload",
            )
            workload(meter_provider)
            wait_for(
                lambda: prometheus.query("increase(assistants_runs_total[1m]) > 0"), 20, "the second batch"
            )
            yield Stack(meter_provider, f"http://127.0.0.1:{exporter_port}/metrics", prometheus, hook)
    finally:
        meter_provider.shutdown()
        exporter.shutdown()
        hook_server.shutdown()


def _exported_names(url: str) -> set[str]:
    with urllib.request.urlopen(url, timeout=5) as response:
        text = response.read().decode()
    return {
        sample.name
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name.startswith(("assistants_", "gen_ai_"))
    }


def test_python_exporter_names_equal_the_collector_translation(stack: Stack) -> None:
    """Golden: for the units of our table ({token}, s, USD, 1, {run}...) the Python exporter and
    the Collector's default translation give the same names, and those reach Prometheus."""
    exported = _exported_names(stack.exporter_url)
    assert exported == emitted_series()
    assert prometheus_name(sc.METRIC_COST, "USD", "counter") == "assistants_cost_USD_total"
    in_prometheus = set(stack.prometheus.label_values("__name__", '{__name__=~"assistants_.+|gen_ai_.+"}'))
    assert in_prometheus == emitted_series()
    for spec in METRICS:
        assert spec.series <= exported, spec


def test_exporters_differ_on_a_unit_already_in_the_name() -> None:
    """Documented difference: unit ``token`` on ``gen_ai.client.token.usage``. The Collector skips a
    unit that is already a token of the name; the Python exporter appends it unless the name ends
    with it. Our table uses ``{token}``, which both drop."""
    reader = PrometheusMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    try:
        provider.get_meter("difference").create_histogram(sc.METRIC_TOKEN_USAGE, unit="token").record(1)
        text = generate_latest(REGISTRY).decode()
    finally:
        provider.shutdown()
    names = {
        line.split()[2] for line in text.splitlines() if line.startswith("# TYPE gen_ai_client_token_usage")
    }
    assert "gen_ai_client_token_usage_token" in names
    assert prometheus_name(sc.METRIC_TOKEN_USAGE, "token", HISTOGRAM) == "gen_ai_client_token_usage"


VARIABLE_SETTINGS = [{"assistant": ".*", "model": ".*"}, {"assistant": AGENT, "model": MODEL}]


@pytest.mark.parametrize("variables", VARIABLE_SETTINGS, ids=["all", "one-assistant-one-model"])
def test_every_dashboard_query_returns_data(stack: Stack, variables: dict[str, str]) -> None:
    empty = []
    for title, expr in dashboard_targets(load_dashboard()):
        query = render(expr, variables)
        result = stack.prometheus.query(query)
        values = [float(r["value"][1]) for r in result]
        if not any(math.isfinite(v) for v in values):
            empty.append(f"{title}: {query} -> {result}")
    assert not empty, "\n".join(empty)


def test_template_variables_list_real_values(stack: Stack) -> None:
    queries = variable_queries(load_dashboard())
    assert {"data-analyst", AGENT} <= set(
        stack.prometheus.label_values("gen_ai_agent_name", "assistants_runs_total")
    )
    assert queries["assistant"] == "label_values(assistants_runs_total, gen_ai_agent_name)"
    models = stack.prometheus.label_values(
        "gen_ai_request_model",
        render('assistants_runs_total{gen_ai_agent_name=~"$assistant"}', {"assistant": AGENT}),
    )
    assert models == [MODEL]


def test_every_rule_operand_returns_data(stack: Stack) -> None:
    rules = load_rules()
    missing = []
    for rule in rules:
        exprs = [rule["record"]] if "record" in rule else operands(rule["expr"])
        for expr in exprs:
            if not wait_for_quietly(stack.prometheus, expr):
                missing.append(f"{rule.get('record') or rule['alert']}: {expr}")
    assert not missing, "\n".join(missing)


def wait_for_quietly(prometheus: Prometheus, expr: str) -> bool:
    """Recording rules appear after their first evaluation: give them a few seconds."""
    try:
        wait_for(lambda: prometheus.query(expr), 5, expr)
    except pytest.fail.Exception:
        return False
    return True


def _firing(prometheus: Prometheus, name: str) -> list[dict[str, Any]]:
    return [a for a in prometheus.alerts() if a["labels"]["alertname"] == name and a["state"] == "firing"]


def test_spend_spike_reaches_alertmanager(stack: Stack) -> None:
    # Before the spike the spend (~0.6 USD/h) is under the 5 USD/h floor: quiet.
    assert stack.prometheus.query("assistants:spend_usd_per_hour:rate5m")
    assert not _firing(stack.prometheus, "AssistantsSpendSpike")
    assert not stack.webhook.received

    # A series first seen at its full value shows no increase: let Prometheus see it at 0 first.
    spend_spike(stack.meter_provider, 0.0)
    wait_for(
        lambda: stack.prometheus.query(
            'count_over_time(assistants_cost_USD_total{otel_scope_name="stack-e2e-spike"}[1m]) >= 2'
        ),
        20,
        "the spike's series at 0",
    )
    spend_spike(stack.meter_provider)
    alerts = wait_for(lambda: _firing(stack.prometheus, "AssistantsSpendSpike"), 20, "the alert to fire")
    assert [a["labels"]["gen_ai_agent_name"] for a in alerts] == [AGENT]

    def notified() -> list[dict[str, Any]]:
        return [
            alert
            for message in stack.webhook.received
            for alert in message["alerts"]
            if alert["labels"]["alertname"] == "AssistantsSpendSpike" and alert["status"] == "firing"
        ]

    received = wait_for(notified, 20, "the webhook notification")
    assert received[0]["labels"]["severity"] == "warning"
    assert received[0]["labels"]["gen_ai_agent_name"] == AGENT
    assert f'Assistant "{AGENT}" spends' in received[0]["annotations"]["summary"]
    # 2 USD is under the 10 USD hourly budget: that alert stays quiet.
    assert not _firing(stack.prometheus, "AssistantsHourlyBudgetExceeded")
    assert get_json(stack.prometheus.base_url + "/api/v1/alertmanagers")["data"]["activeAlertmanagers"]
