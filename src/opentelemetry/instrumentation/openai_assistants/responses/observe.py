"""Readers of Responses API objects: what the openai SDK returned (models or dicts) -> records of ``model``.

Total like every reader: a best-effort record or ``None``, never an exception, whatever the shape.
"""

from __future__ import annotations

import re
from typing import Any, Optional

from ..fields import fields, get, integer, items, metadata, server_of, text
from ..model import Response, ResponseRequest, ToolCall, Usage
from .hosted_observe import reported_tool_usage
from .state import ResponseState

_PATH_ID = re.compile(r"^responses/([^/]+)")
_NOT_IDS = frozenset({"input_tokens", "compact"})
_LIST_TOOLS = "mcp_list_tools"
_NAMED = frozenset({"function", "custom_tool", "mcp"})  # items whose tool name is their own ``name``


def response_id_of(path: str) -> Optional[str]:
    """The response a ``responses/{id}...`` path names."""
    match = _PATH_ID.match(path)
    return match.group(1) if match and match.group(1) not in _NOT_IDS else None


def usage(obj: Any) -> Optional[Usage]:
    """``ResponseUsage``: input includes cached and cache-write tokens, output includes reasoning."""
    f = fields(obj)
    tokens_in, tokens_out = integer(f.get("input_tokens")), integer(f.get("output_tokens"))
    if tokens_in is None or tokens_out is None or tokens_in < 0 or tokens_out < 0:
        return None
    details_in, details_out = f.get("input_tokens_details"), f.get("output_tokens_details")
    cached = _part(get(details_in, "cached_tokens"), tokens_in)
    written = _part(get(details_in, "cache_write_tokens"), tokens_in - cached)
    return Usage(tokens_in, tokens_out, "reported", cached_input_tokens=cached, cache_write_tokens=written,
                 reasoning_tokens=_part(get(details_out, "reasoning_tokens"), tokens_out))


def _part(value: Any, limit: int) -> int:
    number = integer(value)
    return min(number, limit) if number is not None and number > 0 else 0


def is_tool_item(kind: str) -> bool:
    return kind.endswith("_call") or kind == _LIST_TOOLS


def tool_call(obj: Any) -> Optional[ToolCall]:
    """A tool-call output item of any type (``*_call``, ``mcp_list_tools``), else ``None``."""
    f = fields(obj)
    kind = text(f.get("type")) or ""
    if not is_tool_item(kind):
        return None
    tool = kind[: -len("_call")] if kind.endswith("_call") else kind
    item_id = text(f.get("id"))
    call = ToolCall(id=text(f.get("call_id")) or item_id or "", type=tool, name=tool, item_id=item_id,
                    status=text(f.get("status")))
    if tool in _NAMED:
        call.name = text(f.get("name")) or tool
        call.arguments = text(f.get("arguments")) or text(f.get("input"))
        call.output = text(f.get("output"))
    elif tool == "code_interpreter":
        call.arguments, call.container_id = text(f.get("code")), text(f.get("container_id"))
        for output in items(f.get("outputs")):
            if get(output, "type") == "logs":
                call.logs.append(text(get(output, "logs")) or "")
            elif get(output, "type") == "image":
                call.images += 1
    elif tool == "web_search":
        call.action = text(get(f.get("action"), "type"))
    elif tool == "file_search":
        call.arguments = "\n".join(q for q in (text(q) for q in items(f.get("queries"))) if q) or None
        call.results = len(items(f.get("results")))
    elif tool == "shell":
        commands = items(get(f.get("action"), "commands"))
        call.arguments = "\n".join(c for c in (text(c) for c in commands) if c) or None
        call.container_id = text(f.get("container_id")) or text(get(f.get("environment"), "container_id"))
    return call


def function_call_ids(output: Any) -> list[str]:
    """The ids of the ``function_call`` items of an output, as ``tool_call`` reads them: read on the
    caller's path for a response whose record is built later (``read_returned``)."""
    ids = []
    for item in items(output):
        f = fields(item)
        if f.get("type") == "function_call":
            ident = text(f.get("call_id")) or text(f.get("id"))
            if ident:
                ids.append(ident)
    return ids


def read_returned(state: ResponseState) -> None:
    """Off the caller's path, once a response has ended: what its tracking left unread there (the last
    SDK object observed, the request it answered, the client's server) read into the state's records."""
    obj, state.returned = state.returned, None
    record = response(obj) if obj is not None else None
    if record is not None:
        state.response = record
    if not state.request_read:
        state.request, state.request_read = request(state.body), True
    if not state.server_read:
        state.server_address, state.server_port = server_of(state.client)
        state.server_read = True


def message_text(obj: Any) -> str:
    """The text of an output ``message`` item (output text and refusals)."""
    parts = []
    for part in items(get(obj, "content")):
        kind = get(part, "type")
        if kind == "output_text":
            parts.append(text(get(part, "text")) or "")
        elif kind == "refusal":
            parts.append(text(get(part, "refusal")) or "")
    return "\n".join(parts)


def response(obj: Any) -> Optional[Response]:
    f = fields(obj)
    ident = text(f.get("id"))
    if not ident:
        return None
    conversation = f.get("conversation")
    error = f.get("error")
    output = items(f.get("output"))
    return Response(
        id=ident,
        status=text(f.get("status")) or "unknown",
        model=text(f.get("model")),
        created_at=integer(f.get("created_at")),
        completed_at=integer(f.get("completed_at")),
        conversation_id=text(get(conversation, "id")) or text(conversation),
        previous_response_id=text(f.get("previous_response_id")),
        background=f.get("background") is True,
        service_tier=text(f.get("service_tier")),
        instructions=text(f.get("instructions")),
        usage=usage(f.get("usage")),
        error_code=text(get(error, "code")),
        error_message=text(get(error, "message")),
        incomplete_reason=text(get(f.get("incomplete_details"), "reason")),
        tool_calls=[c for c in (tool_call(item) for item in output) if c],
        output_text="\n".join(message_text(i) for i in output if get(i, "type") == "message"),
        metadata=metadata(obj),
        tool_usage=reported_tool_usage(f.get("tool_usage")),
    )


def request(body: Any) -> ResponseRequest:
    """What a ``responses.create`` body asks for (its input text is read later, off the caller's path)."""
    conversation = get(body, "conversation")
    window = get(get(body, "background_options"), "completion_window")
    outputs = [text(get(i, "call_id")) for i in items(get(body, "input")) if get(i, "type") == "function_call_output"]
    return ResponseRequest(
        model=text(get(body, "model")),
        conversation_id=text(get(conversation, "id")) or text(conversation),
        previous_response_id=text(get(body, "previous_response_id")),
        service_tier=text(get(body, "service_tier")),
        background=get(body, "background") is True,
        completion_window=text(window),
        tool_outputs=[o for o in outputs if o],
        stream=get(body, "stream") is True,
    )


def input_text(body: Any) -> str:
    """The text the model reads from a request: instructions and input items (messages, tool outputs)."""
    parts = [text(get(body, "instructions")) or ""]
    raw = get(body, "input")
    if isinstance(raw, str):
        parts.append(raw)
    for item in items(raw):
        content = get(item, "content")
        if isinstance(content, str):
            parts.append(content)
        for part in items(content):
            parts.append(text(get(part, "text")) or "")
        parts.append(text(get(item, "output")) or text(get(item, "arguments")) or "")
    return "\n".join(p for p in parts if p)


def integer_field(obj: Any, name: str) -> Optional[int]:
    return integer(get(obj, name))
