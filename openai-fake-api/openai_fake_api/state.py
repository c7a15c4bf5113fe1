"""In-memory store of assistants, threads, messages, runs and steps, with real cursor pagination."""

from __future__ import annotations

import secrets
import threading
from typing import Any, Dict, Iterator, List, Optional

from .clock import FakeClock

Obj = Dict[str, Any]


class NotFound(Exception):
    """An unknown id: answered with the real API's 404 error."""

    def __init__(self, kind: str, object_id: str, message: Optional[str] = None) -> None:
        super().__init__(message or f"No {kind} found with id '{object_id}'.")


class BadRequest(Exception):
    """A request the real API would refuse with a 400."""

    def __init__(self, message: str, param: Optional[str] = None) -> None:
        super().__init__(message)
        self.param = param


def new_id(prefix: str) -> str:
    sep = "-" if prefix == "file" else "_"
    return f"{prefix}{sep}{secrets.token_hex(12)}"


class Table:
    """Objects of one kind in creation order (creation order is what the real API sorts on)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.items: Dict[str, Obj] = {}

    def add(self, obj: Obj) -> Obj:
        self.items[obj["id"]] = obj
        return obj

    def get(self, object_id: str) -> Obj:
        try:
            return self.items[object_id]
        except KeyError:
            raise NotFound(self.kind, object_id) from None

    def delete(self, object_id: str) -> Obj:
        obj = self.get(object_id)
        del self.items[object_id]
        return obj

    def where(self, **match: Any) -> List[Obj]:
        return [o for o in self.items.values() if all(o.get(k) == v for k, v in match.items())]

    def __iter__(self) -> Iterator[Obj]:
        return iter(list(self.items.values()))


class World:
    """Everything the fake server knows; guard every access with ``lock``."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.lock = threading.RLock()
        self.assistants = Table("assistant")
        self.threads = Table("thread")
        self.messages = Table("message")
        self.runs = Table("run")
        self.steps = Table("step")


def page(items: List[Obj], query: Dict[str, Any]) -> Obj:
    """A cursor page as the real API builds it, from ``limit`` (1..100, default 20), ``order``,
    ``after`` and ``before``."""
    order = query.get("order", "desc")
    if order not in ("asc", "desc"):
        raise BadRequest(f"Invalid value for 'order': {order!r}.", "order")
    try:
        limit = int(query.get("limit", 20))
    except ValueError:
        raise BadRequest("Invalid value for 'limit'.", "limit") from None
    if not 1 <= limit <= 100:
        raise BadRequest("Invalid 'limit': must be between 1 and 100.", "limit")
    ordered = list(items) if order == "asc" else list(reversed(items))
    ids = [o["id"] for o in ordered]
    start, end = 0, len(ordered)
    after, before = query.get("after"), query.get("before")
    if after:
        start = ids.index(after) + 1 if after in ids else len(ids)
    if before:
        end = ids.index(before) if before in ids else 0
    window = ordered[start:end]
    if before and not after:
        data = window[-limit:]
        has_more = len(window) > limit
    else:
        data = window[:limit]
        has_more = len(window) > limit
    return {
        "object": "list",
        "data": data,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
        "has_more": has_more,
    }
