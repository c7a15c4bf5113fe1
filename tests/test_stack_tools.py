"""The rule file, its unit tests and the Alertmanager config, checked by the real promtool and amtool."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.stack.harness import require_binary
from tests.stack.promql import DOCKER, RULES_FILE

STACK_TESTS = Path(__file__).resolve().parent / "stack"


def _run(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)


def test_promtool_check_rules() -> None:
    promtool = require_binary("promtool", "prometheus")
    result = _run([promtool, "check", "rules", str(RULES_FILE)])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 12 rules found" in result.stdout


def test_promtool_rule_unit_tests() -> None:
    """Each alert fires when it should and stays quiet when it should not (see the test file)."""
    promtool = require_binary("promtool", "prometheus")
    result = _run([promtool, "test", "rules", str(STACK_TESTS / "assistants.rules.test.yml")])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_promtool_rule_unit_tests_catch_a_broken_rule(tmp_path: Path) -> None:
    """The unit tests are not vacuous: raising the spend floor out of reach makes them fail."""
    promtool = require_binary("promtool", "prometheus")
    broken = RULES_FILE.read_text().replace("rate5m > 5\n", "rate5m > 500\n")
    assert broken != RULES_FILE.read_text()
    rules = tmp_path / "rules.yml"
    rules.write_text(broken)
    tests = tmp_path / "test.yml"
    tests.write_text(
        (STACK_TESTS / "assistants.rules.test.yml")
        .read_text()
        .replace("../../docker/prometheus/rules/assistants.rules.yml", str(rules))
    )
    result = _run([promtool, "test", "rules", str(tests)])
    assert result.returncode != 0
    assert "AssistantsSpendSpike" in result.stdout + result.stderr


def test_promtool_check_prometheus_config() -> None:
    promtool = require_binary("promtool", "prometheus")
    result = _run(
        [promtool, "check", "config", "--syntax-only", str(DOCKER / "prometheus" / "prometheus.yml")]
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_amtool_check_config() -> None:
    amtool = require_binary("amtool", "prometheus-alertmanager")
    result = _run([amtool, "check-config", str(DOCKER / "alertmanager" / "alertmanager.yml")])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout
