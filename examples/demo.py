"""The demo: a scripted Assistants workload and a Responses workload against a local simulated
OpenAI API (no API key), traced and metered by the instrumentor, printed as a cost summary.

    python examples/demo.py            # explicit AssistantsInstrumentor().instrument()
    opentelemetry-instrument python examples/demo.py   # the same, loaded by the entry point

With ``OTEL_EXPORTER_OTLP_ENDPOINT`` set (e.g. the ``docker/`` stack at http://localhost:4317),
spans and metrics are also exported over OTLP. ``--tree`` prints the span tree instead.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any, Optional

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "examples")]
_CACHE = ROOT.parent / "shared" / "tiktoken-cache"
if "TIKTOKEN_CACHE_DIR" not in os.environ and _CACHE.is_dir():
    os.environ["TIKTOKEN_CACHE_DIR"] = str(_CACHE)

from opentelemetry.sdk.metrics import MeterProvider  # noqa: E402
from opentelemetry.sdk.metrics.export import InMemoryMetricReader, PeriodicExportingMetricReader  # noqa: E402
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter  # noqa: E402
from responses_workload import register_response_scripts, responses_summary, run_responses_workload  # noqa: E402
from workload import register_scripts, run_workload  # noqa: E402

from fakeapi import FakeAssistantsAPI  # noqa: E402
from opentelemetry import metrics, trace  # noqa: E402
from opentelemetry.instrumentation.openai_assistants import AssistantsInstrumentor  # noqa: E402


def _otlp_exporters() -> tuple[Any, Any]:
    if os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc") == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    else:
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter  # type: ignore[assignment]
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter  # type: ignore[assignment]
    return OTLPSpanExporter(), OTLPMetricExporter()


def _providers(spans: InMemorySpanExporter, reader: InMemoryMetricReader) -> tuple[Any, Any]:
    """Our own providers, or, under ``opentelemetry-instrument``, the global ones it configured."""
    if AssistantsInstrumentor().is_instrumented_by_opentelemetry:
        provider = trace.get_tracer_provider()
        provider.add_span_processor(SimpleSpanProcessor(spans))  # type: ignore[attr-defined]
        return provider, metrics.get_meter_provider()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    readers: list[Any] = [reader]
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        span_exporter, metric_exporter = _otlp_exporters()
        tracer_provider.add_span_processor(BatchSpanProcessor(span_exporter))
        readers.append(PeriodicExportingMetricReader(metric_exporter, export_interval_millis=5000))
    meter_provider = MeterProvider(metric_readers=readers)
    AssistantsInstrumentor().instrument(tracer_provider=tracer_provider, meter_provider=meter_provider)
    return tracer_provider, meter_provider


def span_tree(spans: list[ReadableSpan]) -> list[str]:
    """Each span as an indented line of its name, children in start order: comparable across runs."""
    children: dict[Optional[int], list[ReadableSpan]] = defaultdict(list)
    ids = {s.context.span_id for s in spans}
    for span in spans:
        parent = span.parent.span_id if span.parent and span.parent.span_id in ids else None
        children[parent].append(span)
    lines: list[str] = []

    def walk(parent: Optional[int], depth: int) -> None:
        for span in sorted(children[parent], key=lambda s: (s.start_time or 0, s.name)):
            lines.append("  " * depth + span.name)
            walk(span.context.span_id, depth + 1)

    walk(None, 0)
    return lines


def _usd(value: Any) -> str:
    return f"{value:.6f}" if isinstance(value, (int, float)) else "   n/a  "


def summary(spans: list[ReadableSpan]) -> list[str]:
    """A readable line per run: tokens (reported or estimated) and cost by kind, then the total."""
    runs = sorted((s for s in spans if s.name.startswith("invoke_agent")), key=lambda s: s.start_time or 0)
    lines = [f"{'assistant':<16} {'status':<10} {'steps':>5} {'tokens in/out':>14} {'source':<9} "
             f"{'input $':>9} {'output $':>9} {'session $':>9} {'total $':>9}"]
    total = 0.0
    for span in runs:
        a = span.attributes or {}
        tokens = f"{a.get('gen_ai.usage.input_tokens', '-')}/{a.get('gen_ai.usage.output_tokens', '-')}"
        cost = a.get("openai_cost.rollup.total_usd")
        total += float(cost) if isinstance(cost, (int, float)) else 0.0
        lines.append(
            f"{a.get('gen_ai.agent.name', '?')!s:<16} {a.get('assistants.run.status')!s:<10} "
            f"{a.get('assistants.run.steps', 0):>5} {tokens:>14} {a.get('openai_cost.usage.source', '-')!s:<9} "
            f"{_usd(a.get('openai_cost.rollup.input_tokens_usd'))} "
            f"{_usd(a.get('openai_cost.rollup.output_tokens_usd'))} "
            f"{_usd(a.get('openai_cost.rollup.code_interpreter_session_usd'))} {_usd(cost)}"
        )
    lines.append(f"{len(runs)} runs, {len(spans)} spans, total spend ${total:.6f}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tree", action="store_true", help="print the span tree instead of the summary")
    args = parser.parse_args()
    exporter, reader = InMemorySpanExporter(), InMemoryMetricReader()
    tracer_provider, meter_provider = _providers(exporter, reader)
    with FakeAssistantsAPI() as server:
        register_scripts(server)
        register_response_scripts(server)
        run_workload(server.base_url)
        run_responses_workload(server.base_url)
        AssistantsInstrumentor().force_flush()
    spans = list(exporter.get_finished_spans())
    print("\n".join(span_tree(spans) if args.tree else [*summary(spans), "", *responses_summary(spans)]))
    for provider in (tracer_provider, meter_provider):
        getattr(provider, "force_flush", lambda: None)()


if __name__ == "__main__":
    main()
