"""The installed openai SDK: its version, and the HTTP library it sends through (httpx in openai 2.x,
httpx2 in 3.x), for tests that build transports or expect the transport's own errors."""

from __future__ import annotations

from importlib import metadata
from types import ModuleType
from typing import Any

import openai
from openai import _base_client


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(".")[:3] if part.isdigit())


VERSION = _version(openai.__version__)
MAJOR = VERSION[0]
http: ModuleType = getattr(_base_client, "httpx2", None) or _base_client.httpx


def older_than(version: str) -> bool:
    return _version(version) > VERSION


def installed(distribution: str) -> bool:
    try:
        metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return False
    return True


def field(obj: Any, *path: str) -> Any:
    """A nested field of an SDK object: a key an older SDK's models do not declare stays a plain dict
    there (kept as an extra), so each step is an attribute or a key."""
    for name in path:
        obj = obj.get(name) if isinstance(obj, dict) else getattr(obj, name)
    return obj


#: What a stream cut mid-way raises: newer SDKs map the transport's error to ``openai.APIConnectionError``
#: while reading a stream; older ones (all of 2.x) let the HTTP library's ``ReadError`` through.
STREAM_RESET_ERROR: type[BaseException] = (
    openai.APIConnectionError if hasattr(openai._streaming, "request_exceptions") else http.ReadError)
