"""The metrics the instrumentation emits, and the names they get in Prometheus.

The metric names come from ``semconv``; units, kinds and labels follow the metric table of the
project plan (``semconv`` holds names only). ``prometheus_name`` reproduces the OpenTelemetry
Collector's default OTLP -> Prometheus translation (``UnderscoreEscapingWithSuffixes``, the
``prometheus`` exporter with ``add_metric_suffixes`` left at its default), so the dashboard and the
rules can be checked against the names that really arrive in the docker stack.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

try:
    from opentelemetry.instrumentation.openai_assistants import semconv as sc
except ImportError:  # run from a checkout without the package installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))
    from opentelemetry.instrumentation.openai_assistants import semconv as sc

COUNTER = "counter"  # monotonic sum
UPDOWN_COUNTER = "updowncounter"  # non-monotonic sum: exported as a gauge
GAUGE = "gauge"
HISTOGRAM = "histogram"

_UNIT_MAP = {
    "d": "days",
    "h": "hours",
    "min": "minutes",
    "s": "seconds",
    "ms": "milliseconds",
    "us": "microseconds",
    "ns": "nanoseconds",
    "By": "bytes",
    "KiBy": "kibibytes",
    "MiBy": "mebibytes",
    "GiBy": "gibibytes",
    "TiBy": "tibibytes",
    "KBy": "kilobytes",
    "MBy": "megabytes",
    "GBy": "gigabytes",
    "TBy": "terabytes",
    "m": "meters",
    "V": "volts",
    "A": "amperes",
    "J": "joules",
    "W": "watts",
    "g": "grams",
    "Cel": "celsius",
    "Hz": "hertz",
    "1": "",
    "%": "percent",
}
_PER_UNIT_MAP = {
    "s": "second",
    "m": "minute",
    "h": "hour",
    "d": "day",
    "w": "week",
    "mo": "month",
    "y": "year",
}
_INVALID = re.compile(r"[^a-zA-Z0-9:]")


def _clean_unit(unit: str) -> str:
    return re.sub(r"__+", "_", _INVALID.sub("_", unit)).lstrip("_")


def prometheus_name(otel_name: str, unit: str, kind: str) -> str:
    """Return the Prometheus metric family name the Collector gives an OTel metric by default.

    Rules (Collector ``prometheus`` exporter, default ``UnderscoreEscapingWithSuffixes``):
    the name is split on every character outside ``[a-zA-Z0-9:]`` and rejoined with ``_`` (so
    runs of ``_`` collapse); the unit is split at ``/``; a main unit without braces is mapped
    (``s`` -> ``seconds``, ``1`` -> nothing, unknown units such as ``USD`` are kept as written) and
    appended unless the name already holds it as a token; ``{token}``-style annotations add
    nothing; a per-unit becomes ``per_<unit>``; monotonic counters end in ``_total``; gauges of
    unit ``1`` end in ``_ratio``; a leading digit gets a ``_`` prefix. For a histogram this is the
    family name: the series are ``<name>_bucket``, ``<name>_sum`` and ``<name>_count`` (see
    ``series_names``).
    """
    tokens = [t for t in _INVALID.split(otel_name) if t]
    parts = unit.split("/", 1)
    main = parts[0].strip()
    main_suffix = _UNIT_MAP.get(main, main) if main and not any(c in main for c in "{}") else ""
    per_suffix = ""
    if len(parts) > 1 and parts[1].strip() and not any(c in parts[1] for c in "{}"):
        per = parts[1].strip()
        per_suffix = "per_" + _PER_UNIT_MAP.get(per, per)
    main_suffix, per_suffix = _clean_unit(main_suffix), _clean_unit(per_suffix)
    if main_suffix in tokens:
        main_suffix = ""
    per_suffix = "" if per_suffix == "per_" else per_suffix.rstrip("_")
    if per_suffix in tokens:
        per_suffix = ""
    if per_suffix:
        main_suffix = main_suffix.rstrip("_")
    tokens += [s for s in (main_suffix, per_suffix) if s]
    if kind == COUNTER:
        tokens = [t for t in tokens if t != "total"] + ["total"]
    if unit == "1" and kind in (GAUGE, UPDOWN_COUNTER):
        tokens = [t for t in tokens if t != "ratio"] + ["ratio"]
    name = "_".join(tokens)
    return "_" + name if name[:1].isdigit() else name


def prometheus_label(attribute: str) -> str:
    """Return the Prometheus label name of an attribute: invalid characters become ``_``."""
    label = re.sub(r"[^a-zA-Z0-9_]", "_", attribute)
    return "key" + label if label[:1].isdigit() else label


def series_names(otel_name: str, unit: str, kind: str) -> set[str]:
    """Return every series name a metric produces in Prometheus."""
    base = prometheus_name(otel_name, unit, kind)
    if kind == HISTOGRAM:
        return {base + "_bucket", base + "_sum", base + "_count"}
    return {base}


@dataclass(frozen=True)
class MetricSpec:
    """One row of the metric table."""

    name: str
    kind: str
    unit: str
    attributes: tuple[str, ...]

    @property
    def prometheus(self) -> str:
        return prometheus_name(self.name, self.unit, self.kind)

    @property
    def series(self) -> set[str]:
        return series_names(self.name, self.unit, self.kind)

    @property
    def labels(self) -> set[str]:
        extra = {"le"} if self.kind == HISTOGRAM else set()
        return {prometheus_label(a) for a in self.attributes} | extra


_MODEL_AGENT_PROVIDER = (sc.GEN_AI_REQUEST_MODEL, sc.GEN_AI_AGENT_NAME, sc.GEN_AI_PROVIDER_NAME, sc.OPENAI_API_TYPE)
_MODEL_API = (sc.GEN_AI_REQUEST_MODEL, sc.OPENAI_API_TYPE)
_SERVER = (sc.SERVER_ADDRESS, sc.SERVER_PORT)  # listed by the GenAI conventions on gen_ai.client.* metrics

METRICS: tuple[MetricSpec, ...] = (
    MetricSpec(
        sc.METRIC_TOKEN_USAGE,
        HISTOGRAM,
        "{token}",
        (sc.GEN_AI_OPERATION_NAME, sc.GEN_AI_TOKEN_TYPE, sc.USAGE_SOURCE, *_MODEL_AGENT_PROVIDER, *_SERVER),
    ),
    MetricSpec(
        sc.METRIC_OPERATION_DURATION,
        HISTOGRAM,
        "s",
        (sc.GEN_AI_OPERATION_NAME, sc.ERROR_TYPE, *_MODEL_AGENT_PROVIDER, *_SERVER),
    ),
    MetricSpec(
        sc.METRIC_COST, COUNTER, "USD", (sc.COST_KIND, *_MODEL_AGENT_PROVIDER, sc.CONTAINER_TIER, sc.CONTAINER_RULE)
    ),
    MetricSpec(sc.METRIC_RUN_COST, HISTOGRAM, "USD", _MODEL_AGENT_PROVIDER),
    MetricSpec(sc.METRIC_SESSIONS, COUNTER, "{session}", _MODEL_AGENT_PROVIDER[1:]),
    MetricSpec(sc.METRIC_RUNS, COUNTER, "{run}", (sc.STATUS, *_MODEL_AGENT_PROVIDER)),
    MetricSpec(
        sc.METRIC_TOOL_CALLS,
        COUNTER,
        "{call}",
        (sc.GEN_AI_TOOL_TYPE, sc.GEN_AI_TOOL_NAME, sc.GEN_AI_AGENT_NAME, sc.OPENAI_API_TYPE),
    ),
    MetricSpec(sc.METRIC_USAGE_STEPS, COUNTER, "{inference}", (sc.USAGE_SOURCE, *_MODEL_API)),
    MetricSpec(sc.METRIC_ESTIMATE_ERROR, HISTOGRAM, "1", (sc.GEN_AI_TOKEN_TYPE, *_MODEL_API)),
    MetricSpec(
        sc.METRIC_UNPRICED_TOKENS, COUNTER, "{token}", (sc.GEN_AI_TOKEN_TYPE, *_MODEL_API)
    ),
    MetricSpec(sc.METRIC_UNPRICED_RUNS, COUNTER, "{run}", _MODEL_API),
    MetricSpec(sc.METRIC_FETCHES, COUNTER, "{request}", (sc.FETCH_KIND, sc.FETCH_OUTCOME)),
    MetricSpec(
        sc.METRIC_CONTAINERS,
        COUNTER,
        "{container}",
        (sc.CONTAINER_TIER, sc.CONTAINER_RULE, sc.CONTAINER_LIFE, *_MODEL_AGENT_PROVIDER),
    ),
    MetricSpec(
        sc.METRIC_CONTAINERS_LIVE, UPDOWN_COUNTER, "{container}",
        (sc.CONTAINER_TIER, sc.GEN_AI_PROVIDER_NAME, sc.OPENAI_API_TYPE)
    ),
    MetricSpec(sc.METRIC_AUTO_CONTAINERS_WITHOUT_CALL, COUNTER, "{response}", _MODEL_AGENT_PROVIDER),
)

SPECS = {m.name: m for m in METRICS}

#: The billing exporter's metrics (a separate process): billed figures per UTC day.
BILLING_METRICS: tuple[MetricSpec, ...] = (
    MetricSpec(sc.METRIC_BILLED_SPEND, GAUGE, "USD",
               (sc.COST_KIND, sc.BILLING_LINE_ITEM, sc.PROJECT, sc.BILLING_DAY)),
    MetricSpec(sc.METRIC_BILLED_TOKENS, GAUGE, "{token}",
               (sc.GEN_AI_REQUEST_MODEL, sc.GEN_AI_TOKEN_TYPE, sc.PROJECT, sc.BILLING_DAY)),
    MetricSpec(sc.METRIC_BILLED_QUANTITY, GAUGE, "{item}", (sc.BILLING_USAGE, sc.PROJECT, sc.BILLING_DAY)),
    MetricSpec(sc.METRIC_BILLED_DAY, GAUGE, "s", (sc.BILLING_DAY,)),
    MetricSpec(sc.METRIC_BILLING_READS, COUNTER, "{request}", (sc.BILLING_ENDPOINT, sc.BILLING_OUTCOME)),
)


def billing_series() -> set[str]:
    """Every Prometheus series name the billing exporter produces."""
    return set().union(*(m.series for m in BILLING_METRICS))


def emitted_series() -> set[str]:
    """Every Prometheus series name the instrumentation can produce."""
    return set().union(*(m.series for m in METRICS))


def emitted_labels() -> set[str]:
    """Every Prometheus label name of our metrics and the billing exporter's (metadata labels excepted)."""
    return set().union(*(m.labels for m in (*METRICS, *BILLING_METRICS))) | {prometheus_label(sc.PROJECT)}
