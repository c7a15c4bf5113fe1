"""Just enough PromQL reading to check which metric and label names an expression uses."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

DOCKER = Path(__file__).resolve().parents[2] / "docker"
RULES_FILE = DOCKER / "prometheus" / "rules" / "assistants.rules.yml"
BILLING_RULES_FILE = DOCKER / "prometheus" / "rules" / "billing.rules.yml"
DASHBOARD_FILE = DOCKER / "grafana" / "dashboards" / "assistants.json"

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')
_MATCHERS = re.compile(r"\{([^{}]*)\}")
_RANGE = re.compile(r"\[[^\[\]]*\]")
_GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\(([^()]*)\)")
_OFFSET = re.compile(r"\boffset\s+-?[0-9a-z]+")
_IDENT = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_KEYWORDS = {"and", "or", "unless", "bool", "by", "without", "on", "ignoring", "group_left", "group_right"}
_COMPARISON = (">=", "<=", "==", "!=", ">", "<")


def _strip(expr: str) -> tuple[str, set[str]]:
    """Remove strings, matchers, ranges, groupings and offsets; return the rest and the labels seen."""
    labels: set[str] = set()
    expr = _STRING.sub('""', expr)
    for block in _MATCHERS.findall(expr):
        labels |= set(re.findall(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)", block))
    expr = _MATCHERS.sub(" ", expr)
    expr = _RANGE.sub(" ", expr)
    for _, names in _GROUPING.findall(expr):
        labels |= {n.strip() for n in names.split(",") if n.strip()}
    expr = _GROUPING.sub(" ", expr)
    return _OFFSET.sub(" ", expr), labels


def metric_names(expr: str) -> set[str]:
    """Return the metric names (series selectors) an expression reads."""
    rest, _ = _strip(expr)
    names = set()
    for m in _IDENT.finditer(rest):
        following = rest[m.end() :].lstrip()
        if m.group() in _KEYWORDS or following.startswith("("):
            continue
        if m.start() > 0 and (rest[m.start() - 1].isdigit() or rest[m.start() - 1] == "."):
            continue  # exponent or unit inside a number
        names.add(m.group())
    return names


def label_names(expr: str) -> set[str]:
    """Return the label names an expression matches on or groups by."""
    return _strip(expr)[1]


def operands(expr: str) -> list[str]:
    """Split an expression at its top-level set and comparison operators, dropping bare numbers."""
    parts, depth, start, i = [], 0, 0, 0
    text = expr.strip()
    while i < len(text):
        c = text[i]
        if c in "\"'":
            j = i + 1
            while j < len(text) and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            i = j + 1
            continue
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        elif depth == 0:
            word = re.match(r"(and|or|unless)\b", text[i:])
            if word and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] in "_:")):
                parts.append(text[start:i])
                i += len(word.group())
                start = i
                continue
            op = next((o for o in _COMPARISON if text.startswith(o, i)), None)
            if op and not text.startswith("=~", i) and not text.startswith("!~", i):
                parts.append(text[start:i])
                i += len(op)
                if text[i:].lstrip().startswith("bool"):
                    i = text.index("bool", i) + 4
                start = i
                continue
        i += 1
    parts.append(text[start:])
    result = []
    for p in (p.strip() for p in parts):
        if p and not re.fullmatch(r"[0-9.eE+-]+", p):
            result.append(p)
    return result


def load_rules(path: Path = RULES_FILE) -> list[dict[str, Any]]:
    doc = yaml.safe_load(path.read_text())
    return [r for g in doc["groups"] for r in g["rules"]]


def load_dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD_FILE.read_text())


def dashboard_targets(dashboard: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """Yield (panel title, PromQL) of every Prometheus query of the dashboard."""

    def walk(panels: list[dict[str, Any]]) -> Iterator[tuple[str, str]]:
        for panel in panels:
            yield from walk(panel.get("panels", []))
            for target in panel.get("targets", []):
                source = target.get("datasource") or panel.get("datasource") or {}
                if source.get("type") == "prometheus" and target.get("expr"):
                    yield panel["title"], target["expr"]

    yield from walk(dashboard["panels"])


def variable_queries(dashboard: dict[str, Any]) -> dict[str, str]:
    """Return each template variable's query, e.g. ``label_values(metric, label)``."""
    out = {}
    for var in dashboard["templating"]["list"]:
        query = var.get("query")
        out[var["name"]] = query["query"] if isinstance(query, dict) else query
    return out


def render(expr: str, variables: dict[str, str], rate_interval: str = "1m", time_range: str = "5m") -> str:
    """Substitute Grafana's variables the way Grafana would before sending the query."""
    expr = expr.replace("$__rate_interval", rate_interval).replace("$__range", time_range)
    for name, value in variables.items():
        expr = expr.replace("${" + name + "}", value).replace("$" + name, value)
    return expr
