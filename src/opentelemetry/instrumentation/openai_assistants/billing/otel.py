"""The exporter's meter provider: OTLP like the instrumented apps (``examples/otlp_setup.py``), or a
Prometheus endpoint, with the same resource conventions."""

from __future__ import annotations

import os
import uuid
from typing import Any

SERVICE_NAME_DEFAULT = "openai-billing-exporter"


def meter_provider() -> Any:
    """OTLP (gRPC or HTTP, by ``OTEL_EXPORTER_OTLP_*``) or a Prometheus endpoint, with a resource of
    ``service.name`` (``OTEL_SERVICE_NAME`` wins) and a ``service.instance.id`` of this process."""
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.resources import SERVICE_INSTANCE_ID, SERVICE_NAME, Resource

    resource = Resource.create({SERVICE_NAME: os.environ.get("OTEL_SERVICE_NAME") or SERVICE_NAME_DEFAULT,
                                SERVICE_INSTANCE_ID: str(uuid.uuid4())})
    return MeterProvider(resource=resource, metric_readers=[_reader()])


def _reader() -> Any:
    exporter = os.environ.get("OTEL_METRICS_EXPORTER", "otlp").strip()
    if exporter == "console":  # to try it offline, against the fake API's admin endpoints
        from opentelemetry.sdk.metrics.export import ConsoleMetricExporter, PeriodicExportingMetricReader

        return PeriodicExportingMetricReader(ConsoleMetricExporter())
    if exporter == "prometheus":
        from opentelemetry.exporter.prometheus import PrometheusMetricReader
        from prometheus_client import start_http_server

        start_http_server(int(os.environ.get("OTEL_EXPORTER_PROMETHEUS_PORT", "9464")),
                          addr=os.environ.get("OTEL_EXPORTER_PROMETHEUS_HOST", "0.0.0.0"))
        return PrometheusMetricReader()
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

    protocol = (os.environ.get("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL")
                or os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL") or "grpc").strip()
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
    else:
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter  # type: ignore[assignment]
    return PeriodicExportingMetricReader(OTLPMetricExporter())
