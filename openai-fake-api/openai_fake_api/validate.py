"""Checks every payload against the openai SDK's own models: the SDK itself never validates them."""

from __future__ import annotations

import copy
from typing import Any, Callable, Dict, List, Optional, Type, get_args

from openai.types.beta import Assistant, AssistantDeleted, AssistantStreamEvent, Thread, ThreadDeleted
from openai.types.beta.threads import Message, MessageDeleted, Run
from openai.types.beta.threads.runs import RunStep
from openai.types.container_retrieve_response import ContainerRetrieveResponse
from openai.types.containers.file_retrieve_response import FileRetrieveResponse
from openai.types.conversations import Conversation, ConversationDeletedResource, ConversationItem
from openai.types.responses import (
    CompactedResponse,
    InputTokenCountResponse,
    Response,
    ResponseItem,
    ResponseOutputItem,
    ResponseStreamEvent,
)
from openai.types.shared import ErrorObject
from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

try:  # the admin resources (Costs and Usage pages) came with openai 2.34
    from openai.types.admin.organization import UsageCostsResponse
except ImportError:  # an older SDK has no model to check those pages against
    UsageCostsResponse = None


class Deleted(BaseModel):
    """What the API answers to deleting a response, container or container file (the SDK returns
    None for these, so it has no model of its own)."""

    model_config = ConfigDict(extra="forbid")
    id: str
    object: str
    deleted: bool

OBJECT_MODELS: Dict[str, Type[BaseModel]] = {
    "assistant": Assistant,
    "assistant.deleted": AssistantDeleted,
    "thread": Thread,
    "thread.deleted": ThreadDeleted,
    "thread.message": Message,
    "thread.message.deleted": MessageDeleted,
    "thread.run": Run,
    "thread.run.step": RunStep,
    "response": Response,
    "response.deleted": Deleted,
    "response.input_tokens": InputTokenCountResponse,
    "response.compaction": CompactedResponse,
    "conversation": Conversation,
    "conversation.deleted": ConversationDeletedResource,
    "container": ContainerRetrieveResponse,
    "container.deleted": Deleted,
    "container.file": FileRetrieveResponse,
    "container.file.deleted": Deleted,
}
if UsageCostsResponse is not None:
    # organization Costs and Usage pages: every endpoint shares the bucket union
    OBJECT_MODELS["page"] = UsageCostsResponse

#: Top-level objects the real API always sends with every declared key (null when empty).
_COMPLETE = {"assistant", "thread", "thread.message", "thread.run", "thread.run.step"}

_EVENT_ADAPTER: TypeAdapter[Any] = TypeAdapter(AssistantStreamEvent)
_PAGE_KEYS = {"object", "data", "first_id", "last_id", "has_more"}
_RESPONSE_EVENT_ADAPTER: TypeAdapter[Any] = TypeAdapter(ResponseStreamEvent)
_RESPONSE_EVENT_MODELS: Dict[str, Type[BaseModel]] = {}  # by event type, filled below
#: Items listed by ``input_items.list`` and ``conversations.items.*`` (they carry no ``object`` key).
_ITEM_ADAPTERS: List[TypeAdapter[Any]] = [TypeAdapter(ResponseItem), TypeAdapter(ConversationItem)]


def _item_types(union: Any) -> frozenset[str]:
    found: set[str] = set()
    for member in get_args(union):
        if isinstance(member, type) and issubclass(member, BaseModel):
            found.update(get_args(member.model_fields["type"].annotation))
        else:
            found |= _item_types(member)
    return frozenset(found)


#: Output item types the SDK knows; items of other types are a newer API's, outside the schema by design.
KNOWN_ITEM_TYPES = _item_types(ResponseOutputItem)


def _known(item: Any) -> Any:
    """An output item of an unknown type, reduced to a known stand-in after checking its id and type."""
    if not isinstance(item, dict) or item.get("type") in KNOWN_ITEM_TYPES:
        return item
    if not isinstance(item.get("id"), str) or not isinstance(item.get("type"), str):
        raise PayloadError(f"unknown item without id or type: {item!r}")
    return {"id": item["id"], "type": "reasoning", "summary": []}


