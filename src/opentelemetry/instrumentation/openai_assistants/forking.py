"""After ``fork()`` the child holds a copy of every lock, held or not, and only the forking thread:
a lock some other thread of the parent held stays held forever. Long-lived parts renew theirs."""

from __future__ import annotations

import os
import threading
import weakref
from typing import Any, Callable, TypeVar

T = TypeVar("T")
_LOCK = type(threading.Lock())
_RLOCK = type(threading.RLock())
_PACKAGE = __name__.rsplit(".", 1)[0]


def in_child_after_fork(owner: T, action: Callable[[T], None]) -> None:
    """Call ``action(owner)`` in a forked child, for as long as ``owner`` lives."""
    if not hasattr(os, "register_at_fork"):
        return
    ref = weakref.ref(owner)

    def run() -> None:
        alive = ref()
        if alive is not None:
            action(alive)

    os.register_at_fork(after_in_child=run)


def renew_locks(root: Any, depth: int = 4) -> None:
    """Replace every lock reachable from ``root`` through attributes of this package's objects, dict
    values and list items (``depth`` levels down) with a new, free one. Other libraries' objects
    (clients, pools, conditions) are left alone: their locks are theirs to renew."""
    seen: set[int] = set()

    def fresh(value: Any) -> Any:
        return threading.RLock() if isinstance(value, _RLOCK) else threading.Lock()

    def walk(obj: Any, level: int) -> None:
        if level < 0 or id(obj) in seen:
            return
        seen.add(id(obj))
        if isinstance(obj, dict):
            children = list(obj.values())
        elif isinstance(obj, (list, tuple, set)):
            children = list(obj)
        elif type(obj).__module__.startswith(_PACKAGE) and hasattr(obj, "__dict__"):
            for name, value in list(vars(obj).items()):
                if isinstance(value, (_LOCK, _RLOCK)):
                    setattr(obj, name, fresh(value))
            children = list(vars(obj).values())
        else:
            return
        for child in children:
            walk(child, level - 1)

    walk(root, depth)
