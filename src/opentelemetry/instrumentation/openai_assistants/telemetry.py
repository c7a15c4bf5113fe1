"""The one place that writes telemetry: a finished run (state + account) -> spans and metrics.

Spans are built when the run has ended, with the start and end times observed, so each span gets
all its attributes at once and a run's figures are final when exported. Metrics are recorded
whether or not the spans are sampled, so spend figures stay whole under any sampler.
Each figure is written once, where it belongs: tokens and their cost on the step span (leaf),
a Code Interpreter session charge on the tool span that opened it (leaf), and roll-ups on the run.
"""

from __future__ import annotations

import logging
import time
from decimal import Decimal
from typing import Any, Optional

from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer

from opentelemetry import trace

from . import observe
from . import semconv as sc
from .accounting.account import COST_INPUT, COST_OUTPUT, COST_SESSION, CallAccount, RunAccount, StepAccount
from .config import Settings
from .content import Content
from .hooks import Call
from .metrics import Instruments
from .model import ERROR_RUN_STATUSES, Assistant, ToolCall
from .state import RunState, StepState
from .timing import Window, run_window, step_window, tool_window

logger = logging.getLogger(__name__)

Attrs = dict[str, Any]
_FAILED_STEPS = frozenset({"failed", "expired", "cancelled"})
_TOOL_TYPES = {"function": sc.TOOL_TYPE_FUNCTION, "code_interpreter": sc.TOOL_TYPE_EXTENSION,
               "file_search": sc.TOOL_TYPE_DATASTORE}


def tool_type(call: ToolCall) -> str:
    return _TOOL_TYPES.get(call.type, sc.TOOL_TYPE_EXTENSION)


def usd(value: Optional[Decimal]) -> Optional[float]:
    return float(value) if value is not None else None


