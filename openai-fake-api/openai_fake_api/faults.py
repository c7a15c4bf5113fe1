"""Injected failures and off-schema payloads, for testing how clients cope with a misbehaving API."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional

#: Kinds answered instead of the real response.
ERROR_KINDS = {"rate_limit": 429, "server_error": 500}
#: Kinds that change the timing or the connection.
TRANSPORT_KINDS = {"delay", "reset"}
#: Kinds that send a payload outside the schema (these responses skip validation).
WEIRD_KINDS = {"unknown_tool_type", "legacy_code_tool", "usage_null", "missing_optional", "status_paused"}
ALIASES = {"429": "rate_limit", "500": "server_error"}

ERROR_BODIES: Dict[str, Dict[str, Any]] = {
    "rate_limit": {
        "message": "Rate limit reached for requests. Please try again in 5ms.",
        "type": "requests",
        "param": None,
        "code": "rate_limit_exceeded",
    },
    "server_error": {
        "message": "The server had an error while processing your request. Sorry about that!",
        "type": "server_error",
        "param": None,
        "code": None,
    },
}


@dataclass
class Fault:
    """One planned fault: the next ``count`` requests (None: all) whose path matches ``pattern``."""

    pattern: re.Pattern[str]
    kind: str
    count: Optional[int]
    method: Optional[str]
    seconds: float
    after_events: int
    hits: int = 0


class Faults:
    """The server's fault plan; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: List[Fault] = []

    def add(
        self,
        path_regex: str,
        kind: str,
        count: Optional[int] = 1,
        *,
        method: Optional[str] = None,
        seconds: float = 0.0,
        after_events: int = 0,
    ) -> Fault:
        """Plan a fault for requests whose path (``/v1/...``) matches ``path_regex`` (``re.search``).

        Kinds: ``rate_limit`` (or ``"429"``), ``server_error`` (``"500"``), ``delay`` (sleep ``seconds``,
        then answer), ``reset`` (drop the connection: at once, or after ``after_events`` events of a
        stream), and the off-schema (for runs and steps, and for responses and their items)
        ``unknown_tool_type``, ``legacy_code_tool``, ``usage_null``,
        ``missing_optional``, ``status_paused``.
        """
        kind = ALIASES.get(kind, kind)
        if kind not in ERROR_KINDS and kind not in TRANSPORT_KINDS and kind not in WEIRD_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}")
        verb = method.upper() if method else None
        fault = Fault(re.compile(path_regex), kind, count, verb, seconds, after_events)
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def take(self, method: str, path: str) -> Optional[Fault]:
        """The first planned fault for this request, used up by one."""
        with self._lock:
            for fault in self._faults:
                if fault.method not in (None, method) or not fault.pattern.search(path):
                    continue
                fault.hits += 1
                if fault.count is not None:
                    fault.count -= 1
                    if fault.count <= 0:
                        self._faults.remove(fault)
                return fault
        return None


def _tool_calls(value: Any, change: Callable[[Dict[str, Any]], None]) -> None:
    """Apply ``change`` to every tool call (or tool call delta) inside step details."""
    if isinstance(value, dict):
        details = value.get("step_details")
        if isinstance(details, dict):
            for call in details.get("tool_calls") or []:
                change(call)
        for item in value.values():
            _tool_calls(item, change)
    elif isinstance(value, list):
        for item in value:
            _tool_calls(item, change)


def _rename(call: Dict[str, Any], old: str, new: str) -> None:
    if call.get("type") == old:
        call["type"] = new
        if old in call:
            call[new] = call.pop(old)


def _unknown_tool(call: Dict[str, Any]) -> None:
    kind = call.get("type")
    if isinstance(kind, str):
        payload = call.pop(kind, {})
        call["type"] = "browser"
        call["browser"] = payload


def _walk(value: Any, change: Callable[[Dict[str, Any]], None]) -> None:
    if isinstance(value, dict):
        change(value)
        for item in list(value.values()):
            _walk(item, change)
    elif isinstance(value, list):
        for item in value:
            _walk(item, change)


def _usage_null(obj: Dict[str, Any]) -> None:
    if "usage" in obj:
        obj["usage"] = None


def _drop_nulls(obj: Dict[str, Any]) -> None:
    for key in [k for k, v in obj.items() if v is None]:
        del obj[key]


def _paused(obj: Dict[str, Any]) -> None:
    if obj.get("object") in ("thread.run", "response"):
        obj["status"] = "paused"


def _unknown_item(obj: Dict[str, Any]) -> None:
    """A Responses output item (``..._call``) turned into a type no SDK knows."""
    kind = obj.get("type")
    if isinstance(kind, str) and kind.endswith("_call") and "id" in obj:
        obj["type"] = "hologram_call"


def weird(kind: str, payload: Any) -> Any:
    """``payload`` (changed in place and returned) bent outside the schema as ``kind`` says."""
    if kind == "unknown_tool_type":
        _tool_calls(payload, _unknown_tool)
        _walk(payload, _unknown_item)
    elif kind == "legacy_code_tool":
        _tool_calls(payload, lambda call: _rename(call, "code_interpreter", "code"))
    elif kind == "usage_null":
        _walk(payload, _usage_null)
    elif kind == "missing_optional":
        _walk(payload, _drop_nulls)
    elif kind == "status_paused":
        _walk(payload, _paused)
    return payload
