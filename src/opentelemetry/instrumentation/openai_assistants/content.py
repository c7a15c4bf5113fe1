"""Content attributes (prompts, messages, code, outputs): opt-in, capped, and never anything else.

Everything that carries text the app or the model wrote passes through here, so the switch
(``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT``) and the size cap live in one place.
"""

from __future__ import annotations

import json
from typing import Iterable, Optional

from . import semconv as sc
from .model import Message, ToolCall

Attributes = dict[str, str]
_ELLIPSIS = "…"


class Content:
    def __init__(self, enabled: bool, max_length: int) -> None:
        self.enabled = enabled
        self.max_length = max(16, max_length)

    def cap(self, text: str) -> str:
        return text if len(text) <= self.max_length else text[: self.max_length - 1] + _ELLIPSIS

    def invocation(self, instructions: Iterable[Optional[str]], outputs: list[Message]) -> Attributes:
        """A run's or response's system instructions and output messages."""
        if not self.enabled:
            return {}
        attrs: Attributes = {}
        texts = [t for t in instructions if t]
        if texts:
            attrs[sc.GEN_AI_SYSTEM_INSTRUCTIONS] = self._json([{"type": "text", "content": t} for t in texts])
        if outputs:
            attrs[sc.GEN_AI_OUTPUT_MESSAGES] = self._messages(outputs)
        return attrs

    def message(self, message: Optional[Message]) -> Attributes:
        if not self.enabled or message is None:
            return {}
        return {sc.GEN_AI_OUTPUT_MESSAGES: self._messages([message])}

    def tool_call(self, call: ToolCall, submitted_output: Optional[str]) -> Attributes:
        if not self.enabled:
            return {}
        attrs: Attributes = {}
        if call.arguments:
            attrs[sc.GEN_AI_TOOL_CALL_ARGUMENTS] = self.cap(call.arguments)
        result = call.output or submitted_output or ("\n".join(call.logs) if call.logs else None)
        if result:
            attrs[sc.GEN_AI_TOOL_CALL_RESULT] = self.cap(result)
        return attrs

    def _messages(self, messages: Iterable[Message]) -> str:
        return self._json(
            [{"role": m.role, "parts": [{"type": "text", "content": m.text}]} for m in messages]
        )

    def _json(self, value: object) -> str:
        return self.cap(json.dumps(value, ensure_ascii=False))
