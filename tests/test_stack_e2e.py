"""End to end: the demo workloads (Assistants and Responses APIs) with the instrumentor on, its
metrics exposed by the Python Prometheus exporter, scraped by a real Prometheus that evaluates our
rules, whose spend-spike alert reaches a real Alertmanager and its webhook.
"""

from __future__ import annotations

import contextlib
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
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import REGISTRY, generate_latest, start_http_server
from prometheus_client.parser import text_string_to_metric_families

from examples.responses_workload import register_response_scripts, run_responses_workload
from examples.workload import register_scripts, run_workload
from openai_fake_api import FakeAssistantsAPI
from opentelemetry.instrumentation.openai_assistants import AssistantsInstrumentor
from tests.stack.harness import Prometheus, free_port, get_json, require_binary, running, wait_for
from tests.stack.naming import HISTOGRAM, METRICS, billing_series, emitted_series, prometheus_name, sc
from tests.stack.promql import (
    BILLING_RULES_FILE,
    DOCKER,
    RULES_FILE,
    dashboard_targets,
    load_dashboard,
    load_rules,
    metric_names,
    operands,
    render,
    variable_queries,
)

AGENT, MODEL = "Data analyst", "gpt-4o-mini"
RESPONSES_MODEL = "gpt-5.4-mini"


def _leaf_cost(key: str) -> bool:
    """A cost figure on the span the money belongs to (roll-ups repeat them)."""
    return key.startswith("openai_cost.") and key.endswith("_usd") and ".rollup." not in key

BILLING_NAMES = billing_series() | {r["record"] for r in load_rules(BILLING_RULES_FILE) if "record" in r}


def workload(fake_api: FakeAssistantsAPI) -> None:
    """One batch of the demo's workloads (sync and async runs and responses, streams, background
    polls, tools, an unpriced model), traced and metered by the instrumentor."""
    run_workload(fake_api.base_url)
    run_responses_workload(fake_api.base_url)
    assert AssistantsInstrumentor().force_flush(20_000)


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
    spans: InMemorySpanExporter


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
    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    instrumentor = AssistantsInstrumentor()
    instrumentor.instrument(tracer_provider=tracer_provider, meter_provider=meter_provider,
                            estimate_sample_rate=1.0)
    fake_api = FakeAssistantsAPI().start()
    register_scripts(fake_api)
    register_response_scripts(fake_api)
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
            workload(fake_api)
            # Two scrapes of the first batch, then a second batch: counters rise between scrapes.
            wait_for(
                lambda: prometheus.query("count_over_time(openai_cost_runs_total[1m]) >= 2"),
                20,
                "two scrapes of the workload",
            )
            workload(fake_api)
            wait_for(
                lambda: prometheus.query("increase(openai_cost_runs_total[1m]) > 0"), 20, "the second batch"
            )
            yield Stack(meter_provider, f"http://127.0.0.1:{exporter_port}/metrics", prometheus, hook, spans)
    finally:
        instrumentor.uninstrument()
        fake_api.stop()
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
        if sample.name.startswith(("openai_cost_", "gen_ai_"))
    }


def test_python_exporter_names_equal_the_collector_translation(stack: Stack) -> None:
    """Golden: for the units of our table ({token}, s, USD, 1, {run}...) the Python exporter and
    the Collector's default translation give the same names, and those reach Prometheus."""
    exported = _exported_names(stack.exporter_url)
    assert exported == emitted_series()
    assert prometheus_name(sc.METRIC_COST, "USD", "counter") == "openai_cost_spend_USD_total"
    in_prometheus = set(stack.prometheus.label_values("__name__", '{__name__=~"openai_cost_.+|gen_ai_.+"}'))
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


def test_spend_in_prometheus_equals_the_leaf_costs_of_the_spans(stack: Stack) -> None:
    leaves = sum(float(value) for span in stack.spans.get_finished_spans()
                 for key, value in (span.attributes or {}).items() if _leaf_cost(key))
    assert leaves > 0.1  # Code Interpreter sessions and tokens of two batches
    query = 'sum(openai_cost_spend_USD_total{otel_scope_name="opentelemetry.instrumentation.openai_assistants"})'
    seen: list[float] = []

    def all_scraped() -> bool:  # the last responses of the second batch may need one more scrape
        result = stack.prometheus.query(query)
        seen[:] = [float(result[0]["value"][1])] if result else []
        return bool(seen) and seen[0] == pytest.approx(leaves, rel=1e-9)

    with contextlib.suppress(pytest.fail.Exception):
        wait_for(all_scraped, 20, "the spend of every span")
    assert seen and seen[0] == pytest.approx(leaves, rel=1e-9)