class Telemetry:
    def __init__(self, tracer: Tracer, instruments: Instruments, settings: Settings) -> None:
        self.tracer = tracer
        self.instruments = instruments
        self.settings = settings
        self.content = Content(settings.capture_content, settings.content_max_length)

    # --- create_agent -----------------------------------------------------------------------------

    def assistant_created(self, call: Call, assistant: Optional[Assistant], error: Optional[BaseException]) -> None:
        ended_ns, provider = time.time_ns(), observe.provider_of(call.client)
        name = (assistant.name if assistant else None) or _str(call.body.get("name"))
        model = (assistant.model if assistant else None) or _str(call.body.get("model"))
        attrs: Attrs = {sc.GEN_AI_OPERATION_NAME: sc.OP_CREATE_AGENT, sc.GEN_AI_PROVIDER_NAME: provider,
                        sc.GEN_AI_AGENT_NAME: name, sc.GEN_AI_REQUEST_MODEL: model,
                        sc.GEN_AI_AGENT_ID: assistant.id if assistant else None}
        if error is not None:
            attrs[sc.ERROR_TYPE] = type(error).__qualname__
        span = self.tracer.start_span(_name(sc.OP_CREATE_AGENT, name), kind=SpanKind.CLIENT,
                                      context=call.context, start_time=call.started_ns, attributes=_clean(attrs))
        if error is not None:
            span.set_status(Status(StatusCode.ERROR, type(error).__qualname__))
        span.end(ended_ns)
        self._duration(ended_ns - call.started_ns, sc.OP_CREATE_AGENT, provider, model, name,
                       type(error).__qualname__ if error else None)

    # --- runs -------------------------------------------------------------------------------------

    def run_ended(self, state: RunState, account: Optional[RunAccount]) -> None:
        view = Ledger(account)
        base = self._base(state)
        run = run_window(state)
        span = self.tracer.start_span(_name(sc.OP_INVOKE_AGENT, state.assistant_name or state.run.assistant_id),
                                      kind=SpanKind.CLIENT, context=state.parent, start_time=run.start,
                                      attributes=_clean({**base, **self._run_attrs(state, view)}))
        parent = trace.set_span_in_context(span)
        for step in state.ordered_steps():
            self._step(state, step, view, run, parent, base)
        error = self._run_error(state)
        if error:
            span.set_status(Status(StatusCode.ERROR, state.run.error_message or error))
        span.end(run.end)
        self._run_metrics(state, view, run, error)

    def _base(self, state: RunState) -> Attrs:
        run = state.run
        return {
            sc.GEN_AI_PROVIDER_NAME: state.provider,
            sc.GEN_AI_AGENT_ID: run.assistant_id,
            sc.GEN_AI_AGENT_NAME: state.assistant_name,
            sc.GEN_AI_CONVERSATION_ID: run.thread_id or None,
            sc.GEN_AI_REQUEST_MODEL: run.model,
            sc.SERVER_ADDRESS: state.server_address,
            sc.SERVER_PORT: state.server_port,
            sc.RUN_ID: run.id or None,
            **self._metadata(state),
        }

    def _metadata(self, state: RunState) -> Attrs:
        keys = self.settings.metadata_keys
        metadata = state.metadata
        return {sc.METADATA_PREFIX + k: metadata[k] for k in keys if k in metadata}

    def _run_attrs(self, state: RunState, view: Ledger) -> Attrs:
        run = state.run
        attrs: Attrs = {
            sc.GEN_AI_OPERATION_NAME: sc.OP_INVOKE_AGENT,
            sc.GEN_AI_RESPONSE_MODEL: run.model,
            sc.RUN_STATUS: run.status,
            sc.RUN_END_REASON: state.end_reason,
            sc.RUN_ERROR_CODE: run.error_code,
            sc.RUN_ERROR_MESSAGE: run.error_message,
            sc.RUN_INCOMPLETE_REASON: run.incomplete_reason,
            sc.ROLLUP_STEPS: len(state.steps),
            sc.ERROR_TYPE: self._run_error(state),
            **self.content.run(state),
        }
        attrs.update(view.run_attributes())
        return attrs

    @staticmethod
    def _run_error(state: RunState) -> Optional[str]:
        run = state.run
        if run.status in ERROR_RUN_STATUSES:
            return run.error_code or run.status
        if state.end_reason != "observed":
            return run.error_code if state.end_reason == "request_failed" else state.end_reason
        return None

    # --- steps and tool calls ---------------------------------------------------------------------

    def _step(self, state: RunState, step: StepState, view: Ledger, run: Window, parent: Any,
              base: Attrs) -> None:
        window, timing = step_window(step, run)
        calls = [(i, c, tool_window(state, step, i, c, window, run)) for i, c in enumerate(step.step.tool_calls)]
        end = max([window.end, *(w.end for _, _, w in calls)])
        attrs: Attrs = {**base, sc.GEN_AI_OPERATION_NAME: sc.OP_CHAT, sc.GEN_AI_RESPONSE_MODEL: state.run.model,
                        sc.GEN_AI_RESPONSE_ID: step.step.id, sc.STEP_ID: step.step.id, sc.STEP_TYPE: step.step.type,
                        sc.STEP_STATUS: step.step.status, sc.STEP_TIMING: timing,
                        sc.STEP_MESSAGE_ID: step.step.message_id,
                        **self.content.message(state.messages.get(step.step.message_id or ""))}
        attrs.update(view.step_attributes(step.step.id))
        span = self.tracer.start_span(_name(sc.OP_CHAT, state.run.model), kind=SpanKind.CLIENT,
                                      context=parent, start_time=window.start, attributes=_clean(attrs))
        error = step.step.error_code or step.step.status if step.step.status in _FAILED_STEPS else None
        if error:
            span.set_attribute(sc.ERROR_TYPE, error)
            span.set_status(Status(StatusCode.ERROR, step.step.error_message or step.step.status))
        child = trace.set_span_in_context(span)
        for _, call, call_window in calls:
            self._tool(state, call, call_window, view, child, base)
        span.end(end)
        self._duration(end - window.start, sc.OP_CHAT, state.provider, state.run.model, state.assistant_name,
                       error)

    def _tool(self, state: RunState, call: ToolCall, window: Window, view: Ledger, parent: Any,
              base: Attrs) -> None:
        attrs: Attrs = {
            **base,
            sc.GEN_AI_OPERATION_NAME: sc.OP_EXECUTE_TOOL,
            sc.GEN_AI_TOOL_NAME: call.name,
            sc.GEN_AI_TOOL_CALL_ID: call.id or None,
            sc.GEN_AI_TOOL_TYPE: tool_type(call),
            sc.TOOL_WAIT: True if call.id in state.awaiting_ns else None,
            **self.content.tool_call(call, state.submitted_outputs.get(call.id)),
        }
        attrs.update(view.call_attributes(call.id))
        span: Span = self.tracer.start_span(_name(sc.OP_EXECUTE_TOOL, call.name), kind=SpanKind.INTERNAL,
                                            context=parent, start_time=window.start, attributes=_clean(attrs))
        span.end(window.end)
        self._duration(window.end - window.start, sc.OP_EXECUTE_TOOL, state.provider, state.run.model,
                       state.assistant_name, None)
        labels = {sc.GEN_AI_TOOL_TYPE: tool_type(call), sc.GEN_AI_TOOL_NAME: call.name,
                  sc.OPENAI_API_TYPE: sc.API_ASSISTANTS, **self._agent_label(state.assistant_name),
                  **project_label(state.client)}
        self.instruments.tool_calls.add(1, labels)

    # --- metrics ----------------------------------------------------------------------------------

    def _run_metrics(self, state: RunState, view: Ledger, run: Window, error: Optional[str]) -> None:
        labels = {sc.GEN_AI_PROVIDER_NAME: state.provider, sc.GEN_AI_REQUEST_MODEL: state.run.model,
                  sc.STATUS: state.run.status if state.end_reason == "observed" else state.end_reason,
                  sc.OPENAI_API_TYPE: sc.API_ASSISTANTS,
                  **self._agent_label(state.assistant_name), **self._metadata_labels(state)}
        self.instruments.runs.add(1, _clean(labels))
        self._duration(run.end - run.start, sc.OP_INVOKE_AGENT, state.provider, state.run.model,
                       state.assistant_name, error)
        view.record(self.instruments, self.model_labels(state))

    def model_labels(self, state: RunState) -> Attrs:
        return _clean({sc.GEN_AI_PROVIDER_NAME: state.provider, sc.GEN_AI_REQUEST_MODEL: state.run.model,
                       sc.OPENAI_API_TYPE: sc.API_ASSISTANTS, **self._agent_label(state.assistant_name),
                       **self._metadata_labels(state), **project_label(state.client)})

    def _duration(self, ns: int, operation: str, provider: str, model: Optional[str], agent: Optional[str],
                  error: Optional[str]) -> None:
        labels = {sc.GEN_AI_OPERATION_NAME: operation, sc.GEN_AI_PROVIDER_NAME: provider,
                  sc.GEN_AI_REQUEST_MODEL: model, sc.ERROR_TYPE: error, sc.OPENAI_API_TYPE: sc.API_ASSISTANTS,
                  **self._agent_label(agent)}
        self.instruments.duration.record(max(ns, 0) / 1e9, _clean(labels))

    def _agent_label(self, name: Optional[str]) -> Attrs:
        return {sc.GEN_AI_AGENT_NAME: name} if self.settings.assistant_label and name else {}

    def _metadata_labels(self, state: RunState) -> Attrs:
        return self._metadata(state) if self.settings.metadata_metric_labels else {}

    def fetch_outcome(self, kind: str, outcome: str) -> None:
        self.instruments.fetches.add(1, {sc.FETCH_KIND: kind, sc.FETCH_OUTCOME: outcome})


