"""Readers of Assistants objects: what the openai SDK returned (models or dicts) -> records of ``model``.

The SDK builds response objects without validation, so any field may be missing, ``None``, of
another type, or in a legacy shape. Every reader here is total: it returns a best-effort record
or ``None``, never raises.
"""

from __future__ import annotations

import json
from typing import Any, Optional

from ..fields import fields, get, integer, items, metadata, page_items, provider_of, server_of, text
from ..model import Assistant, Message, Run, Step, ToolCall, ToolDefinition, Usage
from .state import RunState

__all__ = ["fields", "get", "integer", "items", "metadata", "page_items", "provider_of", "server_of", "text"]


def usage(obj: Any) -> Optional[Usage]:
    """The API's ``usage`` object; ``None`` when absent or unusable."""
    prompt = integer(get(obj, "prompt_tokens"))
    completion = integer(get(obj, "completion_tokens"))
    if prompt is None or completion is None or prompt < 0 or completion < 0:
        return None
    return Usage(input_tokens=prompt, output_tokens=completion, source="reported")


def tool_definitions(raw: Any) -> list[ToolDefinition]:
    tools: list[ToolDefinition] = []
    for tool in items(raw):
        kind = text(get(tool, "type")) or "unknown"
        function = get(tool, "function")
        name = text(get(function, "name")) if function is not None else None
        tools.append(ToolDefinition(type=kind, name=name, schema_json=_schema_json(function)))
    return tools


def _schema_json(function: Any) -> Optional[str]:
    if function is None:
        return None
    fields = {k: get(function, k) for k in ("name", "description", "parameters", "strict")}
    try:
        return json.dumps({k: v for k, v in fields.items() if v is not None}, sort_keys=True, default=str)
    except (TypeError, ValueError):
        return None


def assistant(obj: Any) -> Optional[Assistant]:
    ident = text(get(obj, "id"))
    if not ident:
        return None
    return Assistant(
        id=ident,
        name=text(get(obj, "name")),
        model=text(get(obj, "model")),
        instructions=text(get(obj, "instructions")),
        tools=tool_definitions(get(obj, "tools")),
        metadata=metadata(obj),
    )


def run(obj: Any, f: Any = None, steady: bool = False) -> Optional[Run]:
    """``f``: the object's fields, when read already. ``steady``: a run still queued or in progress,
    whose usage, errors, end times and required actions are not read (they come with other statuses)."""
    f = fields(obj) if f is None else f
    ident, thread_id = text(f.get("id")), text(f.get("thread_id"))
    if not ident or not thread_id:
        return None
    truncation = f.get("truncation_strategy")
    record = Run(
        id=ident,
        thread_id=thread_id,
        status=text(f.get("status")) or "unknown",
        assistant_id=text(f.get("assistant_id")),
        model=text(f.get("model")),
        instructions=text(f.get("instructions")),
        tools=tool_definitions(f.get("tools")),
        created_at=integer(f.get("created_at")),
        started_at=integer(f.get("started_at")),
        expires_at=integer(f.get("expires_at")),
        truncation_last_messages=integer(get(truncation, "last_messages"))
        if text(get(truncation, "type")) == "last_messages"
        else None,
        metadata=metadata(obj),
    )
    if steady:
        return record
    last_error = f.get("last_error")
    required = items(get(get(f.get("required_action"), "submit_tool_outputs"), "tool_calls"))
    record.completed_at, record.failed_at = integer(f.get("completed_at")), integer(f.get("failed_at"))
    record.cancelled_at, record.usage = integer(f.get("cancelled_at")), usage(f.get("usage"))
    record.error_code, record.error_message = text(get(last_error, "code")), text(get(last_error, "message"))
    record.incomplete_reason = text(get(f.get("incomplete_details"), "reason"))
    record.required_tool_call_ids = [i for i in (text(get(c, "id")) for c in required) if i]
    record.function_calls = [c for c in (_required_call(raw) for raw in required) if c]
    return record


def read_deferred(state: RunState) -> None:
    """Off the caller's path, once a run has ended: what its tracking left unread there (the client's
    server)."""
    if not state.server_read:
        state.server_read = True
        state.server_address, state.server_port = server_of(state.client)


def _required_call(obj: Any) -> Optional[ToolCall]:
    """A function call of ``required_action``: its id, name and arguments."""
    ident, function = text(get(obj, "id")), get(obj, "function")
    if not ident:
        return None
    return ToolCall(ident, "function", text(get(function, "name")) or "", arguments=text(get(function, "arguments")))


