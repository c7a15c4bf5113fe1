"""Hosted-tool money as telemetry: each charge on its tool span, the sum on the response span, the
spend counter by kind, tier and rule, live and settled containers, auto containers without a call."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from container_helpers import JULY, MIN, container
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from opentelemetry.instrumentation.openai_assistants import semconv as sc
from opentelemetry.instrumentation.openai_assistants.accounting.container_ledger import ContainerLedger
from opentelemetry.instrumentation.openai_assistants.accounting.containers import ContainerRules
from opentelemetry.instrumentation.openai_assistants.accounting.fees import FeeBook, input_pricer, tool_fees
from opentelemetry.instrumentation.openai_assistants.accounting.pricing import PriceBook
from opentelemetry.instrumentation.openai_assistants.accounting.sessions import MemorySessionStore
from opentelemetry.instrumentation.openai_assistants.hosted_telemetry import (
    HostedToolsRecorder,
    Money,
    rollup_attributes,
)
from opentelemetry.instrumentation.openai_assistants.metrics import Instruments
from opentelemetry.instrumentation.openai_assistants.model import Container, ToolUsage

LABELS = {sc.GEN_AI_REQUEST_MODEL: "gpt-4.1", sc.GEN_AI_PROVIDER_NAME: "openai", sc.OPENAI_API_TYPE: "responses"}


def points(reader: InMemoryMetricReader, name: str) -> dict[tuple[tuple[str, Any], ...], float]:
    data = reader.get_metrics_data()
    if data is None:  # nothing recorded at all
        return {}
    return {
        tuple(sorted(p.attributes.items())): p.value
        for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics if m.name == name
        for p in m.data.data_points
    }


def test_container_and_fees_on_spans_and_metrics() -> None:
    exporter, reader = InMemorySpanExporter(), InMemoryMetricReader()
    tracer = TracerProvider()
    tracer.add_span_processor(SimpleSpanProcessor(exporter))
    recorder = HostedToolsRecorder(Instruments(MeterProvider(metric_readers=[reader]).get_meter("t")))
    ledger = ContainerLedger(ContainerRules({}), MemorySessionStore())
    all_money: list[Money] = []
    t = tracer.get_tracer("t")
    with t.start_as_current_span("response") as response:
        for name, update, at in (
            ("call 1", container("cntr_a", JULY, "4g"), JULY + MIN),
            ("call 2", Container("cntr_a"), JULY + 12 * MIN),
        ):
            with t.start_as_current_span(name) as tool:
                for outcome in ledger.observe(update, at):
                    recorder.container(outcome, LABELS, tool)
                    all_money.append(outcome)
            live = points(reader, sc.METRIC_CONTAINERS_LIVE)
            assert list(live.values()) == [1]
        with t.start_as_current_span("web search") as tool:
            for fee in tool_fees(ToolUsage(web_search_requests=2), "gpt-4.1", JULY, FeeBook({}),
                                 input_pricer(PriceBook({}))):
                recorder.fee(fee, LABELS, tool)
                all_money.append(fee)
        for outcome in ledger.observe(Container("cntr_a", deleted_at=JULY + 47 * MIN), JULY + 47 * MIN):
            recorder.container(outcome, LABELS, response)  # settled while the response span is open
            all_money.append(outcome)
        response.set_attributes(rollup_attributes(all_money))
    spans = {s.name: dict(s.attributes or {}) for s in exporter.get_finished_spans()}
    # 4g per minute ($0.006): 5-minute minimum at opening, 12 minutes by the second call, 47 at deletion
    assert spans["call 1"][sc.COST_CONTAINER] == 0.03
    assert spans["call 1"][sc.CONTAINER_CHARGE] == "opening"
    assert spans["call 1"][sc.CONTAINER_RULE] == "per_minute"
    assert spans["call 1"][sc.CONTAINER_LIFE] == "observed"
    assert spans["call 2"][sc.COST_CONTAINER] == 0.042
    assert spans["web search"][sc.COST_WEB_SEARCH] == 0.02
    assert spans["web search"][sc.WEB_SEARCH_BILLED_CALLS] == 2
    assert spans["response"][sc.CONTAINER_CHARGE] == "settlement"
    assert spans["response"][sc.COST_CONTAINER] == 0.21  # 35 more minutes
    assert spans["response"][sc.ROLLUP_COST_CONTAINER] == float(Decimal("0.282"))
    assert spans["response"][sc.ROLLUP_COST_WEB_SEARCH] == 0.02
    spend = points(reader, sc.METRIC_COST)
    container_key = tuple(sorted({**LABELS, sc.COST_KIND: "container", sc.CONTAINER_TIER: "4g",
                                  sc.CONTAINER_RULE: "per_minute"}.items()))
    assert round(spend[container_key], 9) == 0.282
    assert spend[tuple(sorted({**LABELS, sc.COST_KIND: "web_search"}.items()))] == 0.02
    assert list(points(reader, sc.METRIC_CONTAINERS_LIVE).values()) == [0]
    assert points(reader, sc.METRIC_CONTAINERS) == {
        tuple(sorted({**LABELS, sc.CONTAINER_TIER: "4g", sc.CONTAINER_RULE: "per_minute",
                      sc.CONTAINER_LIFE: "observed"}.items())): 1
    }


def test_unpriced_container_leaves_a_reason_and_no_spend() -> None:
    exporter, reader = InMemorySpanExporter(), InMemoryMetricReader()
    tracer = TracerProvider()
    tracer.add_span_processor(SimpleSpanProcessor(exporter))
    recorder = HostedToolsRecorder(Instruments(MeterProvider(metric_readers=[reader]).get_meter("t")))
    ledger = ContainerLedger(ContainerRules({}), MemorySessionStore())
    with tracer.get_tracer("t").start_as_current_span("call") as span:
        for outcome in ledger.observe(container("cntr_x", JULY, "128g"), JULY):
            recorder.container(outcome, LABELS, span)
    (finished,) = exporter.get_finished_spans()
    attrs = dict(finished.attributes or {})
    assert "128g" in attrs[sc.COST_UNPRICED_REASON] and sc.COST_CONTAINER not in attrs
    assert points(reader, sc.METRIC_COST) == {}
    recorder.auto_container_without_call(LABELS)
    assert list(points(reader, sc.METRIC_AUTO_CONTAINERS_WITHOUT_CALL).values()) == [1]
