"""Wiring the instrumentor to OTLP in code: copy ``setup_telemetry`` into your app.

    from otlp_setup import setup_telemetry

    tracer_provider, meter_provider = setup_telemetry("billing-bot")

Configuration is the standard OTLP environment, read by the exporters and the reader themselves:
``OTEL_EXPORTER_OTLP_ENDPOINT`` (default ``http://localhost:4317`` for gRPC, ``http://localhost:4318`` for HTTP),
``OTEL_EXPORTER_OTLP_PROTOCOL`` = ``grpc`` (the default, as with ``opentelemetry-distro``) or ``http/protobuf``
(per signal: ``OTEL_EXPORTER_OTLP_TRACES_PROTOCOL``, ``OTEL_EXPORTER_OTLP_METRICS_PROTOCOL``),
``OTEL_EXPORTER_OTLP_HEADERS`` (e.g. ``authorization=Bearer%20token``), ``OTEL_METRIC_EXPORT_INTERVAL``
(milliseconds, default 60000), ``OTEL_SERVICE_NAME`` (overrides the ``service_name`` argument) and
``OTEL_RESOURCE_ATTRIBUTES`` (extra resource attributes, e.g. ``deployment.environment.name=prod``).

Metrics are exported with cumulative temporality for every instrument: Prometheus (through the Collector's
``prometheus`` exporter or Prometheus's own OTLP receiver) stores cumulative series; delta points would be
dropped or misread.

**Pre-forking servers** (gunicorn, uWSGI, Celery prefork): call ``setup_telemetry`` in each worker *after*
the fork, never in the master, e.g. in gunicorn's ``post_fork`` hook (see ``gunicorn.conf.py`` beside this
file), uWSGI's ``@postfork`` or Celery's ``worker_process_init`` signal. Each worker then has its own
exporters (a gRPC channel made before a fork is not usable after it), starts from empty totals (nothing
recorded in the master is copied into every worker's cumulative counters) and has its own
``service.instance.id``. That last one matters most: cumulative counters from two workers with the same
resource identity are one series to the backend, and each export overwrites the other worker's total. This
function gives every process a fresh UUID v4 instance id, and for that reason ignores any
``service.instance.id`` in ``OTEL_RESOURCE_ATTRIBUTES``, which is one value shared by all workers.

**Environment only** (no code): ``opentelemetry-instrument`` loads this instrumentation through its entry point
and configures OTLP from the same variables: ``OTEL_TRACES_EXPORTER=otlp OTEL_METRICS_EXPORTER=otlp`` (which
``opentelemetry-distro`` sets by default, together with ``OTEL_LOGS_EXPORTER=otlp`` and protocol ``grpc``), then
``OTEL_EXPORTER_OTLP_*``, ``OTEL_METRIC_EXPORT_INTERVAL``, ``OTEL_SERVICE_NAME``. Wrapping a server, it makes
its providers in the master, before any fork, and ``OTEL_RESOURCE_ATTRIBUTES`` cannot carry a per-process id: do
not put ``service.instance.id`` in it for a pre-forking server. The distro itself does nothing about instance
ids; the SDK does, in the version this was checked with (opentelemetry-sdk 1.45): ``Resource.create``, which the
distro's configurator uses, adds a random ``service.instance.id`` from the SDK's ``service_instance`` resource
detector, and the tracer and meter providers re-detect it in a forked child (``os.register_at_fork``), replacing
the master's id, even one set through ``OTEL_RESOURCE_ATTRIBUTES``. An SDK without that detector adds no
instance id: there, start each worker with its own ``OTEL_RESOURCE_ATTRIBUTES=service.instance.id=...`` or set
up in a post-fork hook with this function. Either way, what the master records before forking (e.g. with
``gunicorn --preload``) is inherited by every worker's cumulative totals.

At exit the instrumentor ends the runs still open, then the providers flush (both are ``atexit`` hooks,
run in that order). A worker that leaves with ``os._exit`` must flush first, as ``flush_telemetry`` does.
"""

from __future__ import annotations

import os
import uuid
from typing import Any

from opentelemetry.sdk.metrics import (
    Counter,
    Histogram,
    MeterProvider,
    ObservableCounter,
    ObservableGauge,
    ObservableUpDownCounter,
    UpDownCounter,
)
from opentelemetry.sdk.metrics.export import AggregationTemporality, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import SERVICE_INSTANCE_ID, SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from opentelemetry import metrics, trace
from opentelemetry.instrumentation.openai_assistants import AssistantsInstrumentor

PROTOCOLS = ("grpc", "http/protobuf")
CUMULATIVE: dict[type, AggregationTemporality] = {
    kind: AggregationTemporality.CUMULATIVE
    for kind in (Counter, UpDownCounter, Histogram, ObservableCounter, ObservableUpDownCounter, ObservableGauge)
}


def _protocol(signal: str) -> str:
    protocol = (os.environ.get(f"OTEL_EXPORTER_OTLP_{signal}_PROTOCOL")
                or os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL") or "grpc").strip()
    if protocol not in PROTOCOLS:
        raise ValueError(f"unsupported OTLP protocol {protocol!r}: use one of {PROTOCOLS}")
    return protocol


def _span_exporter() -> Any:
    if _protocol("TRACES") == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter  # type: ignore[assignment]
    return OTLPSpanExporter()


def _metric_exporter() -> Any:
    if _protocol("METRICS") == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
    else:
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter  # type: ignore[assignment]
    return OTLPMetricExporter(preferred_temporality=CUMULATIVE)


def make_resource(service_name: str) -> Resource:
    """``service.name`` (``OTEL_SERVICE_NAME`` wins) and a ``service.instance.id`` unique to this process."""
    name = os.environ.get("OTEL_SERVICE_NAME") or service_name
    return Resource.create({SERVICE_NAME: name, SERVICE_INSTANCE_ID: str(uuid.uuid4())})


def setup_telemetry(service_name: str, *, set_global: bool = True,
                    **options: Any) -> tuple[TracerProvider, MeterProvider]:
    """OTLP tracer and meter providers for this process, instrumented; call once per process, after fork.

    ``set_global`` also makes them the global providers, for other instrumentations; ``options`` go to
    ``AssistantsInstrumentor().instrument``.
    """
    resource = make_resource(service_name)
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(BatchSpanProcessor(_span_exporter()))
    reader = PeriodicExportingMetricReader(_metric_exporter())  # interval: OTEL_METRIC_EXPORT_INTERVAL
    meter_provider = MeterProvider(resource=resource, metric_readers=[reader])
    if set_global:
        trace.set_tracer_provider(tracer_provider)
        metrics.set_meter_provider(meter_provider)
    AssistantsInstrumentor().instrument(tracer_provider=tracer_provider, meter_provider=meter_provider, **options)
    return tracer_provider, meter_provider


def flush_telemetry(tracer_provider: TracerProvider, meter_provider: MeterProvider,
                    timeout_millis: int = 10_000) -> bool:
    """Export everything now: the instrumentor's pending run accounting first, then spans, then metrics."""
    done = AssistantsInstrumentor().force_flush(timeout_millis)
    done = tracer_provider.force_flush(timeout_millis) and done
    return meter_provider.force_flush(timeout_millis) and done
