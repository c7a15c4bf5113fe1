"""The rule file, its unit tests and the Alertmanager config, checked by the real promtool and amtool."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.stack.harness import require_binary
from tests.stack.promql import BILLING_RULES_FILE, DOCKER, RULES_FILE

STACK_TESTS = Path(__file__).resolve().parent / "stack"


def _run(args: list[str]) -> subprocess.CompletedProcess[str]:
    # promtool evaluates every rule each minute over two simulated days: minutes on a loaded machine
    return subprocess.run(args, capture_output=True, text=True, timeout=300, check=False)


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


def test_promtool_billing_rules() -> None:
    """The billed-vs-measured rules load, and their unit tests pass: the alert names the kind that
    differs, waits an hour, ignores differences under the dollar floor and a bill not yet there."""
    promtool = require_binary("promtool", "prometheus")
    checked = _run([promtool, "check", "rules", str(BILLING_RULES_FILE)])
    assert checked.returncode == 0, checked.stdout + checked.stderr
    result = _run([promtool, "test", "rules", str(STACK_TESTS / "billing.rules.test.yml")])
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_billing_unit_tests_catch_a_broken_rule(tmp_path: Path) -> None:
    """Not vacuous: a dollar floor out of reach keeps the expected alert from firing."""
    promtool = require_binary("promtool", "prometheus")
    rules = tmp_path / "billing.rules.yml"
    rules.write_text(BILLING_RULES_FILE.read_text().replace("expr: vector(0.10)", "expr: vector(1000)"))
    tests = tmp_path / "billing.rules.test.yml"
    tests.write_text((STACK_TESTS / "billing.rules.test.yml").read_text()
                     .replace("../../docker/prometheus/rules/billing.rules.yml", str(rules)))
    result = _run([promtool, "test", "rules", str(tests)])
    assert result.returncode != 0
    assert "OpenAIBilledSpendMismatch" in result.stdout + result.stderr
