"""One process with another OpenAI instrumentation and ours, for ``test_chat_coexist.py``: a peer's
wrappers outlive its ``uninstrument()`` (OpenLLMetry keeps making spans, OpenInference leaves
``OpenAI.request`` set), so each peer gets a process of its own.

``python coexist_child.py BASE_URL PEER ORDER SPANS``: ORDER is ``theirs_first`` or ``ours_first``,
SPANS our ``chat_spans`` option. Prints one JSON object: per scenario and client kind, the spans
(name, scope, attributes), the token and spend metric points and the usage the app read.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import sys
from typing import Any

import openai
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from opentelemetry.instrumentation.openai_assistants import AssistantsInstrumentor

PEERS = {
    "openai-v2": "opentelemetry.instrumentation.openai_v2",
    "openllmetry": "opentelemetry.instrumentation.openai",
    "openinference": "openinference.instrumentation.openai",
}
MODEL = "gpt-hand"
PRICES = {"models": {MODEL: {"input_per_1m": "2", "output_per_1m": "8", "cached_input_per_1m": "0.5",
                            "cache_write_per_1m": "2.5"}}}
HELLO = [{"role": "user", "content": "Hello there, how are you today?"}]
CHAT = {"model": MODEL, "messages": HELLO, "metadata": {"script": "detailed"}}


def scenarios(client: Any) -> dict[str, Any]:
    """Each scenario: a callable making one call and returning the usage the app read (as a dict)."""

    def plain() -> Any:
        return client.chat.completions.create(**CHAT)

    def stream() -> Any:
        return client.chat.completions.create(**CHAT, stream=True, stream_options={"include_usage": True})

    def embeddings() -> Any:
        return client.embeddings.create(model="text-embedding-3-small", input=["one two three"])

    return {"chat": plain, "stream": stream, "embeddings": embeddings}


async def read_async(result: Any, streamed: bool) -> Any:
    result = await result
    if streamed:  # the peers wrap the SDK's stream in classes of their own
        return [chunk async for chunk in result][-1].usage
    return result.usage


def read_sync(result: Any, streamed: bool) -> Any:
    return list(result)[-1].usage if streamed else result.usage


def main() -> None:
    base_url, peer, order, spans_option = sys.argv[1:5]
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    theirs = importlib.import_module(PEERS[peer]).OpenAIInstrumentor()
    ours = AssistantsInstrumentor()
    steps = [lambda: theirs.instrument(tracer_provider=tracer_provider, meter_provider=meter_provider),
             lambda: ours.instrument(tracer_provider=tracer_provider, meter_provider=meter_provider, prices=PRICES,
                                     chat_spans=spans_option)]
    for step in steps if order == "theirs_first" else reversed(steps):
        step()
    out: dict[str, Any] = {}
    clients = {"sync": openai.OpenAI(base_url=base_url, api_key="sk-test"),
               "async": openai.AsyncOpenAI(base_url=base_url, api_key="sk-test")}
    loop = asyncio.new_event_loop()
    for kind, client in clients.items():
        for name, make in scenarios(client).items():
            exporter.clear()
            reader.get_metrics_data()  # start the scenario's metrics from a clean read (delta below)
            before = _metrics(reader)
            streamed = name == "stream"
            usage = (loop.run_until_complete(read_async(make(), streamed)) if kind == "async"
                     else read_sync(make(), streamed))
            ours.force_flush(10_000)
            after = _metrics(reader)
            out[f"{kind}:{name}"] = {
                "usage": usage.model_dump() if usage is not None else None,
                "spans": [{"name": s.name, "scope": s.instrumentation_scope.name, "kind": s.kind.name,
                           "attributes": {k: v if not isinstance(v, tuple) else list(v)
                                          for k, v in (s.attributes or {}).items()}}
                          for s in exporter.get_finished_spans()],
                "metrics": {key: after.get(key, 0) - before.get(key, 0) for key in after},
            }
    print(json.dumps(out))


def _metrics(reader: InMemoryMetricReader) -> dict[str, float]:
    """Cumulative sums of our token and spend metrics, by API type and kind."""
    found: dict[str, float] = {}
    data = reader.get_metrics_data()
    for resource in data.resource_metrics if data else ():
        for scope in resource.scope_metrics:
            if scope.scope.name != "opentelemetry.instrumentation.openai_assistants":
                continue
            for metric in scope.metrics:
                if metric.name not in ("openai_cost.spend", "gen_ai.client.token.usage"):
                    continue
                for p in metric.data.data_points:
                    a = p.attributes
                    kind = a.get("openai_cost.kind") or a.get("gen_ai.token.type")
                    key = f"{metric.name}|{a.get('openai.api.type')}|{kind}"
                    found[key] = found.get(key, 0.0) + float(getattr(p, "sum", None) or getattr(p, "value", 0))
    return found


if __name__ == "__main__":
    main()
