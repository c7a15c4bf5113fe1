"""Counters are added up in the process and read by the SDK at collection time: the exported metrics
keep their names, units, descriptions, labels and monotonicity, and are right in cumulative and in
delta temporality, whatever the number of threads adding."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from opentelemetry.sdk.metrics import (
    Counter,
    Histogram,
    MeterProvider,
    ObservableCounter,
    ObservableGauge,
    ObservableUpDownCounter,
    UpDownCounter,
)
from opentelemetry.sdk.metrics.export import AggregationTemporality, InMemoryMetricReader, Sum

from opentelemetry.instrumentation.openai_assistants import semconv as sc
from opentelemetry.instrumentation.openai_assistants.metrics import Instruments

DELTA = {kind: AggregationTemporality.DELTA for kind in (Counter, UpDownCounter, Histogram, ObservableCounter,
                                                         ObservableUpDownCounter, ObservableGauge)}

# what dashboards and alert rules read: name -> (unit, monotonic); descriptions are checked to be unchanged below
COUNTERS = {
    sc.METRIC_COST: ("USD", True), sc.METRIC_SESSIONS: ("{session}", True), sc.METRIC_RUNS: ("{run}", True),
    sc.METRIC_TOOL_CALLS: ("{call}", True), sc.METRIC_USAGE_STEPS: ("{inference}", True),
    sc.METRIC_UNPRICED_TOKENS: ("{token}", True), sc.METRIC_UNPRICED_RUNS: ("{run}", True),
    sc.METRIC_FETCHES: ("{request}", True), sc.METRIC_CONTAINERS: ("{container}", True),
    sc.METRIC_CONTAINERS_LIVE: ("{container}", False), sc.METRIC_AUTO_CONTAINERS_WITHOUT_CALL: ("{response}", True),
    sc.METRIC_SESSION_EVICTIONS: ("{thread}", True),
}


def _collect(reader: InMemoryMetricReader) -> dict[str, Any]:
    data = reader.get_metrics_data()
    return {m.name: m for r in (data.resource_metrics if data else ()) for s in r.scope_metrics for m in s.metrics}


def _points(metric: Any) -> dict[frozenset[Any], float]:
    return {frozenset(p.attributes.items()): p.value for p in metric.data.data_points}


def _instruments(temporality: Any = None) -> tuple[Instruments, InMemoryMetricReader]:
    reader = InMemoryMetricReader(preferred_temporality=temporality) if temporality else InMemoryMetricReader()
    return Instruments(MeterProvider(metric_readers=[reader]).get_meter("test")), reader


def test_every_counter_keeps_its_name_unit_and_monotonicity() -> None:
    instruments, reader = _instruments()
    for name in COUNTERS:
        sums = next(v for v in vars(instruments).values() if getattr(v, "name", None) == name)
        sums.add(1, {"k": "v"})
    metrics = _collect(reader)
    for name, (unit, monotonic) in COUNTERS.items():
        metric = metrics[name]
        assert isinstance(metric.data, Sum)
        assert (metric.unit, metric.data.is_monotonic) == (unit, monotonic)
        assert metric.data.aggregation_temporality == AggregationTemporality.CUMULATIVE
        assert metric.description
    assert "Spend by cost kind" in metrics[sc.METRIC_COST].description


def test_cumulative_totals_grow_and_label_order_does_not_matter() -> None:
    instruments, reader = _instruments()
    instruments.cost.add(0.25, {"a": "1", "b": "2"})
    instruments.cost.add(0.5, {"b": "2", "a": "1"})
    instruments.cost.add(1.0, {"a": "other"})
    instruments.runs.add(-1, {"s": "x"})  # a counter ignores negative amounts, as the SDK's does
    first = _collect(reader)
    assert _points(first[sc.METRIC_COST]) == {frozenset({("a", "1"), ("b", "2")}): 0.75,
                                              frozenset({("a", "other")}): 1.0}
    assert sc.METRIC_RUNS not in first or not _points(first[sc.METRIC_RUNS])
    instruments.cost.add(0.25, {"a": "1", "b": "2"})
    assert _points(_collect(reader)[sc.METRIC_COST])[frozenset({("a", "1"), ("b", "2")})] == 1.0


def test_delta_temporality_exports_what_was_added_since_the_last_collection() -> None:
    instruments, reader = _instruments(DELTA)
    instruments.tool_calls.add(3, {"t": "f"})
    instruments.containers_live.add(2, {"tier": "1g"})
    first = _collect(reader)
    assert first[sc.METRIC_TOOL_CALLS].data.aggregation_temporality == AggregationTemporality.DELTA
    assert _points(first[sc.METRIC_TOOL_CALLS]) == {frozenset({("t", "f")}): 3}
    instruments.tool_calls.add(4, {"t": "f"})
    instruments.containers_live.add(-1, {"tier": "1g"})
    second = _collect(reader)
    assert _points(second[sc.METRIC_TOOL_CALLS]) == {frozenset({("t", "f")}): 4}
    assert _points(second[sc.METRIC_CONTAINERS_LIVE]) == {frozenset({("tier", "1g")}): -1}
    third = _collect(reader)  # nothing added: nothing more counted
    assert sum(_points(third[sc.METRIC_TOOL_CALLS]).values()) == 0


@pytest.mark.parametrize("temporality", [None, DELTA], ids=["cumulative", "delta"])
def test_money_added_from_many_threads_is_exported_whole(temporality: Any) -> None:
    instruments, reader = _instruments(temporality)
    exported = 0.0

    def spend() -> None:
        for i in range(2000):
            instruments.cost.add(0.5, {"kind": "input" if i % 2 else "output"})

    workers = [threading.Thread(target=spend) for _ in range(4)]
    for worker in workers:
        worker.start()
    while any(w.is_alive() for w in workers):  # collections while the threads add
        metric = _collect(reader).get(sc.METRIC_COST)  # each collection is one delta: read it once
        if temporality and metric is not None:
            exported += sum(_points(metric).values())
    for worker in workers:
        worker.join()
    last = sum(_points(_collect(reader)[sc.METRIC_COST]).values())
    assert (exported + last if temporality else last) == 4 * 2000 * 0.5


def test_instruments_made_again_on_the_same_meter_keep_counting() -> None:
    reader = InMemoryMetricReader()
    meter = MeterProvider(metric_readers=[reader]).get_meter("test")
    Instruments(meter).runs.add(2, {"status": "completed"})
    Instruments(meter).runs.add(1, {"status": "completed"})  # uninstrument() + instrument()
    assert _points(_collect(reader)[sc.METRIC_RUNS]) == {frozenset({("status", "completed")}): 3}