def _without_unknown_items(payload: Dict[str, Any]) -> Dict[str, Any]:
    if not any(_known(i) is not i for i in payload.get("output") or []):
        return payload
    payload = copy.copy(payload)
    payload["output"] = [_known(i) for i in payload["output"]]
    return payload


class PayloadError(Exception):
    """A payload the SDK's models reject."""


#: Keys the API sends that the models of older SDKs (openai 2.x) do not declare yet, by model
#: (``module.Class``). Such an SDK keeps them as extras, so they are let through there; the newest SDK
#: declares every one of them (a test checks it), so there they are validated as usual.
NEWER_KEYS: Dict[str, frozenset[str]] = {
    "openai.types.responses.response.Response": frozenset({"tool_usage"}),
    "openai.types.responses.response_usage.InputTokensDetails": frozenset(
        {"cache_write_tokens", "cache_write_tokens_details"}),
    "openai.types.responses.response_output_item.ImageGenerationCall": frozenset({"revised_prompt"}),
    "openai.types.responses.response_item.ImageGenerationCall": frozenset({"revised_prompt"}),
    "openai.types.conversations.conversation_item.ImageGenerationCall": frozenset({"revised_prompt"}),
    "openai.types.completion_usage.PromptTokensDetails": frozenset(
        {"image_tokens", "cache_write_tokens", "text_tokens"}),
    "openai.types.chat.chat_completion.ChatCompletion": frozenset({"metadata"}),
}

#: Keys the models of older SDKs require but the API no longer sends (the newest SDK dropped them), by
#: event type, with a stand-in value: given to such a model only, which would otherwise reject the event.
DROPPED_KEYS: Dict[str, Dict[str, Any]] = {
    "response.function_call_arguments.done": {"name": ""},
}


def _event_models(union: Any) -> Dict[str, Type[BaseModel]]:
    found: Dict[str, Type[BaseModel]] = {}
    for member in get_args(union):
        if isinstance(member, type) and issubclass(member, BaseModel):
            found.update(dict.fromkeys(get_args(member.model_fields["type"].annotation), member))
        else:
            found.update(_event_models(member))
    return found


def _with_dropped_keys(data: Dict[str, Any]) -> Dict[str, Any]:
    """An event with the stand-ins of keys this SDK's model still requires (``DROPPED_KEYS``)."""
    model = _RESPONSE_EVENT_MODELS.get(data.get("type"))  # type: ignore[arg-type]
    dropped = DROPPED_KEYS.get(data.get("type"), {})  # type: ignore[arg-type]
    missing = {key: value for key, value in dropped.items()
               if model is not None and key not in data and key in model.model_fields
               and model.model_fields[key].is_required()}
    return {**data, **missing} if missing else data


_RESPONSE_EVENT_MODELS.update(_event_models(ResponseStreamEvent))


def _newer_keys(model: type) -> frozenset[str]:
    return NEWER_KEYS.get(f"{model.__module__}.{model.__qualname__}", frozenset())


def _extras(value: Any, path: str) -> List[str]:
    """Keys the models do not declare (the SDK's models allow extras, the real API sends none)."""
    found: List[str] = []
    if isinstance(value, BaseModel):
        newer = _newer_keys(type(value))
        for key in value.model_extra or {}:
            if key not in newer:
                found.append(f"{path}.{key}")
        for name in type(value).model_fields:
            found.extend(_extras(getattr(value, name), f"{path}.{name}"))
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            found.extend(_extras(item, f"{path}[{i}]"))
    elif isinstance(value, dict):
        for key, item in value.items():
            found.extend(_extras(item, f"{path}.{key}"))
    return found


def _check_model(model: Type[BaseModel], payload: Any, where: str, complete: bool) -> None:
    try:
        obj = model.model_validate(payload, strict=True)
    except ValidationError as exc:
        raise PayloadError(f"{where}: {exc}") from None
    extras = _extras(obj, where)
    if extras:
        raise PayloadError(f"{where}: undeclared keys {extras}")
    if complete:
        missing = set(model.model_fields) - set(payload)
        if missing:
            raise PayloadError(f"{where}: missing keys {sorted(missing)}")


