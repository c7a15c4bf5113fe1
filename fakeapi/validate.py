"""Checks every payload against the openai SDK's own models: the SDK itself never validates them."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Type

from openai.types.admin.organization import UsageCostsResponse
from openai.types.beta import Assistant, AssistantDeleted, AssistantStreamEvent, Thread, ThreadDeleted
from openai.types.beta.threads import Message, MessageDeleted, Run
from openai.types.beta.threads.runs import RunStep
from openai.types.shared import ErrorObject
from pydantic import BaseModel, TypeAdapter, ValidationError

OBJECT_MODELS: Dict[str, Type[BaseModel]] = {
    "assistant": Assistant,
    "assistant.deleted": AssistantDeleted,
    "thread": Thread,
    "thread.deleted": ThreadDeleted,
    "thread.message": Message,
    "thread.message.deleted": MessageDeleted,
    "thread.run": Run,
    "thread.run.step": RunStep,
    "page": UsageCostsResponse,  # organization Costs and Usage pages: every endpoint shares the bucket union
}

#: Top-level objects the real API always sends with every declared key (null when empty).
_COMPLETE = {"assistant", "thread", "thread.message", "thread.run", "thread.run.step"}

_EVENT_ADAPTER: TypeAdapter[Any] = TypeAdapter(AssistantStreamEvent)
_PAGE_KEYS = {"object", "data", "first_id", "last_id", "has_more"}


class PayloadError(Exception):
    """A payload the SDK's models reject."""


def _extras(value: Any, path: str) -> List[str]:
    """Keys the models do not declare (the SDK's models allow extras, the real API sends none)."""
    found: List[str] = []
    if isinstance(value, BaseModel):
        for key in value.model_extra or {}:
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


def check_object(payload: Any, where: str = "body") -> None:
    """Validate a JSON response body: an object named by its ``object`` key, a list page, or an error."""
    if not isinstance(payload, dict):
        raise PayloadError(f"{where}: not a JSON object")
    if "error" in payload and len(payload) == 1:
        _check_model(ErrorObject, payload["error"], f"{where}.error", complete=False)
        return
    kind = payload.get("object")
    if kind == "list":
        if set(payload) != _PAGE_KEYS:
            raise PayloadError(f"{where}: list keys {sorted(payload)}")
        for i, item in enumerate(payload["data"]):
            check_object(item, f"{where}.data[{i}]")
        return
    model = OBJECT_MODELS.get(str(kind))
    if model is None:
        raise PayloadError(f"{where}: unknown object {kind!r}")
    _check_model(model, payload, where, complete=kind in _COMPLETE)


def check_event(event: str, data: Any) -> None:
    """Validate one Server-Sent Event through the SDK's ``AssistantStreamEvent`` union."""
    where = f"event {event}"
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
