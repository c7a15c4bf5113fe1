"""The one place that writes telemetry: a finished run or response (invocation + account) -> spans and metrics.

Spans are built when the run has ended, with the start and end times observed, so each span gets
all its attributes at once and a run's figures are final when exported. Metrics are recorded
whether or not the spans are sampled, so spend figures stay whole under any sampler.
Each figure is written once, where it belongs: tokens and their cost on the step span (leaf),
a Code Interpreter session charge on the tool span that opened it (leaf), and roll-ups on the run.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any, Iterator, Optional

from opentelemetry.trace import Span, SpanContext, Status, StatusCode, Tracer

from opentelemetry import trace

from . import semconv as sc
from .accounting.account import (
    COST_INPUT,
    COST_OUTPUT,
    COST_SESSION,
    CallAccount,
    ItemCharge,
    RunAccount,
    RunLeaf,
    StepAccount,
)
from .accounting.inference import COST_CACHE_WRITE, COST_CACHED_INPUT
from .config import Settings
from .invocation import Attrs, Invocation, SpanRecord
from .metrics import Instruments
from .model import Usage

logger = logging.getLogger(__name__)



def usd(value: Optional[Decimal]) -> Optional[float]:
    return float(value) if value is not None else None


class Telemetry:
    def __init__(self, tracer: Tracer, instruments: Instruments, settings: Settings) -> None:
        self.tracer = tracer
        self.instruments = instruments
        self.settings = settings

    def invocation_ended(self, invocation: Invocation, account: Optional[RunAccount]) -> dict[str, SpanContext]:
        """Write a finished run or response (or an agent call): its spans, then its metrics.

        Returns the span context of each tool call's span by call id, for links from later spans.
        """
        view = Ledger(account)
        root = invocation.root
        if invocation.status is not None:
            root.attributes = {**root.attributes, **view.run_attributes(invocation.api)}
        tools: dict[str, SpanContext] = {}
        self._span(invocation, root, invocation.parent, view, tools)
        self._span_metrics(invocation, list(_walk(root)))
        if invocation.status is not None:
            self._run_metrics(invocation, view)
        return tools

    def _span(self, invocation: Invocation, record: SpanRecord, parent: Any, view: Ledger,
              tools: dict[str, SpanContext]) -> None:
        if not invocation.spans:
            for sub in record.children:
                self._span(invocation, sub, parent, view, tools)
            return
        attrs: Attrs = dict(record.attributes)
        if record.inference_id is not None:
            attrs.update(view.step_attributes(record.inference_id))
        if record.tool_call_id is not None:
            attrs.update(view.call_attributes(record.tool_call_id))
        if record.error:
            attrs[sc.ERROR_TYPE] = record.error
        span: Span = self.tracer.start_span(record.name, kind=record.kind, context=parent, links=record.links,
                                            start_time=record.start_ns, attributes=_clean(attrs))
        if record.error:
            span.set_status(Status(StatusCode.ERROR, record.status_message or record.error))
        child = trace.set_span_in_context(span)
        for sub in record.children:
            self._span(invocation, sub, child, view, tools)
        span.end(record.end_ns)
        if record.tool is not None and record.tool_call_id:
            tools[record.tool_call_id] = span.get_span_context()

    # --- metrics ----------------------------------------------------------------------------------

    def _span_metrics(self, invocation: Invocation, records: list[SpanRecord]) -> None:
        """Durations of the timed spans, and tool calls counted once per tool of the run: each
        measurement costs the metrics SDK a few microseconds, so equal label sets are added up first."""
        base = self._duration_labels(invocation)
        tools: dict[tuple[str, str], int] = {}
        for record in records:
            if record.timed:
                labels = {**base, sc.GEN_AI_OPERATION_NAME: record.operation}
                if record.error:
                    labels[sc.ERROR_TYPE] = record.error
                self.instruments.duration.record(max(record.end_ns - record.start_ns, 0) / 1e9, labels)
            if record.tool is not None:
                tools[record.tool] = tools.get(record.tool, 0) + 1
        if tools:
            common = {sc.OPENAI_API_TYPE: invocation.api, **self._agent_label(invocation.agent_name),
                      **_project_label(invocation)}
            for (tool_type, name), count in tools.items():
                self.instruments.tool_calls.add(count, {sc.GEN_AI_TOOL_TYPE: tool_type, sc.GEN_AI_TOOL_NAME: name,
                                                        **common})

    def _run_metrics(self, invocation: Invocation, view: Ledger) -> None:
        labels = self.model_labels(invocation)
        self.instruments.runs.add(1, {**labels, sc.STATUS: invocation.status})
        view.record(self.instruments, labels, server=invocation.server, operation=invocation.token_operation)

    def model_labels(self, invocation: Invocation) -> Attrs:
        return _clean({sc.GEN_AI_PROVIDER_NAME: invocation.provider, sc.GEN_AI_REQUEST_MODEL: invocation.model,
                       sc.OPENAI_API_TYPE: invocation.api, **self._agent_label(invocation.agent_name),
                       **(invocation.metadata if self.settings.metadata_metric_labels else {}),
                       **_project_label(invocation)})

    def _duration_labels(self, invocation: Invocation) -> Attrs:
        return _clean({sc.GEN_AI_PROVIDER_NAME: invocation.provider, sc.GEN_AI_REQUEST_MODEL: invocation.model,
                       sc.OPENAI_API_TYPE: invocation.api, **self._agent_label(invocation.agent_name),
                       **invocation.server})

    def _agent_label(self, name: Optional[str]) -> Attrs:
        return {sc.GEN_AI_AGENT_NAME: name} if self.settings.assistant_label and name else {}

    def annotate(self, span: Span, account: Optional[RunAccount]) -> None:
        """Our cost attributes on another instrumentation's span, still open, that covers the same call
        (its own ``gen_ai.*`` figures are left as it wrote them)."""
        attrs = {k: v for k, v in Ledger(account).run_attributes().items() if not k.startswith("gen_ai.")}
        span.set_attributes(_clean(attrs))

    def fetch_outcome(self, kind: str, outcome: str) -> None:
        self.instruments.fetches.add(1, {sc.FETCH_KIND: kind, sc.FETCH_OUTCOME: outcome})


def _walk(record: SpanRecord) -> Iterator[SpanRecord]:
    yield record
    for sub in record.children:
        yield from _walk(sub)


def _project_label(invocation: Invocation) -> Attrs:
    """Lines our figures up with the bill, which OpenAI groups by project."""
    return {sc.PROJECT: invocation.project} if invocation.project else {}


def _clean(attrs: Attrs) -> Attrs:
    """Drop absent values: an attribute is either known or not there."""
    return {k: v for k, v in attrs.items() if v is not None and v != ""}


class Ledger:
    """A run's account read as attributes and metric records, each figure at its leaf.

    Leaves: a step's reported (or, in a run without reported usage, estimated) tokens and their cost
    (step span), a session charge (the tool span of the call that opened it), and the run's reported
    usage its steps don't cover (the run span, ``openai_cost.usage.scope`` = ``run`` or ``mixed``).
    Roll-ups on the run span are sums of the leaves.
    """

    def __init__(self, account: Optional[RunAccount]) -> None:
        self.account = account
        self.steps: dict[str, StepAccount] = {s.step_id: s for s in account.steps} if account else {}
        self.calls: dict[str, CallAccount] = {c.call_id: c for c in account.calls} if account else {}
        self.charges: dict[str, list[ItemCharge]] = {}
        for charge in account.charges if account else ():
            self.charges.setdefault(charge.call_id, []).append(charge)

    @property
    def run_leaf(self) -> Optional[RunLeaf]:
        return self.account.run_leaf if self.account is not None else None

    def _leaves(self) -> list[StepAccount]:
        return [s for s in self.steps.values() if s.leaf]

    def step_attributes(self, step_id: str) -> Attrs:
        step = self.steps.get(step_id)
        if step is None:
            return {}
        if not step.leaf:  # the run's reported usage counts this step: its estimate is for comparison
            estimate = step.estimate if step.usage.source == "reported" else step.usage
            return {sc.USAGE_ESTIMATED_INPUT: estimate.input_tokens if estimate else None,
                    sc.USAGE_ESTIMATED_OUTPUT: estimate.output_tokens if estimate else None}
        attrs = _usage_attrs(step.usage.input_tokens, step.usage.output_tokens, step.usage.source,
                             step.usage.partial, step.usage.degraded)
        if step.usage.source == "reported" and step.estimate is not None:
            attrs[sc.USAGE_ESTIMATED_INPUT] = step.estimate.input_tokens
            attrs[sc.USAGE_ESTIMATED_OUTPUT] = step.estimate.output_tokens
        attrs.update({sc.COST_INPUT: usd(step.input_usd), sc.COST_OUTPUT: usd(step.output_usd),
                      sc.COST_UNPRICED_REASON: step.unpriced_reason,
                      sc.PRICE_EFFECTIVE_DATE: _iso(step.price_effective_from)})
        return attrs

    def call_attributes(self, call_id: str) -> Attrs:
        attrs = self._charge_attributes(call_id)
        call = self.calls.get(call_id)
        if call is None:
            return attrs
        return {**attrs, sc.SESSION_OPENED: call.session_opened, sc.SESSION_INFERRED: call.inferred,
                sc.SESSION_LATE: True if call.late else None, sc.COST_SESSION: usd(call.session_usd),
                sc.COST_UNPRICED_REASON: call.unpriced_reason}

    def _charge_attributes(self, call_id: str) -> Attrs:
        """A tool call's own charges (container, fees): ``openai_cost.<kind>_usd`` each."""
        attrs: Attrs = {}
        for charge in self.charges.get(call_id, ()):
            if charge.usd is not None:
                key = f"openai_cost.{charge.kind}_usd"
                attrs[key] = float(charge.usd) + (attrs.get(key) or 0.0)
            elif charge.unpriced_reason:
                attrs[sc.COST_UNPRICED_REASON] = charge.unpriced_reason
            if charge.effective_from is not None:
                attrs[sc.PRICE_EFFECTIVE_DATE] = charge.effective_from.isoformat()
            attrs.update(charge.attributes)
        return attrs

    def spend(self) -> list[tuple[str, Attrs, Decimal]]:
        """The spend counter's increments: (kind, extra labels, USD); item charges by kind and labels."""
        grouped: dict[tuple[str, tuple[tuple[str, str], ...]], Decimal] = {}
        for charge in self.account.charges if self.account else ():
            if charge.usd is not None:
                key = (charge.kind, tuple(sorted(charge.labels.items())))
                grouped[key] = grouped.get(key, Decimal(0)) + charge.usd
        charged = {kind for kind, _ in grouped}
        rest: list[tuple[str, Attrs, Decimal]] = [(k, {}, v) for k, v in self.costs().items() if k not in charged]
        return rest + [(kind, dict(labels), value) for (kind, labels), value in grouped.items()]

    def costs(self) -> dict[str, Decimal]:
        """Cost by kind, summed over the leaves (priced leaves only)."""
        if self.account is None:
            return {}
        leaves, run = self._leaves(), self.run_leaf
        sums: dict[str, Decimal] = {}
        for charge in self.account.charges:
            if charge.usd is not None:
                sums[charge.kind] = sums.get(charge.kind, Decimal(0)) + charge.usd
        for kind, values in ((COST_INPUT, [s.input_usd for s in leaves] + [run.input_usd if run else None]),
                             (COST_OUTPUT, [s.output_usd for s in leaves] + [run.output_usd if run else None]),
                             (COST_CACHED_INPUT, [run.cached_input_usd if run else None]),
                             (COST_CACHE_WRITE, [run.cache_write_usd if run else None]),
                             (COST_SESSION, [c.session_usd for c in self.calls.values()])):
            priced = [v for v in values if v is not None]
            if priced:
                sums[kind] = sum(priced, Decimal(0))
        for kind, value in (run.parts_usd.items() if run else ()):  # audio tokens, each at its own rate
            sums[kind] = sums.get(kind, Decimal(0)) + value
        return sums

    def run_attributes(self, api: str = sc.API_ASSISTANTS) -> Attrs:
        """The root span's figures. A response is one inference, its tokens always its own leaf: its span
        carries no run vocabulary (``openai_cost.usage.scope``, ``openai_cost.usage.run_level.*``)."""
        account = self.account
        if account is None:
            return {}
        if account.usage_source is None:  # nothing known: only why
            return {sc.COST_UNPRICED_REASON: "; ".join(account.unpriced_reasons) or None}
        attrs = _usage_attrs(account.input_tokens, account.output_tokens, account.usage_source,
                             account.partial, account.degraded)
        costs = self.costs()
        is_run = api != sc.API_RESPONSES
        if is_run:
            attrs[sc.USAGE_SCOPE] = account.usage_scope
        run_leaf = self.run_leaf
        if run_leaf is not None:
            if is_run:
                attrs.update({sc.USAGE_RUN_LEVEL_INPUT: run_leaf.usage.input_tokens,
                              sc.USAGE_RUN_LEVEL_OUTPUT: run_leaf.usage.output_tokens})
            attrs.update({sc.COST_INPUT: usd(run_leaf.input_usd), sc.COST_OUTPUT: usd(run_leaf.output_usd),
                          sc.COST_CACHED_INPUT: usd(run_leaf.cached_input_usd),
                          sc.COST_CACHE_WRITE: usd(run_leaf.cache_write_usd),
                          sc.PRICE_MODIFIERS: account.price_modifiers or None, **_usage_parts(account.usage),
                          **{f"openai_cost.{kind}_usd": usd(v) for kind, v in run_leaf.parts_usd.items()},
                          **{f"openai_cost.rollup.{kind}_usd": usd(v) for kind, v in run_leaf.parts_usd.items()}})
        attrs.update({
            sc.ROLLUP_COST_INPUT: usd(costs.get(COST_INPUT)),
            sc.ROLLUP_COST_OUTPUT: usd(costs.get(COST_OUTPUT)),
            sc.ROLLUP_COST_CACHED_INPUT: usd(costs.get(COST_CACHED_INPUT)),
            sc.ROLLUP_COST_CACHE_WRITE: usd(costs.get(COST_CACHE_WRITE)),
            sc.ROLLUP_COST_SESSION: usd(costs.get(COST_SESSION)),
            **{f"openai_cost.rollup.{c.kind}_usd": usd(costs.get(c.kind)) for c in account.charges},
            sc.ROLLUP_COST_TOTAL: usd(sum(costs.values(), Decimal(0))) if costs else None,
            sc.COST_UNPRICED_REASON: "; ".join(account.unpriced_reasons) or None,
            sc.PRICE_EFFECTIVE_DATE: _iso(account.price_effective_from),
        })
        for kind in {c.kind for c in account.charges}:  # tool charges besides tokens (containers, fees)
            attrs[f"openai_cost.rollup.{kind}_usd"] = usd(costs.get(kind))
        return attrs

    def record(self, instruments: Instruments, labels: Attrs, server: Optional[Attrs] = None,
               operation: str = sc.OP_CHAT) -> None:
        account = self.account
        if account is None:
            return
        sources: dict[str, int] = {}  # inferences by usage source, added once each
        for step in self._leaves():
            self._record_usage(instruments, labels, step.usage.input_tokens, step.usage.output_tokens,
                               step.usage.source, server, operation)
            sources[step.usage.source] = sources.get(step.usage.source, 0) + 1
            self._record_estimate_error(instruments, labels, step)
            if step.unpriced_reason:
                self._record_unpriced(instruments, labels, step.usage.input_tokens, step.usage.output_tokens)
        run_leaf = self.run_leaf
        if run_leaf is not None:
            self._record_usage(instruments, labels, run_leaf.usage.input_tokens, run_leaf.usage.output_tokens,
                               run_leaf.usage.source, server, operation)
            sources[run_leaf.usage.source] = sources.get(run_leaf.usage.source, 0) + 1
            if run_leaf.unpriced_reason:
                self._record_unpriced(instruments, labels, run_leaf.usage.input_tokens,
                                      run_leaf.usage.output_tokens)
        model = _model_only(labels)
        for source, count in sources.items():
            instruments.usage_steps.add(count, {**model, sc.USAGE_SOURCE: source})
        agent = {k: v for k, v in labels.items()
                 if k in (sc.GEN_AI_AGENT_NAME, sc.GEN_AI_PROVIDER_NAME, sc.OPENAI_API_TYPE, sc.PROJECT)}
        opened = sum(1 for c in self.calls.values() if c.session_opened)
        if opened:
            instruments.sessions.add(opened, agent)
        costs = self.costs()
        for kind, extra, value in self.spend():
            instruments.cost.add(float(value), {**labels, **extra, sc.COST_KIND: kind})
        if account.unpriced_reasons:
            instruments.unpriced_runs.add(1, _model_only(labels))
        elif costs:
            instruments.run_cost.record(float(sum(costs.values(), Decimal(0))), labels)

    @staticmethod
    def _record_usage(instruments: Instruments, labels: Attrs, tokens_in: int, tokens_out: int,
                      source: str, server: Optional[Attrs] = None, operation: str = sc.OP_CHAT) -> None:
        base = {**labels, **(server or {}), sc.GEN_AI_OPERATION_NAME: operation, sc.USAGE_SOURCE: source}
        instruments.token_usage.record(tokens_in, {**base, sc.GEN_AI_TOKEN_TYPE: sc.TOKEN_TYPE_INPUT})
        instruments.token_usage.record(tokens_out, {**base, sc.GEN_AI_TOKEN_TYPE: sc.TOKEN_TYPE_OUTPUT})

    @staticmethod
    def _record_unpriced(instruments: Instruments, labels: Attrs, tokens_in: int, tokens_out: int) -> None:
        model = _model_only(labels)
        for kind, tokens in ((sc.TOKEN_TYPE_INPUT, tokens_in), (sc.TOKEN_TYPE_OUTPUT, tokens_out)):
            if tokens:
                instruments.unpriced_tokens.add(tokens, {**model, sc.GEN_AI_TOKEN_TYPE: kind})

    @staticmethod
    def _record_estimate_error(instruments: Instruments, labels: Attrs, step: StepAccount) -> None:
        if step.usage.source != "reported" or step.estimate is None:
            return
        model = _model_only(labels)
        for kind, reported, estimated in (
            (sc.TOKEN_TYPE_INPUT, step.usage.input_tokens, step.estimate.input_tokens),
            (sc.TOKEN_TYPE_OUTPUT, step.usage.output_tokens, step.estimate.output_tokens),
        ):
            if reported > 0:
                instruments.estimate_error.record(abs(estimated - reported) / reported,
                                                  {**model, sc.GEN_AI_TOKEN_TYPE: kind})