def step(obj: Any) -> Optional[Step]:
    f = fields(obj)
    ident, run_id, thread_id = text(f.get("id")), text(f.get("run_id")), text(f.get("thread_id"))
    if not ident or not run_id:
        return None
    details = f.get("step_details")
    last_error = f.get("last_error")
    return Step(
        id=ident,
        run_id=run_id,
        thread_id=thread_id or "",
        type=text(f.get("type")) or text(get(details, "type")) or "unknown",
        status=text(f.get("status")) or "unknown",
        assistant_id=text(f.get("assistant_id")),
        created_at=integer(f.get("created_at")),
        completed_at=integer(f.get("completed_at")),
        failed_at=integer(f.get("failed_at")),
        cancelled_at=integer(f.get("cancelled_at")),
        expired_at=integer(f.get("expired_at")),
        message_id=text(get(get(details, "message_creation"), "message_id")),
        tool_calls=[c for c in (tool_call(raw) for raw in items(get(details, "tool_calls"))) if c],
        usage=usage(f.get("usage")),
        error_code=text(get(last_error, "code")),
        error_message=text(get(last_error, "message")),
    )


def tool_call(obj: Any) -> Optional[ToolCall]:
    """A tool call, including the legacy ``{"type": "code", "code": {...}}`` shape and unknown types."""
    kind = text(get(obj, "type")) or "unknown"
    if kind == "code":
        kind = "code_interpreter"
        payload = get(obj, "code")
    else:
        payload = get(obj, kind)
    call = ToolCall(id=text(get(obj, "id")) or "", type=kind, name=kind)
    if kind == "function":
        call.name = text(get(payload, "name")) or "function"
        call.arguments = text(get(payload, "arguments"))
        call.output = text(get(payload, "output"))
    elif kind == "code_interpreter":
        call.arguments = text(get(payload, "input"))
        _add_outputs(call, get(payload, "outputs"))
    elif kind == "file_search":
        call.results = len(items(get(payload, "results")))
    return call


def _add_outputs(call: ToolCall, outputs: Any) -> None:
    for output in items(outputs):
        kind = text(get(output, "type"))
        if kind == "logs":
            call.logs.append(text(get(output, "logs")) or "")
        elif kind == "image":
            call.images += 1


def merge_tool_call_delta(calls: list[ToolCall], delta: Any) -> Optional[ToolCall]:
    """Fold one streamed tool-call delta into the calls of a step, matched by ``index`` then ``id``."""
    index = integer(get(delta, "index"))
    ident = text(get(delta, "id"))
    call = _find_call(calls, index, ident)
    if call is None:
        kind = text(get(delta, "type")) or "unknown"
        call = ToolCall(id=ident or "", type="code_interpreter" if kind == "code" else kind, name=kind)
        calls.append(call)
    if ident and not call.id:
        call.id = ident
    payload = get(delta, "code" if get(delta, "type") == "code" else call.type)
    if call.type == "function":
        call.name = text(get(payload, "name")) or call.name
        call.arguments = (call.arguments or "") + (text(get(payload, "arguments")) or "")
        call.output = text(get(payload, "output")) or call.output
    elif call.type == "code_interpreter":
        call.arguments = (call.arguments or "") + (text(get(payload, "input")) or "")
        _add_outputs(call, get(payload, "outputs"))
    return call


def _find_call(calls: list[ToolCall], index: Optional[int], ident: Optional[str]) -> Optional[ToolCall]:
    if ident:
        for call in calls:
            if call.id == ident:
                return call
    if index is not None and 0 <= index < len(calls):
        return calls[index]
    return None


def message(obj: Any, thread_id: Optional[str] = None) -> Optional[Message]:
    ident = text(get(obj, "id"))
    if not ident:
        return None
    body, uncounted = content_text(get(obj, "content"))
    return Message(
        id=ident,
        thread_id=text(get(obj, "thread_id")) or thread_id or "",
        role=text(get(obj, "role")) or "user",
        text=body,
        uncounted_parts=uncounted,
        run_id=text(get(obj, "run_id")),
        assistant_id=text(get(obj, "assistant_id")),
        created_at=integer(get(obj, "created_at")),
    )


def content_text(content: Any) -> tuple[str, int]:
    """Text of a message's content (a string, or parts in response or request shape), and the parts not text."""
    if isinstance(content, str):
        return content, 0
    texts: list[str] = []
    uncounted = 0
    for part in items(content):
        kind = text(get(part, "type"))
        if kind == "text":
            value = get(part, "text")
            texts.append(text(value) or text(get(value, "value")) or "")
        elif kind == "refusal":
            texts.append(text(get(part, "refusal")) or "")
        else:
            uncounted += 1
    return "\n".join(texts), uncounted


def request_messages(raw: Any, thread_id: str) -> list[Message]:
    """Messages as the app sent them (``additional_messages``, ``thread.messages``), without ids."""
    messages = []
    for i, item in enumerate(items(raw)):
        body, uncounted = content_text(get(item, "content"))
        role = text(get(item, "role")) or "user"
        messages.append(Message(id=f"request:{i}", thread_id=thread_id, role=role, text=body,
                                uncounted_parts=uncounted))
    return messages
