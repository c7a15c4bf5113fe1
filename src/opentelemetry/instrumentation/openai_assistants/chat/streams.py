"""Reads a chat (or legacy completion) stream chunk by chunk into the call's completion record.

The first chunk names the completion, its model and served tier; text and tool-call deltas are
kept as far as an estimate and the tool spans need them; a ``finish_reason`` per choice marks the
stream complete; the usage arrives only with ``stream_options.include_usage``, in a last chunk with
no choices. Without it, the finisher estimates the tokens off the caller's path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional, Protocol

from ..eventroutes import KEPT_MAX, RoutedWatcher
from ..fields import fields, get, integer, items, text
from ..model import Completion, ToolCall
from . import observe

if TYPE_CHECKING:
    from .state import CallState


class StreamEnds(Protocol):
    def stream_closed(self, state: CallState, finished: bool, error: Optional[BaseException]) -> None: ...


class ChatStreamWatcher(RoutedWatcher):
    """Every chunk is watched (a stream without usage is estimated from its text), at two calls for most:
    a chunk of text alone is read by ``_text_only`` and its text written into the state in bulk."""

    key = "object"

    def __init__(self, tracker: StreamEnds, state: CallState) -> None:
        super().__init__()
        self._tracker = tracker
        self._state = state
        self._record: Optional[Completion] = None
        self._finished: dict[int, str] = {}  # choice index -> finish_reason
        self._texts: list[str] = []  # text not written into the state yet: written in bulk

    def event(self, chunk: Any) -> None:
        piece = _text_only(chunk) if self._record is not None else None
        if not piece:
            self.handle(chunk)
            return
        texts = self._texts
        texts.append(piece)
        if len(texts) >= KEPT_MAX:  # written now and then, not held to the end: the state caps it
            self._write_texts()

    def _write_texts(self) -> None:
        self._state.streamed(self._texts)
        self._texts.clear()

    def handle(self, chunk: Any, at_ns: Optional[int] = None) -> None:
        values = fields(chunk)
        record = self._record
        if record is None:
            record = self._record = Completion(id=text(values.get("id")) or "", kind=self._state.kind,
                                               model=text(values.get("model")),
                                               created_at=integer(values.get("created")),
                                               service_tier=text(values.get("service_tier")),
                                               system_fingerprint=text(values.get("system_fingerprint")))
        texts, calls = observe.chunk_deltas(values)
        self._texts.extend(texts)
        for choice, index, call_id, name, arguments in calls:
            call = self._state.streamed_calls.get((choice, index))
            if call is None:
                call = self._state.streamed_calls[(choice, index)] = ToolCall(id=call_id or "", type="function",
                                                                              name=name or "function", arguments="")
            call.arguments = (call.arguments or "") + arguments
        for choice in items(values.get("choices")):
            reason = text(get(choice, "finish_reason"))
            if reason:
                self._finished[integer(get(choice, "index")) or 0] = reason
        usage = values.get("usage")
        if usage is not None:
            record.usage = observe.usage(usage)
        tier = text(values.get("service_tier"))
        if tier:
            record.service_tier = tier

    def closed(self, error: Optional[BaseException]) -> None:
        record = self._record
        state = self._state
        self._write_texts()
        if record is not None:
            record.finish_reasons = [self._finished[i] for i in sorted(self._finished)]
            record.choices = max(len(self._finished), state.request.n if self._finished else 0)
            record.tool_calls = [state.streamed_calls[key] for key in sorted(state.streamed_calls)]
            record.output_text = "".join(state.streamed_text)
            state.completion = record
        finished = error is None and bool(self._finished) and (record is None or record.usage is not None
                                                               or not state.request.include_usage
                                                               or len(self._finished) >= state.request.n)
        self._tracker.stream_closed(state, finished, error)


def _text_only(chunk: Any) -> Optional[str]:
    """The text of a chunk that carries nothing else of ours (one choice with a text delta and no
    finish reason, tool calls or usage), else None: then the whole chunk is read. Written out with
    no further call, as it runs for most chunks of every stream; fields not in a model's ``__dict__`` are left
    to the full read."""
    values = getattr(chunk, "__dict__", None)
    if not isinstance(values, dict) or getattr(chunk, "__pydantic_extra__", None) or values.get("usage", 0) is not None:
        return None
    choices = values.get("choices")
    if not isinstance(choices, list) or len(choices) != 1:
        return None
    choice = getattr(choices[0], "__dict__", None)
    if not isinstance(choice, dict) or choice.get("finish_reason", 0) is not None:
        return None
    delta = getattr(choice.get("delta"), "__dict__", None)
    if not isinstance(delta, dict) or delta.get("tool_calls", 0) is not None:
        return None
    piece = delta.get("content")
    return piece if isinstance(piece, str) else None
