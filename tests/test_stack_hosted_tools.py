"""The hosted-tools rules (checked and unit-tested by the real promtool) and dashboard row."""

from __future__ import annotations

import fnmatch
import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests.stack.harness import require_binary
from tests.stack.naming import emitted_labels, emitted_series
from tests.stack.promql import DOCKER, dashboard_targets, label_names, load_dashboard, metric_names

RULES = DOCKER / "prometheus" / "rules" / "hosted_tools.rules.yml"
UNIT_TESTS = Path(__file__).resolve().parent / "stack" / "hosted_tools.rules.test.yml"


def _run(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)


def _rules() -> list[dict[str, Any]]:
    return [r for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]]


def test_prometheus_loads_the_rules_file() -> None:
    prometheus = yaml.safe_load((DOCKER / "prometheus" / "prometheus.yml").read_text())
    mounted = "/etc/prometheus/rules/" + RULES.name
    assert any(fnmatch.fnmatch(mounted, pattern) for pattern in prometheus["rule_files"])


def test_promtool_check_rules() -> None:
    result = _run([require_binary("promtool", "prometheus"), "check", "rules", str(RULES)])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 5 rules found" in result.stdout


def test_promtool_rule_unit_tests() -> None:
    result = _run([require_binary("promtool", "prometheus"), "test", "rules", str(UNIT_TESTS)])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_promtool_unit_tests_catch_broken_rules(tmp_path: Path) -> None:
    """Not vacuous: raising either threshold out of reach makes its alert's test fail."""
    promtool = require_binary("promtool", "prometheus")
    for old, new, alert in (
        ("rate5m > 2\n", "rate5m > 200\n", "HostedToolsContainerSpendSurge"),
        ("increase1h > 20\n", "increase1h > 2000\n", "HostedToolsAutoContainersWithoutCall"),
    ):
        broken = RULES.read_text().replace(old, new)
        assert broken != RULES.read_text()
        rules = tmp_path / "rules.yml"
        rules.write_text(broken)
        tests = tmp_path / "test.yml"
        tests.write_text(UNIT_TESTS.read_text().replace(f"../../docker/prometheus/rules/{RULES.name}", str(rules)))
        result = _run([promtool, "test", "rules", str(tests)])
        assert result.returncode != 0 and alert in result.stdout + result.stderr


def _check(where: str, expr: str, recorded: set[str]) -> None:
    unknown = metric_names(expr) - emitted_series() - recorded
    assert not unknown, f"{where}: {sorted(unknown)} are not emitted (expr: {expr})"
    labels = label_names(expr)
    assert labels <= emitted_labels() and not labels & {"job", "instance"}, f"{where}: labels {labels}"


def test_rules_query_only_emitted_names_and_are_actionable() -> None:
    rules = _rules()
    recorded = {r["record"] for r in rules if "record" in r}
    assert {r["alert"] for r in rules if "alert" in r} == {
        "HostedToolsContainerSpendSurge",
        "HostedToolsAutoContainersWithoutCall",
    }
    for rule in rules:
        _check(rule.get("record") or rule["alert"], rule["expr"], recorded)
        if "alert" in rule:
            assert rule["labels"]["severity"] in {"warning", "critical"}
            assert len(rule["annotations"]["description"]) > 150


def test_dashboard_row_hosted_tools() -> None:
    dashboard = load_dashboard()
    (row,) = [p for p in dashboard["panels"] if p["type"] == "row" and p["title"] == "Hosted tools"]
    assert row["gridPos"]["y"] >= 200
    top = row["gridPos"]["y"]
    rows_after = [p["gridPos"]["y"] for p in dashboard["panels"] if p["type"] == "row" and p["gridPos"]["y"] > top]
    end = min(rows_after, default=float("inf"))  # the row's panels: up to the next row
    below = [p for p in dashboard["panels"] if p["type"] != "row" and top < p["gridPos"]["y"] < end]
    titles = {p["title"] for p in below}
    assert {
        "Container spend by tier and rule (USD/h)",
        "Live containers",
        "Containers opened: observed vs inferred (per hour)",
        "Search and image fees (USD/h)",
        "Auto containers without a tool call (per hour)",
    } <= titles
    exprs = [e for title, e in dashboard_targets(dashboard) if title in titles]
    joined = " ".join(exprs)
    for needle in ('openai_cost_kind="container"', "openai_cost_container_tier", "openai_cost_container_rule",
                   "openai_cost_containers_live", "openai_cost_container_life",
                   "web_search|file_search|image_generation", "openai_cost_containers_auto_without_call_total"):
        assert needle in joined
    for expr in exprs:
        _check("dashboard", expr, set())
