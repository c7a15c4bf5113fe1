"""Shared fixtures: the OpenTelemetry SDK with in-memory exporter and reader, the instrumentor, and a
driver that runs one test body against the sync or the async client."""

from __future__ import annotations

import asyncio
import inspect
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import openai
import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from opentelemetry.instrumentation.openai_assistants import AssistantsInstrumentor

pytest_plugins = ["fakeapi.pytest_plugin"]

_TIKTOKEN_CACHE = Path(__file__).resolve().parents[2] / "shared" / "tiktoken-cache"
if "TIKTOKEN_CACHE_DIR" not in os.environ and _TIKTOKEN_CACHE.is_dir():
    os.environ["TIKTOKEN_CACHE_DIR"] = str(_TIKTOKEN_CACHE)


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


@pytest.fixture
def instrumented(otel: Otel) -> Otel:
    otel.instrument()
    return otel


class Driver:
    """Runs SDK calls on a sync or an async client, so one test body covers both."""

    def __init__(self, kind: str, base_url: str) -> None:
        self.kind = kind
        self.base_url = base_url
        self.loop = asyncio.new_event_loop() if kind == "async" else None
        self.client = self.new_client()

    def new_client(self, **kwargs: Any) -> Any:
        cls = openai.AsyncOpenAI if self.kind == "async" else openai.OpenAI
        return cls(base_url=self.base_url, api_key="sk-test-not-a-real-key", **kwargs)

    def __call__(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Call an SDK method and return its result, awaiting it on the async client."""
        result = fn(*args, **kwargs)
        return self.wait(result)

    def wait(self, result: Any) -> Any:
        if inspect.isawaitable(result):
            assert self.loop is not None
            return self.loop.run_until_complete(result)
        return result

    def stream(self, manager: Any, on_stream: Callable[[Any], Any] | None = None) -> Any:
        """Enter a stream manager, let ``on_stream`` read it (default: until done), return its result."""

        def consume(stream: Any) -> Any:
            return on_stream(stream) if on_stream else stream.until_done()

        if self.kind == "sync":
            with manager as stream:
                consume(stream)
                return stream

        async def run() -> Any:
            async with manager as stream:
                result = consume(stream)
                if inspect.isawaitable(result):
                    await result
                return stream

        return self.wait(run())

    def close(self) -> None:
        self.wait(self.client.close())
        if self.loop is not None:
            self.loop.close()


@pytest.fixture(params=["sync", "async"])
def api(request: pytest.FixtureRequest, fake_api: Any) -> Iterator[Driver]:
    driver = Driver(request.param, fake_api.base_url)
    yield driver
    driver.close()
