"""Readers shared by every front end: fields of SDK models or dicts, scalars, pages and the client.

The SDK builds response objects without validation, so any field may be missing, ``None``, of
another type, or in a legacy shape. Every reader here is total: it returns a value or ``None``,
never raises.
"""

from __future__ import annotations

import functools
import math
from typing import Any, Iterable, Optional
from urllib.parse import urlsplit

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


def project_of(client: Any) -> Optional[str]:
    """The client's OpenAI project id, if it has one: a handful per app, what the bill is grouped by."""
    project = getattr(client, "project", None)
    return project if isinstance(project, str) and project else None


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
