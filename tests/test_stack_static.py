"""Static checks of docker/: the compose file, its mounts, the collector, and the names the
dashboard and the rules query against the names the instrumentation emits."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.stack.naming import (
    COUNTER,
    GAUGE,
    HISTOGRAM,
    METRICS,
    billing_series,
    emitted_labels,
    emitted_series,
    prometheus_name,
)
from tests.stack.promql import (
    BILLING_RULES_FILE,
    DOCKER,
    dashboard_targets,
    label_names,
    load_dashboard,
    load_rules,
    metric_names,
    variable_queries,
)

COMPOSE = DOCKER / "compose.yaml"
FORBIDDEN_LABELS = {"job", "instance"}


def _yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def _compose() -> dict[str, Any]:
    return dict(_yaml(COMPOSE))


def _recorded() -> set[str]:
    return {r["record"] for r in (*load_rules(), *load_rules(BILLING_RULES_FILE)) if "record" in r}


@pytest.mark.parametrize(
    ("otel_name", "unit", "kind", "expected"),
    [
        ("openai_cost.spend", "USD", COUNTER, "openai_cost_spend_USD_total"),
        ("openai_cost.run.spend", "USD", HISTOGRAM, "openai_cost_run_spend_USD"),
        ("gen_ai.client.token.usage", "{token}", HISTOGRAM, "gen_ai_client_token_usage"),
        # A unit already among the name's tokens is not appended by the Collector (the Python
        # exporter does append it: gen_ai_client_token_usage_token; see test_stack_e2e.py).
        ("gen_ai.client.token.usage", "token", HISTOGRAM, "gen_ai_client_token_usage"),
        ("openai_cost.spend", "usd", COUNTER, "openai_cost_spend_usd_total"),
        ("gen_ai.client.operation.duration", "s", HISTOGRAM, "gen_ai_client_operation_duration_seconds"),
        ("openai_cost.usage.estimate_error", "1", HISTOGRAM, "openai_cost_usage_estimate_error"),
        ("openai_cost.tool_calls", "{call}", COUNTER, "openai_cost_tool_calls_total"),
        ("queue.fill", "1", GAUGE, "queue_fill_ratio"),
        ("io.rate", "By/s", GAUGE, "io_rate_bytes_per_second"),
        ("requests.total.seen", "", COUNTER, "requests_seen_total"),
        ("call.seconds", "s", HISTOGRAM, "call_seconds"),
        ("2xx..responses", "", COUNTER, "_2xx_responses_total"),
    ],
)
def test_prometheus_name(otel_name: str, unit: str, kind: str, expected: str) -> None:
    assert prometheus_name(otel_name, unit, kind) == expected


def test_compose_parses_and_has_the_services() -> None:
    services = _compose()["services"]
    assert set(services) == {"otel-collector", "prometheus", "alertmanager", "grafana", "tempo", "billing-exporter"}


def test_billing_exporter_is_off_unless_its_profile_is_enabled() -> None:
    service = _compose()["services"]["billing-exporter"]
    assert service["profiles"] == ["billing"]
    assert service["environment"]["OPENAI_ADMIN_KEY"] == "${OPENAI_ADMIN_KEY:-}"  # never a key in the file
    assert service["environment"]["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel-collector:4317"
    assert "openai-billing-exporter" in " ".join(service["command"])


def test_images_are_pinned() -> None:
    for name, service in _compose()["services"].items():
        image = service["image"]
        repo, _, tag = image.rpartition(":")
        assert repo and tag, f"{name}: image {image!r} has no tag"
        assert tag != "latest" and re.fullmatch(r"v?\d+\.\d+\.\d+(-[a-z]+)?", tag), f"{name}: {image!r} is not pinned"


def test_every_mounted_file_exists() -> None:
    mounts = 0
    for name, service in _compose()["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                mounts += 1
                assert (DOCKER / source).exists(), f"{name}: {source} does not exist"
    assert mounts >= 7


def test_every_provisioned_file_exists() -> None:
    provisioning = DOCKER / "grafana" / "provisioning"
    providers = _yaml(provisioning / "dashboards" / "dashboards.yaml")["providers"]
    assert [p["options"]["path"] for p in providers] == ["/var/lib/grafana/dashboards"]
    grafana = _compose()["services"]["grafana"]
    assert "./grafana/dashboards:/var/lib/grafana/dashboards:ro" in grafana["volumes"]
    assert (DOCKER / "grafana" / "dashboards" / "assistants.json").is_file()
    sources = {d["uid"]: d for d in _yaml(provisioning / "datasources" / "datasources.yaml")["datasources"]}
    assert sources["prometheus"]["url"] == "http://prometheus:9090"
    assert sources["tempo"]["url"] == "http://tempo:3200"
    env = grafana["environment"]
    assert env["GF_AUTH_ANONYMOUS_ENABLED"] == "true" and env["GF_AUTH_ANONYMOUS_ORG_ROLE"] == "Viewer"
    prometheus = _yaml(DOCKER / "prometheus" / "prometheus.yml")
    assert prometheus["rule_files"] == ["/etc/prometheus/rules/*.yml"]
    assert "./prometheus/rules:/etc/prometheus/rules:ro" in _compose()["services"]["prometheus"]["volumes"]
    assert (DOCKER / "prometheus" / "rules" / "assistants.rules.yml").is_file()
    targets = [t for job in prometheus["scrape_configs"] for c in job["static_configs"] for t in c["targets"]]
    assert "otel-collector:8889" in targets
    assert prometheus["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == ["alertmanager:9093"]


def test_collector_binds_all_interfaces_and_keeps_default_translation() -> None:
    config = _yaml(DOCKER / "collector" / "config.yaml")
    protocols = config["receivers"]["otlp"]["protocols"]
    assert protocols["grpc"]["endpoint"] == "0.0.0.0:4317"
    assert protocols["http"]["endpoint"] == "0.0.0.0:4318"
    exporter = config["exporters"]["prometheus"]
    assert exporter["endpoint"] == "0.0.0.0:8889"
    assert exporter.get("add_metric_suffixes", True) is True
    assert (
        exporter.get("translation_strategy", "UnderscoreEscapingWithSuffixes")
        == "UnderscoreEscapingWithSuffixes"
    )
    pipelines = config["service"]["pipelines"]
    assert pipelines["metrics"]["exporters"] == ["prometheus"]
    assert config["exporters"][pipelines["traces"]["exporters"][0]]["endpoint"] == "tempo:4317"
    tempo = _yaml(DOCKER / "tempo" / "tempo.yaml")["distributor"]["receivers"]["otlp"]["protocols"]
    assert tempo["grpc"]["endpoint"] == "0.0.0.0:4317"


def _check_names(where: str, expr: str) -> None:
    allowed = emitted_series() | billing_series() | _recorded()
    unknown = metric_names(expr) - allowed
    assert not unknown, f"{where}: {sorted(unknown)} are not emitted (expr: {expr})"
    labels = label_names(expr)
    assert not labels & FORBIDDEN_LABELS, f"{where}: depends on {labels & FORBIDDEN_LABELS}"
    assert labels <= emitted_labels(), f"{where}: unknown labels {sorted(labels - emitted_labels())}"
    assert "target_info" not in expr


def test_rules_query_only_emitted_names() -> None:
    rules = load_rules()
    assert {r["alert"] for r in rules if "alert" in r} == {
        "AssistantsSpendSpike",
        "AssistantsHourlyBudgetExceeded",
        "AssistantsCodeInterpreterSessionSurge",
        "AssistantsFailedRunsHigh",
    }
    for rule in rules:
        _check_names(rule.get("record") or rule["alert"], rule["expr"])


def test_alerts_are_actionable() -> None:
    for rule in load_rules():
        if "alert" in rule:
            assert rule["labels"]["severity"] in {"warning", "critical"}
            assert len(rule["annotations"]["summary"]) > 30
            assert len(rule["annotations"]["description"]) > 150


def test_dashboard_queries_only_emitted_names() -> None:
    dashboard = load_dashboard()
    targets = list(dashboard_targets(dashboard))
    assert len(targets) >= 25
    for title, expr in targets:
        _check_names(title, expr)
        if "rate(" in expr or "increase(" in expr:
            assert "[$__rate_interval]" in expr or "[$__range]" in expr, f"{title}: fixed range in {expr}"
    for name, query in variable_queries(dashboard).items():
        match = re.fullmatch(r"label_values\((.*),\s*([a-z_]+)\)", query)
        assert match, f"variable {name}: {query}"
        _check_names(f"variable {name}", match.group(1))


def test_dashboard_covers_every_metric_but_says_which_translation() -> None:
    dashboard = load_dashboard()
    used = set().union(*(metric_names(e) for _, e in dashboard_targets(dashboard)))
    for spec in METRICS:
        assert spec.series & used, f"the dashboard does not show {spec.name}"
    assert "UnderscoreEscapingWithSuffixes" in dashboard["description"]
    names = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert "gen_ai_agent_name" in names["assistant"]["definition"]
    assert "gen_ai_request_model" in names["model"]["definition"]
    assert all(v["allValue"] == ".*" for v in names.values())


def test_dashboard_covers_both_apis() -> None:
    """An ``api`` variable filters every panel of the rows above y = 200 that filters by assistant or
    model (the rows from y = 200 on, about hosted tools and billing, keep their own filters); panels
    that mix the APIs tell them apart; a row compares their spend."""
    dashboard = load_dashboard()
    names = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert names["api"]["definition"] == "label_values(openai_cost_runs_total, openai_api_type)"
    assert '$api' in names["model"]["definition"]
    upper = {**dashboard, "panels": [p for p in dashboard["panels"] if p["gridPos"]["y"] < 200]}
    for title, expr in dashboard_targets(upper):
        for selector in re.findall(r"\{[^{}]*\}", expr):
            if "$assistant" in selector or "$model" in selector:
                assert 'openai_api_type=~"$api"' in selector, f"{title}: {selector}"
    by_title = {p["title"]: p for p in dashboard["panels"]}
    for title in ("Spend by API (USD/h)", "Runs and responses by status (per min)",
                  "Inference duration (chat: Assistants steps, responses)"):
        assert all("openai_api_type" in t["legendFormat"] for t in by_title[title]["targets"]), title
    assert by_title["Both APIs: Assistants and Responses"]["gridPos"]["y"] == 100


def test_rules_cover_both_apis() -> None:
    """Per-caller rules keep the APIs apart (Responses traffic has no assistant name); the budget
    adds them up."""
    rules = {r.get("record") or r["alert"]: r for r in load_rules()}
    for name in ("assistants:spend_usd_per_hour:rate5m", "assistants:code_interpreter_sessions_per_hour:rate10m",
                 "assistants:runs_failed:ratio15m", "assistants:runs:increase15m"):
        groupings = re.findall(r"by \(([^()]*)\)", rules[name]["expr"])
        assert groupings and all(g == "openai_api_type, gen_ai_agent_name" for g in groupings), name
    assert rules["assistants:spend_usd:increase1h"]["expr"] == "sum(increase(openai_cost_spend_USD_total[1h]))"
    for alert in ("AssistantsSpendSpike", "AssistantsCodeInterpreterSessionSurge", "AssistantsFailedRunsHigh"):
        summary = rules[alert]["annotations"]["summary"]
        assert "{{ if $labels.gen_ai_agent_name }}" in summary and "Responses API" in summary, alert

def test_billing_rules_query_only_emitted_names() -> None:
    rules = load_rules(BILLING_RULES_FILE)
    assert {r["alert"] for r in rules if "alert" in r} == {"OpenAIBilledSpendMismatch"}
    for rule in rules:
        _check_names(rule.get("record") or rule["alert"], rule["expr"])
        if "alert" in rule:
            assert "openai_cost_kind" in rule["annotations"]["summary"]


def test_dashboard_has_a_row_for_the_media_and_batch_apis() -> None:
    """The images, audio, videos and batches APIs have their row: spend by API and model, by API and kind,
    calls by status and unpriced ones, every query keeping the APIs apart."""
    dashboard = load_dashboard()
    by_id = {p["id"]: p for p in dashboard["panels"]}
    assert by_id[250]["type"] == "row" and by_id[250]["gridPos"]["y"] == 250
    for panel_id in (251, 252, 253):
        for target in by_id[panel_id]["targets"]:
            assert 'openai_api_type=~"images|audio|videos|batches"' in target["expr"]
            assert "openai_api_type" in target["legendFormat"]


def test_billing_rules_compare_media_as_the_bill_names_them() -> None:
    """The bill names media line items by model: the measured spend of the images, audio and videos APIs
    is compared as image_generation, audio and video, the kinds the line item mapping gives."""
    from opentelemetry.instrumentation.openai_assistants.billing.lineitems import load

    rules = {r.get("record") or r["alert"]: r for r in load_rules(BILLING_RULES_FILE)}
    expr = rules["openai_cost:measured_spend_usd:last_day"]["expr"]
    items = load()
    for api, line_item in (("images", "gpt-image-1.5, image output"), ("audio", "gpt-4o-mini-tts, audio output"),
                           ("videos", "sora-2, video seconds")):
        kind = items.kind(line_item)
        assert f'openai_api_type="{api}"' in expr and f'"openai_cost_kind", "{kind}"' in expr, (api, kind)
    assert items.kind("gpt-4o-mini, batch input") == "input_tokens"
    assert items.kind("whisper-1, audio seconds") == "audio"
