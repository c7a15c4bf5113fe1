"""Ids kept for a long time, kept small: a 128-bit digest of the id in one int, in a bounded map.

The stores that remember ids for exactness (Code Interpreter sessions per thread, container and
response claims) keep many of them for hours, so each entry's size is their memory at their bound.
An id such as ``cntr_`` + 48 hex characters is a ~100 B string; its BLAKE2b-128 digest is a 48 B
int. Two ids sharing a digest is a 2^-128 event per pair: with 10^9 ids kept at once its probability
is below 10^-20, no practical risk to exactness.
"""

from __future__ import annotations

import hashlib
from collections import deque
from typing import Generic, Optional, TypeVar

V = TypeVar("V")


def digest(ident: str) -> int:
    """The 128-bit BLAKE2b digest of an id, as one int."""
    raw = ident.encode("utf-8", "surrogatepass")
    return int.from_bytes(hashlib.blake2b(raw, digest_size=16).digest(), "big")


class DigestMap(Generic[V]):
    """A bounded map of id digests, oldest queued dropped first; one used again since it was queued is
    moved to the back once instead (a second chance, which approximates least recently used at ~8 B
    per entry where an ``OrderedDict`` costs ~50). Not thread-safe: its owner holds a lock."""

    __slots__ = ("_again", "_items", "_queue", "limit")

    def __init__(self, limit: int) -> None:
        self.limit = max(1, limit)
        self._items: dict[int, V] = {}
        self._queue: deque[int] = deque()  # the same keys, oldest queued first
        self._again: set[int] = set()  # used again since queued

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: int) -> bool:
        return key in self._items

    def get(self, key: int) -> Optional[V]:
        return self._items.get(key)

    def put(self, key: int, value: V) -> list[V]:
        """Keep ``value``; return the values dropped to stay within the bound (oldest first)."""
        if key in self._items:
            self._again.add(key)
        else:
            self._queue.append(key)
        self._items[key] = value
        dropped: list[V] = []
        while len(self._items) > self.limit:
            oldest = self._queue.popleft()
            if oldest in self._again:
                self._again.discard(oldest)
                self._queue.append(oldest)
                continue
            dropped.append(self._items.pop(oldest))
        return dropped
