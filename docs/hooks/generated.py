"""MkDocs hook: the reference tables, generated at build time from the code's own definitions.

A page says ``<!-- generated: NAME -->`` on a line of its own and gets the table NAME:

- ``options``: every field of ``config.Settings`` (environment spelling, type, bounds, default, meaning:
  the field's ``doc`` metadata, else ``options.yml``, else the code's comment);
- ``span-attributes`` / ``metric-labels``: the names of the ``semconv`` module, described by
  ``attributes.yml`` where it has words for them, else by the code's own comment;
- ``metrics`` / ``billing-metrics``: the instruments as ``metrics.Instruments`` and the billing exporter
  create them (name, kind, unit, description, Prometheus name), labels from ``metric_labels.yml``.

A description naming an attribute or metric the code no longer has fails the build, so the tables
cannot drift from the code.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import re
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from mkdocs.exceptions import PluginError

HERE = Path(__file__).resolve().parent
MARKER = re.compile(r"^<!-- generated: ([\w-]+) -->$", re.M)


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


# --- options ---------------------------------------------------------------------------------------


def _field_comments(cls: type) -> dict[str, str]:
    """The comment after each field in the class's source: the code's own words, where it has no ``doc``."""
    comments: dict[str, str] = {}
    for line in inspect.getsource(cls).splitlines():
        match = re.match(r"\s+(\w+): [^#]+#\s*(.+)$", line)
        if match:
            comments[match.group(1)] = match.group(2).strip()
    return comments


def _default(f: dataclasses.Field[Any]) -> str:
    if f.default is not dataclasses.MISSING:
        value = f.default
    elif f.default_factory is not dataclasses.MISSING:
        value = f.default_factory()
    else:
        return "required"
    if value is None or value in ((), {}):
        return "none"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int) and value >= 1 << 20 and value % (1 << 20) == 0:
        return f"{value >> 20} MiB"
    return f"`{value!r}`"


def _type(f: dataclasses.Field[Any], hints: dict[str, Any]) -> str:
    hint = hints.get(f.name, f.type)
    text = hint if isinstance(hint, str) else getattr(hint, "__name__", None) or str(hint)
    text = str(text).replace("typing.", "")
    if text == "Any":
        return "object"
    return f"`{text}`"


def _bounds(f: dataclasses.Field[Any]) -> str:
    low, high = f.metadata.get("min"), f.metadata.get("max")
    if low is None and high is None:
        return ""
    if high is None:
        return f"≥ {low}"
    if low is None:
        return f"≤ {high}"
    return f"{low} … {high}"


def options_table() -> str:
    from opentelemetry.instrumentation.openai_assistants import config

    settings = config.Settings
    comments = _field_comments(settings)
    words: dict[str, str] = yaml.safe_load((HERE / "options.yml").read_text())
    _check_known(list(words), {f.name for f in dataclasses.fields(settings)}, "options.yml")
    try:
        hints = typing.get_type_hints(settings)
    except Exception:
        hints = {}
    rows = [[f"`{config.ENV_CAPTURE_CONTENT}`", "(environment only)", "`true`/`false` or `NO_CONTENT`, "
             "`SPAN_ONLY`, `EVENT_ONLY`, `SPAN_AND_EVENT`", "", "off",
             "puts instructions, messages, tool arguments and results on spans (`true`, `SPAN_ONLY`, "
             "`SPAN_AND_EVENT`); no log events are emitted"]]
    for f in dataclasses.fields(settings):
        if f.name == "capture_content":
            continue
        meaning = f.metadata.get("doc") or words.get(f.name) or comments.get(f.name, "")
        rows.append([f"`{f.name}`", f"`{config.ENV_PREFIX}{f.name.upper()}`", _type(f, hints), _bounds(f),
                     _default(f), meaning])
    return _table(["option (`instrument(...)`)", "environment", "type", "bounds", "default", "meaning"], rows)


# --- attributes ------------------------------------------------------------------------------------


@dataclasses.dataclass
class Name:
    constant: str
    value: str
    section: str
    comment: str


def semconv_names() -> list[Name]:
    """Every string constant of ``semconv`` with its section heading and trailing comment."""
    from opentelemetry.instrumentation.openai_assistants import semconv

    source = inspect.getsource(semconv)
    lines = source.splitlines()
    section = ""
    headings = {i + 1: m.group(1) for i, line in enumerate(lines)
                if (m := re.match(r"# --- (.+?) -+$", line))}
    names: list[Name] = []
    seen: set[str] = set()
    for node in ast.parse(source).body:
        for line_no in sorted(h for h in headings if h <= node.lineno):
            section = headings[line_no]
        if not (isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
                and isinstance(node.value.value, str) and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)):
            continue
        constant, value = node.targets[0].id, node.value.value
        comment = lines[node.lineno - 1].partition("  # ")[2].strip()
        if value in seen:
            continue
        seen.add(value)
        names.append(Name(constant, value, section, comment))
    return names


_NAME = re.compile(r"^[a-z_]+(\.[a-z_]+)+$")


def _is_name(name: Name) -> bool:
    """An attribute or label name (not a value such as a provider or the conventions' version)."""
    return bool(_NAME.match(name.value)) and not name.constant.startswith(("METRIC_", "PROVIDER_"))


def _is_span_attribute(name: Name) -> bool:
    return _is_name(name) and "Metrics" not in name.section


def _is_metric_label(name: Name) -> bool:
    return _is_name(name) and "Metrics" in name.section


def _described(kind: str) -> list[dict[str, Any]]:
    return list(yaml.safe_load((HERE / "attributes.yml").read_text())[kind])


def _check_known(names: list[str], known: set[str], where: str) -> None:
    unknown = [n for n in names if "<" not in n and n not in known]
    if unknown:
        raise PluginError(f"{where} describes names the code does not define: {', '.join(unknown)}")


def _attribute_table(kind: str, select: Callable[[Name], bool]) -> str:
    names = [n for n in semconv_names() if select(n)]
    known = {n.value for n in names}
    groups = _described(kind)
    described: set[str] = set()
    rows = []
    for group in groups:
        _check_known(group["names"], known | {n.value for n in semconv_names()}, f"attributes.yml ({kind})")
        described.update(group["names"])
        rows.append([", ".join(f"`{n}`" for n in group["names"]), group.get("on", ""), group["meaning"]])
    header = ["attribute" if kind == "span" else "label", "on" if kind == "span" else "on metrics", "meaning"]
    table = _table(header, rows)
    rest = [[f"`{n.value}`", n.section, n.comment or "(see the code: `semconv." + n.constant + "`)"]
            for n in names if n.value not in described]
    if rest:
        table += "\n\nAlso defined, without words of their own here yet (the code's comment):\n\n"
        table += _table(["name", "section of `semconv`", "comment"], rest)
    return table


# --- metrics ---------------------------------------------------------------------------------------


class _RecordingMeter:
    """Stands in for a Meter: records each instrument the code creates."""

    def __init__(self) -> None:
        self.created: list[dict[str, Any]] = []

    def __getattr__(self, method: str) -> Callable[..., None]:
        if not method.startswith("create_"):
            raise AttributeError(method)
        kind = method.removeprefix("create_").replace("_", " ")

        def create(name: str, *args: Any, unit: str = "", description: str = "", **_: Any) -> None:
            self.created.append({"name": name, "kind": kind, "unit": unit, "description": description})

        return create


def prometheus_name(name: str, kind: str, unit: str) -> str:
    """The name after the default OTLP to Prometheus translation (the Collector's and the Python exporter's)."""
    base = re.sub(r"[^a-zA-Z0-9_]", "_", name)
    suffix = {"s": "seconds", "1": "", "": ""}.get(unit, "" if unit.startswith("{") else unit)
    if suffix and not base.endswith("_" + suffix):
        base += "_" + suffix
    if kind in ("counter", "observable counter"):
        return f"`{base}_total`"
    if kind == "histogram":
        return f"`{base}_bucket`, `_sum`, `_count`"
    return f"`{base}`"


def _instruments(build: Callable[[Any], Any]) -> list[dict[str, Any]]:
    meter = _RecordingMeter()
    build(meter)
    return meter.created


def metrics_table(which: str) -> str:
    if which == "metrics":
        from opentelemetry.instrumentation.openai_assistants.metrics import Instruments

        created = _instruments(Instruments)
    else:
        from opentelemetry.instrumentation.openai_assistants.billing.metrics import BillingInstruments

        created = _instruments(lambda meter: BillingInstruments(meter, None))  # type: ignore[arg-type]
    labels: dict[str, str] = yaml.safe_load((HERE / "metric_labels.yml").read_text())
    _check_known(list(labels), {m["name"] for m in _instruments(_all_meters)}, "metric_labels.yml")
    rows = [[f"`{m['name']}`", f"{m['kind']}, `{m['unit'] or '1'}`", labels.get(m["name"], ""), m["description"],
             prometheus_name(m["name"], m["kind"], m["unit"])] for m in created]
    return _table(["metric", "kind, unit", "labels", "description", "Prometheus name"], rows)


def _all_meters(meter: Any) -> None:
    from opentelemetry.instrumentation.openai_assistants.billing.metrics import BillingInstruments
    from opentelemetry.instrumentation.openai_assistants.metrics import Instruments

    Instruments(meter)
    BillingInstruments(meter, None)  # type: ignore[arg-type]


# --- the hook --------------------------------------------------------------------------------------

TABLES: dict[str, Callable[[], str]] = {
    "options": options_table,
    "span-attributes": lambda: _attribute_table("span", _is_span_attribute),
    "metric-labels": lambda: _attribute_table("labels", _is_metric_label),
    "metrics": lambda: metrics_table("metrics"),
    "billing-metrics": lambda: metrics_table("billing"),
}


def on_page_markdown(markdown: str, page: Any, **_: Any) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in TABLES:
            raise PluginError(f"{page.file.src_path}: no generated table named {name!r}")
        return TABLES[name]()

    return MARKER.sub(replace, markdown)
