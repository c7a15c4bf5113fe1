"""The OpenTelemetry SDK's floor: what its spans and measurements alone cost for one finished run.

A run's telemetry is written by the SDK's ``start_span``/``end`` and instrument ``add``/``record``
calls; those calls are the part of our background work no code of ours can remove without emitting
less. This module captures what one run emits (its spans, with their attributes, and its metric
measurements) and replays exactly that through a fresh SDK pipeline of the same shape (a simple span
processor, an in-memory metric reader), twice: warm, back to back on one thread, and as our
background work runs, once per run on a worker thread woken for it (cold caches: on the machines
measured, the same calls cost two to three times more). Python function calls are counted too:
unlike seconds, they do not move with the machine's load.
"""

from __future__ import annotations

import cProfile
import pstats
import queue
import statistics
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

Measurement = tuple[str, str, float, dict[str, Any]]  # instrument name, method, value, attributes


class _Recorded:
    """An instrument that logs each measurement, then hands it to the real one."""

    def __init__(self, real: Any, log: list[Measurement]) -> None:
        self._real, self._log = real, log

    def add(self, amount: float, attributes: Any = None, *args: Any, **kwargs: Any) -> None:
        self._log.append((self._real.name, "add", amount, dict(attributes or {})))
        self._real.add(amount, attributes, *args, **kwargs)

    def record(self, amount: float, attributes: Any = None, *args: Any, **kwargs: Any) -> None:
        self._log.append((self._real.name, "record", amount, dict(attributes or {})))
        self._real.record(amount, attributes, *args, **kwargs)


class _RecordingMeter:
    def __init__(self, real: Any, log: list[Measurement]) -> None:
        self._real, self._log = real, log

    def __getattr__(self, name: str) -> Any:
        create = getattr(self._real, name)
        if not name.startswith("create_") or "observable" in name:
            return create
        return lambda *args, **kwargs: _Recorded(create(*args, **kwargs), self._log)


class RecordingMeterProvider:
    """A meter provider whose synchronous instruments log every measurement."""

    def __init__(self, real: MeterProvider) -> None:
        self.real = real
        self.log: list[Measurement] = []

    def get_meter(self, *args: Any, **kwargs: Any) -> Any:
        return _RecordingMeter(self.real.get_meter(*args, **kwargs), self.log)


class KeepingExporter(SpanExporter):
    def __init__(self) -> None:
        self.spans: list[ReadableSpan] = []

    def export(self, spans: Any) -> SpanExportResult:
        self.spans.extend(spans)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        pass


@dataclass
class Emitted:
    """What one finished run emits, on average over the captured runs."""

    runs: int
    spans: list[ReadableSpan] = field(default_factory=list)
    measurements: list[Measurement] = field(default_factory=list)

    def one_run(self) -> tuple[list[ReadableSpan], list[Measurement]]:
        return (self.spans[: round(len(self.spans) / self.runs)],
                self.measurements[: round(len(self.measurements) / self.runs)])


def replayer(emitted: Emitted) -> Callable[[], None]:
    """One run's spans and measurements, written again straight through a fresh SDK pipeline."""
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(KeepingExporter()))
    tracer = tracer_provider.get_tracer("floor")
    meter = MeterProvider(metric_readers=[InMemoryMetricReader()]).get_meter("floor")
    spans, measurements = emitted.one_run()
    instruments: dict[str, Any] = {}
    for name, method, _, _ in measurements:
        if name not in instruments:
            instruments[name] = (meter.create_counter if method == "add" else meter.create_histogram)(name)
    calls = [(getattr(instruments[name], method), value, attrs) for name, method, value, attrs in measurements]
    span_args = [(s.name, s.kind, s.start_time, dict(s.attributes or {}), list(s.links), s.end_time) for s in spans]

    def replay() -> None:
        for name, kind, start, attrs, links, end in span_args:
            tracer.start_span(name, kind=kind, start_time=start, attributes=attrs, links=links).end(end)
        for write, value, attrs in calls:
            write(value, attrs)

    return replay


def floor_us(emitted: Emitted, blocks: int = 7, per_block: int = 300) -> float:
    """The SDK's CPU per run for the same telemetry, warm: median over blocks."""
    replay = replayer(emitted)
    for _ in range(per_block):
        replay()
    samples = []
    for _ in range(blocks):
        start = time.thread_time()
        for _ in range(per_block):
            replay()
        samples.append((time.thread_time() - start) / per_block * 1e6)
    return statistics.median(samples)


def floor_calls(emitted: Emitted, runs: int = 50) -> float:
    """Python function calls the SDK makes per run for the same telemetry."""
    replay = replayer(emitted)
    profile = cProfile.Profile()
    profile.enable()
    for _ in range(runs):
        replay()
    profile.disable()
    return pstats.Stats(profile).total_calls / runs  # type: ignore[attr-defined]


def woken_floor_us(emitted: Emitted, jobs: int = 60, gap_s: float = 0.01) -> float:
    """The SDK's CPU per run for the same telemetry written as a worker thread woken once per run does."""
    replay = replayer(emitted)
    work: queue.SimpleQueue[bool] = queue.SimpleQueue()
    samples: list[float] = []

    def worker() -> None:
        while work.get():
            start = time.thread_time()
            replay()
            samples.append((time.thread_time() - start) * 1e6)

    thread = threading.Thread(target=worker, daemon=True)
    thread.start()
    for _ in range(jobs):
        work.put(True)
        time.sleep(gap_s)
    work.put(False)
    thread.join()
    return statistics.median(samples[len(samples) // 6:])
