"""The one place that writes telemetry: a finished run (state + account) -> spans and metrics.

Spans are built when the run has ended, with the start and end times observed, so each span gets
all its attributes at once and a run's figures are final when exported. Metrics are recorded
whether or not the spans are sampled, so spend figures stay whole under any sampler.
Each figure is written once, where it belongs: tokens and their cost on the step span (leaf),
a Code Interpreter session charge on the tool span that opened it (leaf), and roll-ups on the run.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any, Optional

from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer

from . import semconv as sc
from .config import Settings
from .content import Content
from .hooks import Call
from .metrics import Instruments
from .model import ERROR_RUN_STATUSES, Assistant, ToolCall
from .state import RunState, StepState
from .timing import Window, run_window, step_window, tool_window

logger = logging.getLogger(__name__)

Attrs = dict[str, Any]
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

    def assistant_created(self, call: Call, assistant: Optional[Assistant], error: Optional[BaseException],
                          ended_ns: int, provider: str) -> None:
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

    def run_ended(self, state: RunState, account: Any) -> None:
        base = self._base(state)
        run = run_window(state)
        span = self.tracer.start_span(_name(sc.OP_INVOKE_AGENT, state.assistant_name or state.run.assistant_id),
                                      kind=SpanKind.CLIENT, context=state.parent, start_time=run.start,
                                      attributes=_clean({**base, **self._run_attrs(state, account)}))
        parent = trace.set_span_in_context(span)
        for step in state.ordered_steps():
            self._step(state, step, account, run, parent, base)
        error = self._run_error(state)
        if error:
            span.set_status(Status(StatusCode.ERROR, state.run.error_message or error))
        span.end(run.end)
        self._run_metrics(state, account, run, error)

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
        return {sc.METADATA_PREFIX + k: state.run.metadata[k] for k in keys if k in state.run.metadata}

    def _run_attrs(self, state: RunState, account: Any) -> Attrs:
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
        if account is not None:
            attrs.update(account.run_attributes())
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

    def _step(self, state: RunState, step: StepState, account: Any, run: Window, parent: Any,
              base: Attrs) -> None:
        window, timing = step_window(step, run)
        calls = [(i, c, tool_window(state, step, i, c, window, run)) for i, c in enumerate(step.step.tool_calls)]
        end = max([window.end, *(w.end for _, _, w in calls)])
        attrs: Attrs = {**base, sc.GEN_AI_OPERATION_NAME: sc.OP_CHAT, sc.GEN_AI_RESPONSE_MODEL: state.run.model,
                        sc.GEN_AI_RESPONSE_ID: step.step.id, sc.STEP_ID: step.step.id, sc.STEP_TYPE: step.step.type,
                        sc.STEP_STATUS: step.step.status, sc.STEP_TIMING: timing,
                        sc.STEP_MESSAGE_ID: step.step.message_id,
                        **self.content.message(state.messages.get(step.step.message_id or ""))}
        if account is not None:
            attrs.update(account.step_attributes(step.step.id))
        span = self.tracer.start_span(_name(sc.OP_CHAT, state.run.model), kind=SpanKind.CLIENT,
                                      context=parent, start_time=window.start, attributes=_clean(attrs))
        if step.step.status in ("failed", "expired", "cancelled"):
            span.set_attribute(sc.ERROR_TYPE, step.step.error_code or step.step.status)
            span.set_status(Status(StatusCode.ERROR, step.step.error_message or step.step.status))
        child = trace.set_span_in_context(span)
        for _, call, call_window in calls:
            self._tool(state, call, call_window, account, child, base)
        span.end(end)
        self._duration(end - window.start, sc.OP_CHAT, state.provider, state.run.model, state.assistant_name,
                       None)

    def _tool(self, state: RunState, call: ToolCall, window: Window, account: Any, parent: Any,
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
        if account is not None:
            attrs.update(account.call_attributes(call.id))
        span: Span = self.tracer.start_span(_name(sc.OP_EXECUTE_TOOL, call.name), kind=SpanKind.INTERNAL,
                                            context=parent, start_time=window.start, attributes=_clean(attrs))
        span.end(window.end)
        labels = {sc.GEN_AI_TOOL_TYPE: tool_type(call), sc.GEN_AI_TOOL_NAME: call.name,
                  **self._agent_label(state.assistant_name)}
        self.instruments.tool_calls.add(1, labels)

    # --- metrics ----------------------------------------------------------------------------------

    def _run_metrics(self, state: RunState, account: Any, run: Window, error: Optional[str]) -> None:
        labels = {sc.GEN_AI_PROVIDER_NAME: state.provider, sc.GEN_AI_REQUEST_MODEL: state.run.model,
                  sc.RUN_STATUS: state.run.status if state.end_reason == "observed" else state.end_reason,
                  **self._agent_label(state.assistant_name), **self._metadata_labels(state)}
        self.instruments.runs.add(1, _clean(labels))
        self._duration(run.end - run.start, sc.OP_INVOKE_AGENT, state.provider, state.run.model,
                       state.assistant_name, error)
        if account is not None:
            account.record_metrics(self.instruments, self.model_labels(state))

    def model_labels(self, state: RunState) -> Attrs:
        return _clean({sc.GEN_AI_PROVIDER_NAME: state.provider, sc.GEN_AI_REQUEST_MODEL: state.run.model,
                       **self._agent_label(state.assistant_name), **self._metadata_labels(state)})

    def _duration(self, ns: int, operation: str, provider: str, model: Optional[str], agent: Optional[str],
                  error: Optional[str]) -> None:
        labels = {sc.GEN_AI_OPERATION_NAME: operation, sc.GEN_AI_PROVIDER_NAME: provider,
                  sc.GEN_AI_REQUEST_MODEL: model, sc.ERROR_TYPE: error, **self._agent_label(agent)}
        self.instruments.duration.record(max(ns, 0) / 1e9, _clean(labels))

    def _agent_label(self, name: Optional[str]) -> Attrs:
        return {sc.GEN_AI_AGENT_NAME: name} if self.settings.assistant_label and name else {}

    def _metadata_labels(self, state: RunState) -> Attrs:
        return self._metadata(state) if self.settings.metadata_metric_labels else {}

    def fetch_outcome(self, kind: str, outcome: str) -> None:
        self.instruments.fetches.add(1, {sc.FETCH_KIND: kind, sc.FETCH_OUTCOME: outcome})


def _name(operation: str, target: Optional[str]) -> str:
    return f"{operation} {target}" if target else operation


def _str(value: Any) -> Optional[str]:
    return value if isinstance(value, str) else None


def _clean(attrs: Attrs) -> Attrs:
    """Drop absent values: an attribute is either known or not there."""
    return {k: v for k, v in attrs.items() if v is not None and v != ""}
