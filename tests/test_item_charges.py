"""A tool call's own charges (containers, fees) have their place: on its tool span, in the roll-ups of
its response, and in the spend counter under their kind, each once."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from opentelemetry.context import Context
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from opentelemetry.instrumentation.openai_assistants.accounting.account import ItemCharge, RunAccount, RunLeaf
from opentelemetry.instrumentation.openai_assistants.config import Settings
from opentelemetry.instrumentation.openai_assistants.invocation import Invocation, SpanRecord
from opentelemetry.instrumentation.openai_assistants.metrics import Instruments
from opentelemetry.instrumentation.openai_assistants.model import Usage
from opentelemetry.instrumentation.openai_assistants.telemetry import Telemetry


def _write(account: RunAccount) -> tuple[dict[str, dict[str, Any]], dict[str, float]]:
    exporter, reader = InMemorySpanExporter(), InMemoryMetricReader()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    telemetry = Telemetry(provider.get_tracer("t"), Instruments(MeterProvider(metric_readers=[reader]).get_meter("t")),
                          Settings())
    tools = [SpanRecord("execute_tool", f"execute_tool {name}", SpanKind.INTERNAL, 10, 20, tool_call_id=call_id,
                        tool=("extension", name)) for call_id, name in (("ci_1", "code_interpreter"),
                                                                        ("ws_1", "web_search"))]
    root = SpanRecord("chat", "chat m", SpanKind.CLIENT, 0, 30, children=tools)
    telemetry.invocation_ended(Invocation("responses", "openai", "m", None, Context(), root, status="completed"),
                               account)
    spans = {s.name: dict(s.attributes or {}) for s in exporter.get_finished_spans()}
    spend: dict[str, float] = {}
    for metric in reader.get_metrics_data().resource_metrics[0].scope_metrics[0].metrics:
        if metric.name == "openai_cost.spend":
            for point in metric.data.data_points:
                spend[point.attributes["openai_cost.kind"]] = point.value
    return spans, spend


def test_charges_sit_on_their_tool_span_and_are_counted_once() -> None:
    account = RunAccount("resp_1", "", "m", "m", "openai", input_tokens=10, output_tokens=5,
                         usage_source="reported", usage=Usage(10, 5), cost_usd={"input_tokens": Decimal("0.001")},
                         run_leaf=RunLeaf(Usage(10, 5), Decimal("0.001"), None), usage_scope="run")
    account.charges = [ItemCharge("ci_1", "container", Decimal("0.03")),
                       ItemCharge("ws_1", "web_search", Decimal("0.01")),
                       ItemCharge("ws_1", "web_search", None, unpriced_reason="no fee known for this tool version")]
    spans, spend = _write(account)
    assert spans["execute_tool code_interpreter"]["openai_cost.container_usd"] == 0.03
    assert spans["execute_tool web_search"]["openai_cost.web_search_usd"] == 0.01
    assert spans["execute_tool web_search"]["openai_cost.unpriced_reason"] == "no fee known for this tool version"
    root = spans["chat m"]
    assert root["openai_cost.rollup.container_usd"] == 0.03 and root["openai_cost.rollup.web_search_usd"] == 0.01
    assert root["openai_cost.rollup.total_usd"] == float(Decimal("0.001") + Decimal("0.03") + Decimal("0.01"))
    assert "openai_cost.container_usd" not in root  # a leaf figure lives on its tool span only
    assert spend == {"input_tokens": 0.001, "container": 0.03, "web_search": 0.01}
