"""One worker process of ``test_sessions_across_processes``: runs one Code Interpreter run on a
shared thread with the instrumentor on, and prints the sessions it billed."""

from __future__ import annotations

import json
import sys

import openai
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider

from opentelemetry.instrumentation.openai_assistants import AssistantsInstrumentor


def main(base_url: str, thread_id: str, assistant_id: str, redis_url: str) -> None:
    reader = InMemoryMetricReader()
    instrumentor = AssistantsInstrumentor()
    instrumentor.instrument(tracer_provider=TracerProvider(), meter_provider=MeterProvider(metric_readers=[reader]),
                            redis_url=redis_url or None)
    client = openai.OpenAI(base_url=base_url, api_key="sk-test")
    client.beta.threads.messages.create(thread_id, role="user", content="Compute something")
    client.beta.threads.runs.create_and_poll(thread_id=thread_id, assistant_id=assistant_id)
    instrumentor.force_flush()
    data = reader.get_metrics_data()
    sessions = sum(point.value for resource in data.resource_metrics for scope in resource.scope_metrics
                   for metric in scope.metrics if metric.name == "openai_cost.code_interpreter.sessions"
                   for point in metric.data.data_points) if data else 0
    print(json.dumps({"sessions": sessions}))


if __name__ == "__main__":
    main(*sys.argv[1:5])