def _usage_attrs(tokens_in: int, tokens_out: int, source: str, partial: bool, degraded: bool) -> Attrs:
    return {sc.GEN_AI_USAGE_INPUT_TOKENS: tokens_in, sc.GEN_AI_USAGE_OUTPUT_TOKENS: tokens_out,
            sc.USAGE_SOURCE: source, sc.USAGE_PARTIAL: True if partial else None,
            sc.USAGE_DEGRADED: True if degraded else None}


def _usage_parts(usage: Optional[Usage]) -> Attrs:
    """The parts of one inference's tokens: cached and cache-write input, reasoning output."""
    if usage is None:
        return {}
    return {sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: usage.cached_input_tokens,
            sc.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS: usage.cache_write_tokens,
            sc.USAGE_REASONING_TOKENS: usage.reasoning_tokens,
            sc.USAGE_AUDIO_INPUT_TOKENS: usage.audio_input_tokens or None,
            sc.USAGE_AUDIO_OUTPUT_TOKENS: usage.audio_output_tokens or None,
            sc.USAGE_ACCEPTED_PREDICTION_TOKENS: usage.accepted_prediction_tokens or None,
            sc.USAGE_REJECTED_PREDICTION_TOKENS: usage.rejected_prediction_tokens or None}


def _model_only(labels: Attrs) -> Attrs:
    return {k: v for k, v in labels.items() if k in (sc.GEN_AI_REQUEST_MODEL, sc.OPENAI_API_TYPE)}


def _iso(day: Any) -> Optional[str]:
    return day.isoformat() if day is not None else None
