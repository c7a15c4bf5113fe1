"""A finished response as the records telemetry writes: one ``chat {model}`` span from creation to
its terminal status, and under it one ``execute_tool`` span per tool-call item, timed by the stream's
item events where it was streamed, else sharing the response's window."""

from __future__ import annotations

from typing import Any, Optional

from opentelemetry.trace import Link, SpanKind

from .. import semconv as sc
from ..config import Settings
from ..content import Content
from ..fields import project_of
from ..invocation import Attrs, Invocation, SpanRecord, server_labels
from ..model import ERROR_RESPONSE_STATUSES, Message, ToolCall
from .state import ResponseState

_TOOL_TYPES = {"function": sc.TOOL_TYPE_FUNCTION, "custom_tool": sc.TOOL_TYPE_FUNCTION,
               "file_search": sc.TOOL_TYPE_DATASTORE}
_FINISH = {"completed": "stop", "failed": "error", "cancelled": "cancelled"}
_STREAM, _RESPONSE = "stream", "response"


def tool_type(call: ToolCall) -> str:
    return _TOOL_TYPES.get(call.type, sc.TOOL_TYPE_EXTENSION)


def _name(operation: str, target: Optional[str]) -> str:
    return f"{operation} {target}" if target else operation


class ResponseReporter:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.content = Content(settings.capture_content, settings.content_max_length)

    def response(self, state: ResponseState, links: list[Any]) -> Invocation:
        response, request = state.response, state.request
        model = request.model or response.model
        start = state.started_ns
        end = max(state.ended_ns or start, start)
        base: Attrs = {
            sc.GEN_AI_PROVIDER_NAME: state.provider,
            sc.GEN_AI_REQUEST_MODEL: model,
            sc.GEN_AI_CONVERSATION_ID: request.conversation_id or response.conversation_id,
            sc.GEN_AI_RESPONSE_ID: response.id or None,
            sc.SERVER_ADDRESS: state.server_address,
            sc.SERVER_PORT: state.server_port,
            sc.OPENAI_API_TYPE: sc.API_RESPONSES,
            **self._metadata(state),
        }
        error = response_error(state)
        root = SpanRecord(
            sc.OP_CHAT, _name(sc.OP_CHAT, model), SpanKind.CLIENT, start, end,
            {**base, **self._attrs(state)}, error=error, status_message=response.error_message or error,
            links=[Link(context) for context in links if context is not None],
            children=[self._tool(state, call, start, end, base) for call in response.tool_calls],
        )
        status = response.status if state.end_reason == "observed" else state.end_reason
        return Invocation(sc.API_RESPONSES, state.provider, model, None, state.parent, root, status=status,
                          metadata=self._metadata(state), spans=self.settings.responses_spans,
                          project=project_of(state.client),
                          server=server_labels(state.server_address, state.server_port))

    def _attrs(self, state: ResponseState) -> Attrs:
        response, request = state.response, state.request
        outputs = [Message(id=response.id, thread_id="", role="assistant", text=response.output_text)]
        return {
            sc.GEN_AI_OPERATION_NAME: sc.OP_CHAT,
            sc.GEN_AI_RESPONSE_MODEL: response.model,
            sc.GEN_AI_RESPONSE_FINISH_REASONS: finish_reasons(state),
            sc.OPENAI_REQUEST_SERVICE_TIER: request.service_tier,
            sc.OPENAI_RESPONSE_SERVICE_TIER: response.service_tier,
            sc.RESPONSE_STATUS: response.status,
            sc.RESPONSE_END_REASON: state.end_reason,
            sc.RESPONSE_PREVIOUS_ID: request.previous_response_id or response.previous_response_id,
            sc.RESPONSE_BACKGROUND: True if response.background or request.background else None,
            sc.RESPONSE_ERROR_CODE: response.error_code,
            sc.RESPONSE_ERROR_MESSAGE: response.error_message,
            sc.RESPONSE_INCOMPLETE_REASON: response.incomplete_reason,
            **self.content.invocation((response.instructions,), outputs if response.output_text else []),
        }

    def _metadata(self, state: ResponseState) -> Attrs:
        metadata = state.response.metadata
        return {sc.METADATA_PREFIX + k: metadata[k] for k in self.settings.metadata_keys if k in metadata}

    def _tool(self, state: ResponseState, call: ToolCall, start: int, end: int, base: Attrs) -> SpanRecord:
        item = call.item_id or ""
        began, done = state.item_started_ns.get(item), state.item_ended_ns.get(item)
        timing = _STREAM if began is not None else _RESPONSE
        t0 = min(max(began or start, start), end)
        t1 = min(max(done or end, t0), end)
        attrs: Attrs = {
            **base,
            sc.GEN_AI_OPERATION_NAME: sc.OP_EXECUTE_TOOL,
            sc.GEN_AI_TOOL_NAME: call.name,
            sc.GEN_AI_TOOL_CALL_ID: call.id or None,
            sc.GEN_AI_TOOL_TYPE: tool_type(call),
            sc.ITEM_ID: call.item_id,
            sc.ITEM_TYPE: call.type,
            sc.ITEM_STATUS: call.status,
            sc.ITEM_CONTAINER_ID: call.container_id,
            sc.ITEM_ACTION: call.action,
            sc.RESPONSE_TIMING: timing,
            **self.content.tool_call(call, None),
        }
        error = call.status if call.status in ("failed", "incomplete") else None
        return SpanRecord(sc.OP_EXECUTE_TOOL, _name(sc.OP_EXECUTE_TOOL, call.name), SpanKind.INTERNAL, t0, t1,
                          attrs, error=error, tool_call_id=call.id, tool=(tool_type(call), call.name))


def finish_reasons(state: ResponseState) -> Optional[tuple[str, ...]]:
    response = state.response
    if state.end_reason != "observed" and not response.terminal:
        return None
    if response.status == "incomplete":
        return (response.incomplete_reason or "incomplete",)
    if response.status == "completed" and any(c.type == "function" for c in response.tool_calls):
        return ("tool_calls",)
    reason = _FINISH.get(response.status)
    return (reason,) if reason else None


def response_error(state: ResponseState) -> Optional[str]:
    response = state.response
    if response.status in ERROR_RESPONSE_STATUSES:
        return response.error_code or response.status
    if state.end_reason != "observed":
        return response.error_code if state.end_reason == "request_failed" else state.end_reason
    return None
