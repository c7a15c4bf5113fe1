"""The demo: a scripted Assistants workload and a Responses workload against a local simulated
OpenAI API (no API key), traced and metered by the instrumentor, printed as a cost summary.

    python examples/demo.py            # explicit AssistantsInstrumentor().instrument()
    opentelemetry-instrument python examples/demo.py   # the same, loaded by the entry point
    python examples/demo.py --tree     # the span tree, tokens and cost beside each span
    python examples/demo.py --steady --spike-at 120    # keep a workload running for a dashboard

With ``OTEL_EXPORTER_OTLP_ENDPOINT`` set (e.g. the ``docker/`` stack at http://localhost:4317),
spans and metrics are also exported over OTLP. ``--steady`` repeats the workload every ``--interval``
seconds until interrupted, so rates and alerts have data; ``--spike-at N`` adds a runaway agent from
N seconds on; ``--prometheus-port`` also serves the metrics for a Prometheus to scrape.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any, Optional

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "examples")]

from scripts.tiktoken_cache import default_dir, resolve  # noqa: E402

_found, TIKTOKEN_LOOKED_IN = resolve(allow_download=False)  # TIKTOKEN_CACHE_DIR, then the checkout's shared cache
if "TIKTOKEN_CACHE_DIR" not in os.environ and _found:
    os.environ["TIKTOKEN_CACHE_DIR"] = _found

from demo_report import UNPRICED_ON_PURPOSE, leaf_spend, responses_in, runs_of, span_tree, summary  # noqa: E402
from opentelemetry.sdk.metrics import MeterProvider  # noqa: E402
from opentelemetry.sdk.metrics.export import InMemoryMetricReader, PeriodicExportingMetricReader  # noqa: E402
from opentelemetry.sdk.trace import TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter  # noqa: E402
from responses_workload import register_response_scripts, responses_summary, run_responses_workload  # noqa: E402
from workload import register_scripts, run_runaway, run_workload  # noqa: E402

from openai_fake_api import FakeAssistantsAPI  # noqa: E402
from opentelemetry import metrics, trace  # noqa: E402
from opentelemetry.instrumentation.openai_assistants import AssistantsInstrumentor  # noqa: E402

FIRST_PAUSE_S = 10.0
#: Warnings the summary explains in a line of its own: the made-up model's missing price, no tokenizer.
EXPLAINED = (UNPRICED_ON_PURPOSE, "No tiktoken encoding available")


class _ExplainedInSummary(logging.Filter):
    """Drops warnings that the demo's summary explains, so that the demo prints nothing like an error."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(text in message for text in EXPLAINED)


def _quiet() -> None:
    """Warnings the summary explains go unprinted, whichever module logs them; all others still show."""
    logging.basicConfig(format="%(message)s")
    for handler in logging.getLogger().handlers:
        handler.addFilter(_ExplainedInSummary())


def _otlp_exporters() -> tuple[Any, Any]:
    if os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc") == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    else:
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter  # type: ignore[assignment]
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter  # type: ignore[assignment]
    return OTLPSpanExporter(), OTLPMetricExporter()


def _metric_readers(reader: InMemoryMetricReader, prometheus_port: Optional[int]) -> list[Any]:
    readers: list[Any] = [reader]
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        interval = int(os.environ.get("OTEL_METRIC_EXPORT_INTERVAL") or 5000)
        readers.append(PeriodicExportingMetricReader(_otlp_exporters()[1], export_interval_millis=interval))
    if prometheus_port is not None:
        from opentelemetry.exporter.prometheus import PrometheusMetricReader
        from prometheus_client import start_http_server

        start_http_server(prometheus_port, addr="127.0.0.1")
        readers.append(PrometheusMetricReader())
    return readers


def _providers(spans: InMemorySpanExporter, reader: InMemoryMetricReader, prometheus_port: Optional[int] = None,
               **options: Any) -> tuple[Any, Any]:
    """Our own providers, or, under ``opentelemetry-instrument``, the global ones it configured."""
    if AssistantsInstrumentor().is_instrumented_by_opentelemetry:
        provider = trace.get_tracer_provider()
        provider.add_span_processor(SimpleSpanProcessor(spans))  # type: ignore[attr-defined]
        return provider, metrics.get_meter_provider()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        tracer_provider.add_span_processor(BatchSpanProcessor(_otlp_exporters()[0]))
    meter_provider = MeterProvider(metric_readers=_metric_readers(reader, prometheus_port))
    AssistantsInstrumentor().instrument(tracer_provider=tracer_provider, meter_provider=meter_provider, **options)
    return tracer_provider, meter_provider