def project_label(client: Any) -> Attrs:
    """The client's OpenAI project id (a handful per app), which lines our figures up with the bill."""
    project = getattr(client, "project", None)
    return {sc.PROJECT: project} if isinstance(project, str) and project else {}


def _name(operation: str, target: Optional[str]) -> str:
    return f"{operation} {target}" if target else operation


def _str(value: Any) -> Optional[str]:
    return value if isinstance(value, str) else None


def _clean(attrs: Attrs) -> Attrs:
    """Drop absent values: an attribute is either known or not there."""
    return {k: v for k, v in attrs.items() if v is not None and v != ""}


class Ledger:
    """A run's account read as attributes and metric records, each figure at its leaf.

    Leaves: a step's tokens and their cost (step span), a session charge (the tool span of the call
    that opened it). When a run's steps are unknown, its reported tokens and their cost are leaves
    on the run span itself. Roll-ups on the run span are sums of the leaves.
    """

    def __init__(self, account: Optional[RunAccount]) -> None:
        self.account = account
        self.steps: dict[str, StepAccount] = {s.step_id: s for s in account.steps} if account else {}
        self.calls: dict[str, CallAccount] = {c.call_id: c for c in account.calls} if account else {}

    @property
    def run_is_leaf(self) -> bool:
        return self.account is not None and not self.steps and self.account.usage_source is not None

    def step_attributes(self, step_id: str) -> Attrs:
        step = self.steps.get(step_id)
        if step is None:
            return {}
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
        call = self.calls.get(call_id)
        if call is None:
            return {}
        return {sc.SESSION_OPENED: call.session_opened, sc.SESSION_INFERRED: call.inferred,
                sc.SESSION_LATE: True if call.late else None, sc.COST_SESSION: usd(call.session_usd),
                sc.COST_UNPRICED_REASON: call.unpriced_reason}

    def costs(self) -> dict[str, Decimal]:
        """Cost by kind, summed over the leaves (priced leaves only)."""
        account = self.account
        if account is None:
            return {}
        if self.run_is_leaf:
            return {k: v for k, v in account.cost_usd.items() if k in (COST_INPUT, COST_OUTPUT)}
        sums: dict[str, Decimal] = {}
        for kind, values in ((COST_INPUT, [s.input_usd for s in self.steps.values()]),
                             (COST_OUTPUT, [s.output_usd for s in self.steps.values()]),
                             (COST_SESSION, [c.session_usd for c in self.calls.values()])):
            priced = [v for v in values if v is not None]
            if priced:
                sums[kind] = sum(priced, Decimal(0))
        return sums

    def run_attributes(self) -> Attrs:
        account = self.account
        if account is None or account.usage_source is None:
            return {}
        attrs = _usage_attrs(account.input_tokens, account.output_tokens, account.usage_source,
                             account.partial, account.degraded)
        costs = self.costs()
        if self.run_is_leaf:
            attrs.update({sc.COST_INPUT: usd(costs.get(COST_INPUT)), sc.COST_OUTPUT: usd(costs.get(COST_OUTPUT))})
        attrs.update({
            sc.ROLLUP_COST_INPUT: usd(costs.get(COST_INPUT)),
            sc.ROLLUP_COST_OUTPUT: usd(costs.get(COST_OUTPUT)),
            sc.ROLLUP_COST_SESSION: usd(costs.get(COST_SESSION)),
            sc.ROLLUP_COST_TOTAL: usd(sum(costs.values(), Decimal(0))) if costs else None,
            sc.COST_UNPRICED_REASON: "; ".join(account.unpriced_reasons) or None,
            sc.PRICE_EFFECTIVE_DATE: _iso(account.price_effective_from),
        })
        return attrs

    def record(self, instruments: Instruments, labels: Attrs) -> None:
        account = self.account
        if account is None:
            return
        for step in self.steps.values():
            self._record_usage(instruments, labels, step.usage.input_tokens, step.usage.output_tokens,
                               step.usage.source)
            self._record_estimate_error(instruments, labels, step)
            if step.unpriced_reason:
                self._record_unpriced(instruments, labels, step.usage.input_tokens, step.usage.output_tokens)
        if self.run_is_leaf:
            self._record_usage(instruments, labels, account.input_tokens, account.output_tokens,
                               account.usage_source or "reported")
            self._record_unpriced(instruments, labels, account.unpriced_input_tokens,
                                  account.unpriced_output_tokens)
        agent = {k: v for k, v in labels.items()
                 if k in (sc.GEN_AI_AGENT_NAME, sc.GEN_AI_PROVIDER_NAME, sc.OPENAI_API_TYPE, sc.PROJECT)}
        opened = sum(1 for c in self.calls.values() if c.session_opened)
        if opened:
            instruments.sessions.add(opened, agent)
        for kind, value in self.costs().items():
            instruments.cost.add(float(value), {**labels, sc.COST_KIND: kind})
        if account.unpriced_reasons:
            instruments.unpriced_runs.add(1, _model_only(labels))
        elif self.costs():
            instruments.run_cost.record(float(sum(self.costs().values(), Decimal(0))), labels)

    @staticmethod
    def _record_usage(instruments: Instruments, labels: Attrs, tokens_in: int, tokens_out: int,
                      source: str) -> None:
        base = {**labels, sc.GEN_AI_OPERATION_NAME: sc.OP_CHAT, sc.USAGE_SOURCE: source}
        instruments.token_usage.record(tokens_in, {**base, sc.GEN_AI_TOKEN_TYPE: sc.TOKEN_TYPE_INPUT})
        instruments.token_usage.record(tokens_out, {**base, sc.GEN_AI_TOKEN_TYPE: sc.TOKEN_TYPE_OUTPUT})
        instruments.usage_steps.add(1, {**_model_only(labels), sc.USAGE_SOURCE: source})

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


def _model_only(labels: Attrs) -> Attrs:
    return {k: v for k, v in labels.items() if k in (sc.GEN_AI_REQUEST_MODEL, sc.OPENAI_API_TYPE)}


def _iso(day: Any) -> Optional[str]:
    return day.isoformat() if day is not None else None
