"""Turn what the openai SDK returned (models or plain dicts) into the plain records of ``model``.

The SDK builds response objects without validation, so any field may be missing, ``None``, of
another type, or in a legacy shape. Every reader here is total: it returns a best-effort record
or ``None``, never raises.
"""

from __future__ import annotations

import functools
import json
import math
from typing import Any, Iterable, Optional
from urllib.parse import urlsplit

from .model import Assistant, Message, Run, Step, ToolCall, ToolDefinition, Usage
from .semconv import PROVIDER_AZURE, PROVIDER_OPENAI


def get(obj: Any, name: str, default: Any = None) -> Any:
    """A field of an SDK model, a pydantic extra, or a dict key."""
    if obj is None:
        return default
    if isinstance(obj, dict):
        return obj.get(name, default)
    # Hot path (every poll and stream event): a model's fields live in its ``__dict__``, and a name a
    # pydantic model lacks is answered from its extras without ``getattr``, whose miss raises inside
    # pydantic's ``__getattr__`` (ten times slower than a hit).
    values = getattr(obj, "__dict__", None)
    if values is not None and name in values:
        return values[name]
    extra = getattr(obj, "__pydantic_extra__", None)
    if isinstance(extra, dict) and name not in _class_names(type(obj)):  # type: ignore[arg-type]
        return extra.get(name, default)
    return getattr(obj, name, default)


def fields(obj: Any) -> Any:
    """All fields of an object at once, for readers of many fields (runs and steps, read at every poll
    and stream event): a dict as it is, a pydantic model's ``__dict__`` with its extras, else ``get``."""
    if isinstance(obj, dict):
        return obj
    values = getattr(obj, "__dict__", None)
    extra = getattr(obj, "__pydantic_extra__", None)
    if isinstance(values, dict) and isinstance(extra, dict):
        return {**extra, **values} if extra else values
    return _Fields(obj)


class _Fields:
    """``get`` behind a mapping's ``get``, for objects that are neither dicts nor pydantic models."""

    __slots__ = ("_obj",)

    def __init__(self, obj: Any) -> None:
        self._obj = obj

    def get(self, name: str, default: Any = None) -> Any:
        return get(self._obj, name, default)


@functools.lru_cache(maxsize=256)
def _class_names(cls: type) -> frozenset[str]:
    """Names a class answers itself (properties, methods): those are read with ``getattr``."""
    return frozenset(dir(cls))


def text(value: Any) -> Optional[str]:
    return value if isinstance(value, str) else None


_INT64 = 2**63  # OTLP integers are 64-bit: a larger value could not be exported


def integer(value: Any) -> Optional[int]:
    """An integer field; ``None`` for other types, non-finite floats and values beyond 64 bits."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float):
        value = int(value) if math.isfinite(value) else None
    if isinstance(value, int) and -_INT64 <= value < _INT64:
        return value
    return None


def items(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else []


def metadata(obj: Any) -> dict[str, str]:
    raw = get(obj, "metadata")
    if not isinstance(raw, dict):
        return {}
    return {str(k): str(v) for k, v in raw.items() if isinstance(v, (str, int, float, bool))}


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


def run(obj: Any) -> Optional[Run]:
    f = fields(obj)
    ident, thread_id = text(f.get("id")), text(f.get("thread_id"))
    if not ident or not thread_id:
        return None
    last_error = f.get("last_error")
    truncation = f.get("truncation_strategy")
    required = get(get(f.get("required_action"), "submit_tool_outputs"), "tool_calls")
    return Run(
        id=ident,
        thread_id=thread_id,
        status=text(f.get("status")) or "unknown",
        assistant_id=text(f.get("assistant_id")),
        model=text(f.get("model")),
        instructions=text(f.get("instructions")),
        tools=tool_definitions(f.get("tools")),
        created_at=integer(f.get("created_at")),
        started_at=integer(f.get("started_at")),
        completed_at=integer(f.get("completed_at")),
        failed_at=integer(f.get("failed_at")),
        cancelled_at=integer(f.get("cancelled_at")),
        expires_at=integer(f.get("expires_at")),
        usage=usage(f.get("usage")),
        error_code=text(get(last_error, "code")),
        error_message=text(get(last_error, "message")),
        incomplete_reason=text(get(f.get("incomplete_details"), "reason")),
        required_tool_call_ids=[i for i in (text(get(c, "id")) for c in items(required)) if i],
        truncation_last_messages=integer(get(truncation, "last_messages"))
        if text(get(truncation, "type")) == "last_messages"
        else None,
        metadata=metadata(obj),
    )


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


def page_items(obj: Any) -> Iterable[Any]:
    """The objects of a cursor page, else nothing."""
    data = get(obj, "data")
    return items(data) if get(obj, "object") == "list" or isinstance(data, list) else ()


def provider_of(client: Any) -> str:
    """``azure.ai.openai`` for the SDK's Azure clients, else ``openai``."""
    return _provider(type(client))  # type: ignore[arg-type]


@functools.lru_cache(maxsize=64)
def _provider(cls: type) -> str:
    names = {c.__name__ for c in cls.__mro__}
    return PROVIDER_AZURE if {"AzureOpenAI", "AsyncAzureOpenAI"} & names else PROVIDER_OPENAI


def server_of(client: Any) -> tuple[Optional[str], Optional[int]]:
    try:
        return _server(str(client.base_url))
    except Exception:
        return None, None


@functools.lru_cache(maxsize=64)
def _server(url: str) -> tuple[Optional[str], Optional[int]]:
    """Parsed once per base URL: every run creation asks."""
    parts = urlsplit(url)
    return parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)