def _steady(server: FakeAssistantsAPI, exporter: InMemorySpanExporter, args: argparse.Namespace) -> None:
    """The workload every ``interval`` seconds, a line per cycle, until interrupted or ``duration`` ends.

    The second cycle starts sooner, so that rates have two points within a minute."""
    start = time.monotonic()
    total, cycle = 0.0, 0
    print(f"steady workload every {args.interval:g} s; Ctrl-C to stop", flush=True)
    try:
        while args.duration is None or time.monotonic() - start < args.duration:
            began = time.monotonic()
            cycle += 1
            run_workload(server.base_url)
            run_responses_workload(server.base_url)
            spiking = args.spike_at is not None and began - start >= args.spike_at
            if spiking:
                run_runaway(server.base_url, args.spike_runs)
            AssistantsInstrumentor().force_flush()
            spans = exporter.get_finished_spans()
            runs, spent = runs_of(spans), leaf_spend(spans)
            total += spent
            exporter.clear()
            print(f"cycle {cycle}: {len(runs)} runs, {responses_in(spans)} responses, ${spent:.6f}, "
                  f"total ${total:.6f}"
                  + ("  (spike: runaway agent)" if spiking else ""), flush=True)
            pause = args.interval if cycle > 1 else min(args.interval, FIRST_PAUSE_S)
            time.sleep(max(0.0, pause - (time.monotonic() - began)))
    except KeyboardInterrupt:
        pass
    print(f"{cycle} cycles, total spend ${total:.6f}")


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tree", action="store_true", help="print the span tree, with tokens and cost, "
                                                            "instead of the summary")
    parser.add_argument("--steady", action="store_true", help="repeat the workload until interrupted")
    parser.add_argument("--interval", type=float, default=60.0,
                        help="seconds between the starts of two steady cycles (default 60: about 7 USD/h, "
                             "under the 10 USD/h budget, each assistant under the spike alert's 5 USD/h)")
    parser.add_argument("--spike-at", type=float, metavar="SECONDS",
                        help="with --steady: from this many seconds on, a runaway agent spends about 1 USD a cycle")
    parser.add_argument("--spike-runs", type=int, default=3, help=argparse.SUPPRESS)
    parser.add_argument("--duration", type=float, metavar="SECONDS", help="with --steady: stop after this long")
    parser.add_argument("--prometheus-port", type=int, metavar="PORT",
                        help="also serve the metrics at http://127.0.0.1:PORT/metrics for Prometheus")
    parser.add_argument("--fake-port", type=int, default=0, metavar="PORT",
                        help="serve the fake API on this port (default: a free one), e.g. for the billing "
                             "exporter to read its admin usage and costs endpoints")
    return parser.parse_args()


def main() -> None:
    args = _arguments()
    _quiet()
    exporter, reader = InMemorySpanExporter(), InMemoryMetricReader()
    # Steady: also estimate runs with reported usage, so that the dashboard's estimate-error panel has data.
    options = {"estimate_sample_rate": 1.0} if args.steady else {}
    tracer_provider, meter_provider = _providers(exporter, reader, args.prometheus_port, **options)
    with FakeAssistantsAPI(port=args.fake_port) as server:
        register_scripts(server)
        register_response_scripts(server)
        if args.steady:
            _steady(server, exporter, args)
        else:
            run_workload(server.base_url)
            run_responses_workload(server.base_url)
        AssistantsInstrumentor().force_flush()
    if not args.steady:
        spans = list(exporter.get_finished_spans())
        looked = [*TIKTOKEN_LOOKED_IN, *([] if "TIKTOKEN_CACHE_DIR" in os.environ else [default_dir()])]
        print("\n".join(span_tree(spans) if args.tree
                        else [*summary(spans, looked), "", *responses_summary(spans)]))
    for provider in (tracer_provider, meter_provider):
        getattr(provider, "force_flush", lambda: None)()


if __name__ == "__main__":
    main()
