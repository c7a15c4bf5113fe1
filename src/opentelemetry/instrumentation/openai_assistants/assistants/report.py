"""A finished run as the records telemetry writes: an ``invoke_agent`` span, a ``chat`` span per step
and an ``execute_tool`` span per tool call, each at the window observed (``timing``)."""

from __future__ import annotations

import time
from typing import Optional

from opentelemetry.trace import SpanKind

from .. import semconv as sc
from ..config import Settings
from ..content import Content
from ..fields import project_of, provider_of, server_of
from ..frontends import Call
from ..invocation import Attrs, Invocation, SpanRecord, server_labels
from ..model import ERROR_RUN_STATUSES, Assistant, ToolCall
from .state import RunState, StepState
from .timing import Window, run_window, step_window, tool_window

_FAILED_STEPS = frozenset({"failed", "expired", "cancelled"})
_TOOL_TYPES = {"function": sc.TOOL_TYPE_FUNCTION, "code_interpreter": sc.TOOL_TYPE_EXTENSION,
               "file_search": sc.TOOL_TYPE_DATASTORE}


_TIMED_ENDINGS = frozenset({"observed", "request_failed"})  # ends whose time was seen, not guessed


def tool_type(call: ToolCall) -> str:
    return _TOOL_TYPES.get(call.type, sc.TOOL_TYPE_EXTENSION)


def name(operation: str, target: Optional[str]) -> str:
    return f"{operation} {target}" if target else operation


class RunReporter:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.content = Content(settings.capture_content, settings.content_max_length)

    # --- create_agent -----------------------------------------------------------------------------

    def assistant_created(self, call: Call, assistant: Optional[Assistant],
                          error: Optional[BaseException]) -> Invocation:
        ended_ns, provider = time.time_ns(), provider_of(call.client)
        agent = (assistant.name if assistant else None) or _str(call.body.get("name"))
        model = (assistant.model if assistant else None) or _str(call.body.get("model"))
        attrs: Attrs = {sc.GEN_AI_OPERATION_NAME: sc.OP_CREATE_AGENT, sc.GEN_AI_PROVIDER_NAME: provider,
                        sc.GEN_AI_AGENT_NAME: agent, sc.GEN_AI_REQUEST_MODEL: model,
                        sc.GEN_AI_AGENT_ID: assistant.id if assistant else None}
        record = SpanRecord(sc.OP_CREATE_AGENT, name(sc.OP_CREATE_AGENT, agent), SpanKind.CLIENT, call.started_ns,
                            ended_ns, attrs, error=type(error).__qualname__ if error is not None else None)
        return Invocation(sc.API_ASSISTANTS, provider, model, agent, call.context, record,
                          server=server_labels(*server_of(call.client)))

    # --- runs -------------------------------------------------------------------------------------

    def run(self, state: RunState) -> Invocation:
        base = self._base(state)
        window = run_window(state)
        error = run_error(state)
        root = SpanRecord(
            sc.OP_INVOKE_AGENT, name(sc.OP_INVOKE_AGENT, state.assistant_name or state.run.assistant_id),
            SpanKind.CLIENT, window.start, window.end, {**base, **self._run_attrs(state)}, error=error,
            status_message=state.run.error_message or error,
            children=[self._step(state, step, window, base) for step in state.ordered_steps()],
            timed=state.end_reason in _TIMED_ENDINGS,
        )
        status = state.run.status if state.end_reason == "observed" else state.end_reason
        return Invocation(sc.API_ASSISTANTS, state.provider, state.run.model, state.assistant_name, state.parent,
                          root, status=status, metadata=self._metadata(state), project=project_of(state.client),
                          server=server_labels(state.server_address, state.server_port))

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

    def _run_attrs(self, state: RunState) -> Attrs:
        run = state.run
        outputs = sorted(state.messages.values(), key=lambda m: m.created_at or 0)
        return {
            sc.GEN_AI_OPERATION_NAME: sc.OP_INVOKE_AGENT,
            sc.GEN_AI_RESPONSE_MODEL: run.model,
            sc.RUN_STATUS: run.status,
            sc.RUN_END_REASON: state.end_reason,
            sc.RUN_ERROR_CODE: run.error_code,
            sc.RUN_ERROR_MESSAGE: run.error_message,
            sc.RUN_INCOMPLETE_REASON: run.incomplete_reason,
            sc.ROLLUP_STEPS: len(state.steps),
            sc.RUN_ACCOUNTED: state.accounted,
            **self.content.invocation((run.instructions, state.request.additional_instructions), outputs),
        }

    # --- steps and tool calls ---------------------------------------------------------------------

    def _step(self, state: RunState, step: StepState, run: Window, base: Attrs) -> SpanRecord:
        window, timing = step_window(step, run)
        calls = [(c, tool_window(state, step, i, c, window, run)) for i, c in enumerate(step.step.tool_calls)]
        end = max([window.end, *(w.end for _, w in calls)])
        attrs: Attrs = {**base, sc.GEN_AI_OPERATION_NAME: sc.OP_CHAT, sc.GEN_AI_RESPONSE_MODEL: state.run.model,
                        sc.GEN_AI_RESPONSE_ID: step.step.id, sc.STEP_ID: step.step.id, sc.STEP_TYPE: step.step.type,
                        sc.STEP_STATUS: step.step.status, sc.STEP_TIMING: timing,
                        sc.STEP_MESSAGE_ID: step.step.message_id,
                        **self.content.message(state.messages.get(step.step.message_id or ""))}
        error = step.step.error_code or step.step.status if step.step.status in _FAILED_STEPS else None
        return SpanRecord(sc.OP_CHAT, name(sc.OP_CHAT, state.run.model), SpanKind.CLIENT, window.start, end, attrs,
                          error=error, status_message=step.step.error_message or step.step.status,
                          inference_id=step.step.id,
                          children=[self._tool(state, call, w, base) for call, w in calls])

    def _tool(self, state: RunState, call: ToolCall, window: Window, base: Attrs) -> SpanRecord:
        attrs: Attrs = {
            **base,
            sc.GEN_AI_OPERATION_NAME: sc.OP_EXECUTE_TOOL,
            sc.GEN_AI_TOOL_NAME: call.name,
            sc.GEN_AI_TOOL_CALL_ID: call.id or None,
            sc.GEN_AI_TOOL_TYPE: tool_type(call),
            sc.TOOL_WAIT: True if call.id in state.awaiting_ns else None,
            **self.content.tool_call(call, state.submitted_outputs.get(call.id)),
        }
        return SpanRecord(sc.OP_EXECUTE_TOOL, name(sc.OP_EXECUTE_TOOL, call.name), SpanKind.INTERNAL,
                          window.start, window.end, attrs, tool_call_id=call.id, tool=(tool_type(call), call.name))


def run_error(state: RunState) -> Optional[str]:
    run = state.run
    if run.status in ERROR_RUN_STATUSES:
        return run.error_code or run.status
    if state.end_reason != "observed":
        return run.error_code if state.end_reason == "request_failed" else state.end_reason
    return None


def _str(value: object) -> Optional[str]:
    return value if isinstance(value, str) else None