#: Checkers of other API families (each returns True when it validated the payload), registered by their modules.
CHECKERS: List[Callable[[Any, str], bool]] = []


def check_object(payload: Any, where: str = "body") -> None:
    """Validate a JSON response body: an object named by its ``object`` key, a list page, or an error."""
    if not isinstance(payload, dict):
        raise PayloadError(f"{where}: not a JSON object")
    if any(check(payload, where) for check in CHECKERS):
        return
    if "error" in payload and len(payload) == 1:
        _check_model(ErrorObject, payload["error"], f"{where}.error", complete=False)
        return
    if "object" not in payload and "type" in payload:
        _check_item(payload, where)
        return
    kind = payload.get("object")
    if kind == "list":
        if set(payload) != _PAGE_KEYS:
            raise PayloadError(f"{where}: list keys {sorted(payload)}")
        for i, item in enumerate(payload["data"]):
            if isinstance(item, dict) and "object" not in item and "type" in item:
                _check_item(item, f"{where}.data[{i}]")
            else:
                check_object(item, f"{where}.data[{i}]")
        return
    if kind in ("response", "response.compaction"):
        payload = _without_unknown_items(payload)
    model = OBJECT_MODELS.get(str(kind))
    if model is None:
        raise PayloadError(f"{where}: unknown object {kind!r}")
    _check_model(model, payload, where, complete=kind in _COMPLETE)


def _check_item(item: Dict[str, Any], where: str) -> None:
    """A listed item: valid as one of the SDK's ``ResponseItem`` or ``ConversationItem`` types."""
    item = _known(item)
    problems = []
    for adapter in _ITEM_ADAPTERS:
        try:
            parsed = adapter.validate_python(item, strict=True)
        except ValidationError as exc:
            problems.append(str(exc))
            continue
        extras = _extras(parsed, where)
        if not extras:
            return
        problems.append(f"undeclared keys {extras}")
    raise PayloadError(f"{where}: {problems}")


def check_response_event(event: str, data: Any) -> None:
    """Validate one Responses Server-Sent Event through the SDK's ``ResponseStreamEvent`` union."""
    where = f"event {event}"
    if not isinstance(data, dict) or data.get("type") != event:
        raise PayloadError(f"{where}: data type {data.get('type') if isinstance(data, dict) else data!r}")
    if "item" in data:
        data = {**data, "item": _known(data["item"])}
    if isinstance(data.get("response"), dict):
        check_object(data["response"], f"{where}.response")
        data = {**data, "response": _without_unknown_items(data["response"])}
    data = _with_dropped_keys(data)
    try:
        parsed = _RESPONSE_EVENT_ADAPTER.validate_python(data, strict=True)
    except ValidationError as exc:
        raise PayloadError(f"{where}: {exc}") from None
    extras = _extras(parsed, where)
    if extras:
        raise PayloadError(f"{where}: undeclared keys {extras}")


def check_event(event: str, data: Any) -> None:
    """Validate one Server-Sent Event through the SDK's ``AssistantStreamEvent`` union (or, for the
    Responses API, its ``ResponseStreamEvent`` union)."""
    where = f"event {event}"
    if any(check(data, where) for check in CHECKERS):
        return
    if event.startswith("response.") or (event == "error" and isinstance(data, dict) and "type" in data):
        check_response_event(event, data)
        return
    try:
        parsed = _EVENT_ADAPTER.validate_python({"event": event, "data": data}, strict=True)
    except ValidationError as exc:
        raise PayloadError(f"{where}: {exc}") from None
    extras = _extras(parsed.data, where)
    if extras:
        raise PayloadError(f"{where}: undeclared keys {extras}")
    kind: Optional[str] = data.get("object") if isinstance(data, dict) else None
    if kind in _COMPLETE and event != "error":
        check_object(data, where)
