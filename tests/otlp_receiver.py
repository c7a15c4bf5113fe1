"""Minimal OTLP receivers for tests: OTLP/HTTP (protobuf) and OTLP/gRPC on 127.0.0.1, random free ports.

They decode the export requests with the ``opentelemetry-proto`` messages, the same ones a Collector uses,
and keep them with the headers (or gRPC metadata) they came with.
"""

from __future__ import annotations

import gzip
import threading
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Optional, Union

import grpc
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2_grpc
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import KeyValue
from opentelemetry.proto.metrics.v1.metrics_pb2 import AggregationTemporality, Metric
from opentelemetry.proto.trace.v1.trace_pb2 import Span

Request = Union[ExportTraceServiceRequest, ExportMetricsServiceRequest]


def attributes(pairs: Any) -> dict[str, Any]:
    """OTLP ``KeyValue`` list as a plain dict (scalar values only)."""
    result: dict[str, Any] = {}
    for pair in pairs:
        kv: KeyValue = pair
        kind = kv.value.WhichOneof("value")
        result[kv.key] = getattr(kv.value, kind) if kind else None
    return result


@dataclass(frozen=True)
class SeenMetric:
    resource: dict[str, Any]
    metric: Metric

    @property
    def kind(self) -> str:
        return str(self.metric.WhichOneof("data"))

    @property
    def temporality(self) -> Optional[int]:
        data = getattr(self.metric, self.kind)
        return getattr(data, "aggregation_temporality", None)

    @property
    def cumulative(self) -> bool:
        return self.temporality == AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE


class Received:
    """Export requests and their headers, as they arrive; thread-safe."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self.traces: list[ExportTraceServiceRequest] = []
        self.metrics: list[ExportMetricsServiceRequest] = []
        self.logs: list[ExportLogsServiceRequest] = []
        self.headers: list[dict[str, str]] = []

    def add(self, request: Any, headers: dict[str, str]) -> None:
        with self._changed:
            if isinstance(request, ExportTraceServiceRequest):
                self.traces.append(request)
            elif isinstance(request, ExportMetricsServiceRequest):
                self.metrics.append(request)
            else:
                self.logs.append(request)
            self.headers.append({k.lower(): v for k, v in headers.items()})
            self._changed.notify_all()

    def wait_for(self, condition: Callable[[], bool], timeout_s: float = 10.0) -> bool:
        with self._changed:
            return self._changed.wait_for(condition, timeout_s)

    def spans(self) -> list[tuple[dict[str, Any], Span]]:
        """Every span received, with its resource attributes."""
        with self._changed:
            return [(attributes(rs.resource.attributes), span) for request in self.traces
                    for rs in request.resource_spans for ss in rs.scope_spans for span in ss.spans]

    def metric_list(self) -> list[SeenMetric]:
        """Every metric of every request received, with its resource attributes."""
        with self._changed:
            return [SeenMetric(attributes(rm.resource.attributes), metric) for request in self.metrics
                    for rm in request.resource_metrics for sm in rm.scope_metrics for metric in sm.metrics]

    def units(self) -> dict[str, set[str]]:
        units: dict[str, set[str]] = defaultdict(set)
        for seen in self.metric_list():
            units[seen.metric.name].add(seen.metric.unit)
        return dict(units)

    def latest_sums(self, name: str) -> dict[str, float]:
        """Per ``service.instance.id``: the total of the latest point of each series of the sum ``name``."""
        latest: dict[tuple[str, tuple[tuple[str, Any], ...]], tuple[int, float]] = {}
        for seen in self.metric_list():
            if seen.metric.name != name:
                continue
            instance = str(seen.resource.get("service.instance.id"))
            for point in seen.metric.sum.data_points:
                key = (instance, tuple(sorted(attributes(point.attributes).items())))
                value = point.as_int if point.WhichOneof("value") == "as_int" else point.as_double
                if key not in latest or point.time_unix_nano >= latest[key][0]:
                    latest[key] = (point.time_unix_nano, value)
        totals: dict[str, float] = defaultdict(float)
        for (instance, _), (_, value) in latest.items():
            totals[instance] += value
        return dict(totals)


_HTTP_PATHS: dict[str, tuple[Any, Any]] = {
    "/v1/traces": (ExportTraceServiceRequest, ExportTraceServiceResponse),
    "/v1/metrics": (ExportMetricsServiceRequest, ExportMetricsServiceResponse),
    "/v1/logs": (ExportLogsServiceRequest, ExportLogsServiceResponse),
}


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        kinds = _HTTP_PATHS.get(self.path)
        if kinds is None:
            self.send_error(404)
            return
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        request = kinds[0]()
        request.ParseFromString(body)
        self.server.received.add(request, dict(self.headers.items()))  # type: ignore[attr-defined]
        payload = kinds[1]().SerializeToString()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class HttpReceiver:
    """OTLP/HTTP with protobuf bodies at ``/v1/traces``, ``/v1/metrics`` and ``/v1/logs``."""

    def __init__(self) -> None:
        self.received = Received()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.daemon_threads = True
        self._httpd.received = self.received  # type: ignore[attr-defined]
        self.endpoint = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="otlp-http-receiver", daemon=True)

    def __enter__(self) -> HttpReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(5)


class _TraceService(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self, received: Received) -> None:
        self.received = received

    def Export(self, request: ExportTraceServiceRequest, context: Any) -> ExportTraceServiceResponse:
        self.received.add(request, dict(context.invocation_metadata()))
        return ExportTraceServiceResponse()


class _MetricsService(metrics_service_pb2_grpc.MetricsServiceServicer):
    def __init__(self, received: Received) -> None:
        self.received = received

    def Export(self, request: ExportMetricsServiceRequest, context: Any) -> ExportMetricsServiceResponse:
        self.received.add(request, dict(context.invocation_metadata()))
        return ExportMetricsServiceResponse()


class GrpcReceiver:
    """OTLP/gRPC (insecure) trace and metrics services."""

    def __init__(self) -> None:
        self.received = Received()
        self._server = grpc.server(ThreadPoolExecutor(max_workers=4))
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(_TraceService(self.received), self._server)
        metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(_MetricsService(self.received), self._server)
        port = self._server.add_insecure_port("127.0.0.1:0")
        self.endpoint = f"http://127.0.0.1:{port}"

    def __enter__(self) -> GrpcReceiver:
        self._server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.stop(grace=None).wait(5)
