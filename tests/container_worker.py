"""One worker process of ``test_containers_across_processes``: one response in a shared container with
the instrumentor on, its clock past the container's expiry; prints the container money it billed."""

from __future__ import annotations

import json
import sys

import openai
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider

from opentelemetry.instrumentation.openai_assistants import AssistantsInstrumentor


def main(base_url: str, container_id: str, redis_url: str, now: str) -> None:
    reader = InMemoryMetricReader()
    instrumentor = AssistantsInstrumentor()
    instrumentor.instrument(tracer_provider=TracerProvider(), meter_provider=MeterProvider(metric_readers=[reader]),
                            redis_url=redis_url or None, container_clock=lambda: float(now))
    client = openai.OpenAI(base_url=base_url, api_key="sk-test")
    client.responses.create(model="gpt-4o-mini", input="Compute", metadata={"script": "code_interpreter"},
                            tools=[{"type": "code_interpreter", "container": container_id}])
    instrumentor.force_flush()
    instrumentor.force_flush()  # the second sweep sees what the first one's background work learned
    data = reader.get_metrics_data()
    points = [p for resource in data.resource_metrics for scope in resource.scope_metrics
              for metric in scope.metrics for p in metric.data.data_points
              if metric.name == "openai_cost.spend" and p.attributes.get("openai_cost.kind") == "container"
              ] if data else []
    settled = [p.value for resource in data.resource_metrics for scope in resource.scope_metrics
               for metric in scope.metrics if metric.name == "openai_cost.containers"
               for p in metric.data.data_points] if data else []
    print(json.dumps({"usd": sum(p.value for p in points), "settled": sum(settled)}))


if __name__ == "__main__":
    main(*sys.argv[1:5])
