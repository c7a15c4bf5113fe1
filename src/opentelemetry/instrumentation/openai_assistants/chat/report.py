"""A finished call as the records telemetry writes: one CLIENT span ``{operation} {model}`` (``chat``,
``text_completion``, ``embeddings``, ``moderations``) from request to last byte, and under a chat
span one ``execute_tool {name}`` span per tool call the model requested, linked from the later
request that sends its result. With another instrumentation's span around the call, ours is left
out (``chat_spans="auto"``): one span per call, our money on theirs, our metrics always."""

from __future__ import annotations

from typing import Any

from opentelemetry.trace import Link, SpanKind

from .. import semconv as sc
from ..config import Settings
from ..content import Content
from ..fields import project_of
from ..invocation import Attrs, Invocation, SpanRecord, server_labels
from ..model import Message, ToolCall
from .observe import OPERATION
from .state import CallState

SPANS_AUTO, SPANS_ALWAYS, SPANS_NEVER = "auto", "always", "never"


class ChatReporter:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.content = Content(settings.capture_content, settings.content_max_length)

    def makes_spans(self, state: CallState) -> bool:
        mode = (self.settings.chat_spans or SPANS_AUTO).lower()
        return mode == SPANS_ALWAYS or (mode != SPANS_NEVER and state.foreign_span is None)

    def invocation(self, state: CallState, links: list[Any]) -> Invocation:
        completion, request = state.completion, state.request
        model = request.model or (completion.model if completion is not None else None)
        operation = OPERATION[state.kind]
        start = state.started_ns
        end = max(state.ended_ns or start, start)
        base: Attrs = {
            sc.GEN_AI_PROVIDER_NAME: state.provider,
            sc.GEN_AI_REQUEST_MODEL: model,
            sc.SERVER_ADDRESS: state.server_address,
            sc.SERVER_PORT: state.server_port,
            sc.OPENAI_API_TYPE: state.kind,
        }
        attrs: Attrs = {**base, sc.GEN_AI_OPERATION_NAME: operation,
                        sc.OPENAI_REQUEST_SERVICE_TIER: request.service_tier,
                        sc.CHAT_STREAM: True if request.stream else None, sc.RESPONSE_END_REASON: state.end_reason}
        calls: list[ToolCall] = []
        if completion is not None:
            calls = completion.tool_calls
            attrs.update({
                sc.GEN_AI_RESPONSE_MODEL: completion.model,
                sc.GEN_AI_RESPONSE_ID: completion.id or None,
                sc.GEN_AI_RESPONSE_FINISH_REASONS: tuple(completion.finish_reasons) or None,
                sc.OPENAI_RESPONSE_SERVICE_TIER: completion.service_tier,
                sc.CHAT_CHOICES: completion.choices if completion.choices > 1 else None,
                **self.content.invocation((), [Message(id=completion.id, thread_id="", role="assistant",
                                                       text=completion.output_text)]
                                          if completion.output_text else []),
            })
        error = state.error or (state.end_reason if state.end_reason not in ("observed", "stream_closed") else None)
        root = SpanRecord(operation, f"{operation} {model}" if model else operation, SpanKind.CLIENT, start, end, attrs,
                          error=error, links=[Link(context) for context in links if context is not None],
                          children=[self._tool(call, start, end, base) for call in calls])
        status = "completed" if state.end_reason == "observed" else state.end_reason
        return Invocation(state.kind, state.provider, model, None, state.parent, root, status=status,
                          spans=self.makes_spans(state), project=project_of(state.client),
                          server=server_labels(state.server_address, state.server_port),
                          token_operation=operation)

    def _tool(self, call: ToolCall, start: int, end: int, base: Attrs) -> SpanRecord:
        """A tool call the model requested: the app runs it after the response, so its span marks the
        request (the completion's window), not the app's run of the function."""
        attrs: Attrs = {**base, sc.GEN_AI_OPERATION_NAME: sc.OP_EXECUTE_TOOL, sc.GEN_AI_TOOL_NAME: call.name,
                        sc.GEN_AI_TOOL_CALL_ID: call.id or None, sc.GEN_AI_TOOL_TYPE: sc.TOOL_TYPE_FUNCTION,
                        **self.content.tool_call(call, None)}
        return SpanRecord(sc.OP_EXECUTE_TOOL, f"{sc.OP_EXECUTE_TOOL} {call.name}", SpanKind.INTERNAL, start, end,
                          attrs, tool_call_id=call.id or None, tool=(sc.TOOL_TYPE_FUNCTION, call.name))

