"""The exporter's meter provider: the readers ``OTEL_METRICS_EXPORTER`` names (``otlp``, the default,
``console``, ``prometheus``, ``none``, comma-separated), with the resource conventions of the
instrumented apps (``examples/otlp_setup.py``). Pushed exports are watched, so that ``--once`` can say
whether its export reached the backend (the SDK's periodic reader drops the export result)."""

from __future__ import annotations

import os
import uuid
from typing import Any

SERVICE_NAME_DEFAULT = "openai-billing-exporter"
EXPORTERS = ("otlp", "console", "prometheus", "none")


class UnknownExporter(ValueError):
    """``OTEL_METRICS_EXPORTER`` names an exporter this process does not have."""


class ExportWatch:
    """Counts the pushed exports that failed (each push exporter reports here)."""

    def __init__(self) -> None:
        self.failures = 0
        self.exports = 0

    def wrap(self, exporter: Any) -> Any:
        from opentelemetry.sdk.metrics.export import MetricExporter, MetricExportResult

        watch = self

        class Watched(MetricExporter):
            def __init__(self) -> None:
                super().__init__(preferred_temporality=exporter._preferred_temporality,
                                 preferred_aggregation=exporter._preferred_aggregation)

            def export(self, metrics_data: Any, timeout_millis: float = 10_000, **kwargs: Any) -> Any:
                try:
                    result = exporter.export(metrics_data, timeout_millis=timeout_millis, **kwargs)
                except Exception:
                    result = MetricExportResult.FAILURE
                watch.exports += 1
                watch.failures += result != MetricExportResult.SUCCESS
                return result

            def force_flush(self, timeout_millis: float = 10_000) -> bool:
                return bool(exporter.force_flush(timeout_millis=timeout_millis))

            def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
                exporter.shutdown(timeout_millis=timeout_millis, **kwargs)

        return Watched()


def exporter_names() -> list[str]:
    """The exporters ``OTEL_METRICS_EXPORTER`` asks for; raises ``UnknownExporter``."""
    raw = os.environ.get("OTEL_METRICS_EXPORTER", "otlp")
    names = [n.strip().lower() for n in raw.split(",") if n.strip()] or ["otlp"]
    unknown = [n for n in names if n not in EXPORTERS]
    if unknown:
        raise UnknownExporter(f"OTEL_METRICS_EXPORTER={raw!r}: unknown {', '.join(unknown)} "
                              f"(use {', '.join(EXPORTERS)})")
    return [] if "none" in names else list(dict.fromkeys(names))


def meter_provider(watch: ExportWatch) -> Any:
    """A provider with the chosen readers, a resource of ``service.name`` (``OTEL_SERVICE_NAME`` wins)
    and a ``service.instance.id`` of this process."""
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.resources import SERVICE_INSTANCE_ID, SERVICE_NAME, Resource

    resource = Resource.create({SERVICE_NAME: os.environ.get("OTEL_SERVICE_NAME") or SERVICE_NAME_DEFAULT,
                                SERVICE_INSTANCE_ID: str(uuid.uuid4())})
    readers = [_reader(name, watch) for name in exporter_names()]
    return MeterProvider(resource=resource, metric_readers=readers)


def _reader(name: str, watch: ExportWatch) -> Any:
    from opentelemetry.sdk.metrics.export import ConsoleMetricExporter, PeriodicExportingMetricReader

    if name == "prometheus":
        from opentelemetry.exporter.prometheus import PrometheusMetricReader
        from prometheus_client import start_http_server

        start_http_server(int(os.environ.get("OTEL_EXPORTER_PROMETHEUS_PORT", "9464")),
                          addr=os.environ.get("OTEL_EXPORTER_PROMETHEUS_HOST", "0.0.0.0"))
        return PrometheusMetricReader()
    if name == "console":
        return PeriodicExportingMetricReader(watch.wrap(ConsoleMetricExporter()))
    protocol = (os.environ.get("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL")
                or os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL") or "grpc").strip()
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
    else:
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter  # type: ignore[assignment]
    return PeriodicExportingMetricReader(watch.wrap(OTLPMetricExporter()))
