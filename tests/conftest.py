"""Shared fixtures: the OpenTelemetry SDK with in-memory exporter and reader, the instrumentor, and a
driver that runs one test body against the sync or the async client."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Iterator

import openai
import pytest
import sdk
from driver import Driver
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from opentelemetry.instrumentation.openai_assistants import AssistantsInstrumentor
from scripts import tiktoken_cache

pytest_plugins = ["redis_server"]  # the fake API's fixtures come from its installed pytest11 entry point



def pytest_configure(config: pytest.Config) -> None:
    """Point tiktoken at a filled cache before anything counts tokens, or stop saying how to get one."""
    found, looked = tiktoken_cache.resolve()
    if found is None:
        pytest.exit(tiktoken_cache.advice(looked), returncode=4)
    os.environ["TIKTOKEN_CACHE_DIR"] = found
    config.addinivalue_line("markers", "openai_min(version, reason): needs an openai SDK of at least version; "
                                       "deselected on an older one, with the reason in the summary")
    config.addinivalue_line("markers", "openai_below(version, reason): needs an openai SDK older than version")
    config.addinivalue_line("markers", "needs_package(distribution): deselected, saying so, where it is not installed")


_DESELECTED: dict[str, list[str]] = {}


def _why_not(item: pytest.Item) -> str | None:
    """Why this SDK or environment cannot run the test (``None``: it can)."""
    low = item.get_closest_marker("openai_min")
    if low is not None and sdk.older_than(low.args[0]):
        return f"needs openai >= {low.args[0]}: {low.args[1]}"
    high = item.get_closest_marker("openai_below")
    if high is not None and not sdk.older_than(high.args[0]):
        return f"needs openai < {high.args[0]}: {high.args[1]}"
    for marker in item.iter_markers("needs_package"):
        if not sdk.installed(marker.args[0]):
            return f"{marker.args[0]} is not installed (an optional extra of pyproject brings it)"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect what the installed SDK lacks, saying why in the summary."""
    kept, dropped = [], []
    for item in items:
        reason = _why_not(item)
        if reason is not None:
            _DESELECTED.setdefault(reason, []).append(item.nodeid)
            dropped.append(item)
            continue
        kept.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _DESELECTED:
        return
    terminalreporter.section(f"deselected on openai {openai.__version__}")
    for reason, nodeids in _DESELECTED.items():
        terminalreporter.write_line(f"{len(nodeids)} test(s): {reason}")


@dataclass
class Otel:
    exporter: InMemorySpanExporter
    reader: InMemoryMetricReader
    tracer_provider: TracerProvider
    meter_provider: MeterProvider
    instrumentor: AssistantsInstrumentor

    def instrument(self, **options: Any) -> AssistantsInstrumentor:
        self.instrumentor.instrument(tracer_provider=self.tracer_provider, meter_provider=self.meter_provider,
                                     **options)
        return self.instrumentor

    def spans(self) -> list[ReadableSpan]:
        """Finished spans, after the instrumentor's background work is done."""
        assert self.instrumentor.force_flush(10_000)
        return list(self.exporter.get_finished_spans())

    def metrics(self) -> dict[str, list[Any]]:
        """Data points by metric name."""
        self.instrumentor.force_flush(10_000)
        data = self.reader.get_metrics_data()
        points: dict[str, list[Any]] = {}
        for resource in data.resource_metrics if data else ():
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    points.setdefault(metric.name, []).extend(metric.data.data_points)
        return points


@pytest.fixture
def otel() -> Iterator[Otel]:
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    instrumentor = AssistantsInstrumentor()
    yield Otel(exporter, reader, tracer_provider, meter_provider, instrumentor)
    if instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.uninstrument()
    instrumentor._ended_runs = instrumentor._ended_responses = None  # a singleton: each test is a new process
    instrumentor._sessions = None


@pytest.fixture
def instrumented(otel: Otel) -> Otel:
    otel.instrument()
    return otel


@pytest.fixture(params=["sync", "async"])
def api(request: pytest.FixtureRequest, fake_api: Any) -> Iterator[Driver]:
    driver = Driver(request.param, fake_api.base_url)
    yield driver
    driver.close()