def test_hosted_tool_spend_in_prometheus_equals_the_tool_spans(stack: Stack) -> None:
    """Container, web search and file search money of the Responses workload: on the tool spans that
    incurred it, and the same in Prometheus under its cost kind."""
    spans = stack.spans.get_finished_spans()
    kinds = ("container", "web_search", "file_search")
    leaves = {k: sum(float((span.attributes or {}).get(f"openai_cost.{k}_usd", 0.0)) for span in spans)
              for k in kinds}
    assert all(leaves[k] > 0 for k in kinds), leaves
    query = ('sum by (openai_cost_kind) '
             '(openai_cost_spend_USD_total{openai_cost_kind=~"container|web_search|file_search"})')

    def spend() -> dict[str, float]:
        return {r["metric"]["openai_cost_kind"]: float(r["value"][1]) for r in stack.prometheus.query(query)}

    with contextlib.suppress(pytest.fail.Exception):  # scrapes may lag the second batch: wait for it
        wait_for(lambda: spend() == pytest.approx(leaves, rel=1e-9), 20, "the hosted tool spend of every span")
    assert spend() == pytest.approx(leaves, rel=1e-9)
    tiers = stack.prometheus.query('sum by (openai_cost_container_tier, openai_cost_container_rule) '
                                   '(openai_cost_spend_USD_total{openai_cost_kind="container"})')
    assert [(r["metric"]["openai_cost_container_tier"], r["metric"]["openai_cost_container_rule"]) for r in tiers
            ] == [("4g", "per_minute")]
    auto = stack.prometheus.query("sum(openai_cost_containers_auto_without_call_total)")
    assert float(auto[0]["value"][1]) == 2  # the auto container of each batch that no call used


VARIABLE_SETTINGS = [
    {"api": ".*", "assistant": ".*", "model": ".*"},
    {"api": "assistants", "assistant": ".*", "model": ".*"},
    {"api": "assistants", "assistant": AGENT, "model": MODEL},
    {"api": "responses", "assistant": ".*", "model": ".*"},
    {"api": "responses", "assistant": ".*", "model": RESPONSES_MODEL},
]


#: Panels with no Responses data by design, and why.
ASSISTANTS_ONLY = {
    "Estimate error (relative)": "a response with reported usage is not also estimated",
    "Code Interpreter sessions and containers": "the sessions counter is the Assistants API's; Responses "
    "containers show here once container charges (kind container) are recorded",
}


#: Hosted-tools panels: the Responses API's only.
RESPONSES_ONLY = {
    "Container spend by tier and rule (USD/h)", "Live containers", "Search and image fees (USD/h)",
    "Auto containers without a tool call (per hour)", "Containers opened: observed vs inferred (per hour)",
}


#: The media and batch row: its data comes from the images, audio, videos and batches APIs, which this
#: stack's workload does not call (tests/test_media.py and tests/test_media_billing.py cover their metrics).
MEDIA_ROW = {"Media and batch spend by API and model (USD/h)", "Media and batch spend by API and cost kind (USD/h)",
             "Media calls by API and status, and unpriced ones (per hour)"}


@pytest.mark.parametrize(
    "variables", VARIABLE_SETTINGS,
    ids=["all", "assistants", "assistants-one-assistant-one-model", "responses", "responses-one-model"],
)
def test_every_dashboard_query_returns_data(stack: Stack, variables: dict[str, str]) -> None:
    empty = []
    for title, expr in dashboard_targets(load_dashboard()):
        if variables["api"] == "responses" and title in ASSISTANTS_ONLY:
            continue
        if variables["api"] == "assistants" and title in RESPONSES_ONLY:
            continue
        if title in MEDIA_ROW:
            continue
        if metric_names(expr) & BILLING_NAMES:
            continue  # the billed-vs-measured row needs the billing exporter: tests/test_billing_e2e.py
        query = render(expr, variables)
        result = stack.prometheus.query(query)
        values = [float(r["value"][1]) for r in result]
        if not any(math.isfinite(v) for v in values):
            empty.append(f"{title}: {query} -> {result}")
    assert not empty, "\n".join(empty)


def test_template_variables_list_real_values(stack: Stack) -> None:
    queries = variable_queries(load_dashboard())
    assert {"Weather bot", AGENT} <= set(
        stack.prometheus.label_values("gen_ai_agent_name", "openai_cost_runs_total")
    )
    assert queries["assistant"] == "label_values(openai_cost_runs_total, gen_ai_agent_name)"
    models = stack.prometheus.label_values(
        "gen_ai_request_model",
        render('openai_cost_runs_total{gen_ai_agent_name=~"$assistant"}', {"assistant": AGENT}),
    )
    assert models == [MODEL]
    assert queries["api"] == "label_values(openai_cost_runs_total, openai_api_type)"
    assert stack.prometheus.label_values("openai_api_type", "openai_cost_runs_total") == ["assistants", "responses"]
    responses_models = stack.prometheus.label_values(
        "gen_ai_request_model", render(queries["model"].split("(", 1)[1].rsplit(",", 1)[0],
                                       {"api": "responses", "assistant": ".*"}))
    assert RESPONSES_MODEL in responses_models and MODEL not in responses_models


def test_spend_by_api_and_rules_see_both_apis(stack: Stack) -> None:
    panel = next(p for p in load_dashboard()["panels"] if p["title"] == "Spend by API (USD/h)")
    query = render(panel["targets"][0]["expr"], {"api": ".*", "assistant": ".*", "model": ".*"})
    assert {r["metric"]["openai_api_type"] for r in stack.prometheus.query(query)} == {"assistants", "responses"}
    rate = 'assistants:spend_usd_per_hour:rate5m{openai_api_type="responses"}'
    recorded = wait_for(lambda: stack.prometheus.query(rate), 10, "the Responses spend rate")
    assert [r["metric"].get("gen_ai_agent_name") for r in recorded] == [None]


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
            'count_over_time(openai_cost_spend_USD_total{otel_scope_name="stack-e2e-spike"}[1m]) >= 2'
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
