"""Idempotent money claims per container: a container is never billed twice.

Each observation of a container computes what it owes in total so far (a monotone figure, see
``containers.bill_at``) and claims it: the store keeps the amount already billed per container
id, and a claim bills only the difference above it. Two calls, two workers or a late retrieve
that see the same container claim the same or a smaller total and bill nothing more; a later,
longer life bills the increment. The final settlement is reported once (``settled_now``).

A store also keeps the deletion facts of containers (``note_deletion``/``deletion_of``): a
deletion seen by a worker or process that does not know the container yet is applied by the one
that does, when it learns the container or settles it.

Responses are claimed here too (``claim_response``): the first claim of a response id wins, so a
response billed by one process (or one instrumentor) is never billed again by another that only
observed it (``trace_observed_runs``).

The session stores of ``sessions.py`` mix these in, so one store (memory, or Redis shared by
processes) holds both the Assistants session decisions and the container claims. Amounts are
kept as exact decimal text; Redis claims are optimistic transactions (WATCH/MULTI), retried on
conflict.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Optional, Protocol, Union

from .digests import DigestMap, digest

ZERO = Decimal(0)
MAX_CONTAINERS = 20_000  # memory store: oldest claims forgotten beyond this (a claim that late may bill again)


@dataclass(frozen=True)
class ContainerClaim:
    usd: Decimal  # billed by this claim: what the container owes above what was billed before
    previous_usd: Decimal  # billed before this claim, by any caller
    settled_now: bool  # this claim is the container's final settlement (reported once)

    @property
    def total_usd(self) -> Decimal:
        return self.previous_usd + self.usd


class ContainerClaimStore(Protocol):
    def claim_container(self, container_id: str, total_usd: Decimal, final: bool) -> ContainerClaim: ...


class ContainerDeletions(Protocol):
    """Deletion facts shared by the workers and processes billing containers (optional for a store)."""

    def note_deletion(self, container_id: str, deleted_at: int) -> None: ...

    def deletion_of(self, container_id: str) -> Optional[int]: ...


def settle(billed: Decimal, settled: bool, total_usd: Decimal, final: bool) -> ContainerClaim:
    """The claim's outcome given what was billed before: the reference for both stores."""
    return ContainerClaim(max(ZERO, total_usd - billed), billed, final and not settled)


Billed = Union[int, tuple[Decimal, bool]]  # packed (see _pack_billed) or, when it does not fit, as is


def _pack_billed(usd: Decimal, settled: bool) -> Billed:
    """What a container was billed, exactly, as one small int (~32 B instead of a ~160 B tuple and
    Decimal): the amount's digits, its exponent (-255..0), then the settled flag."""
    sign, digits, exponent = usd.as_tuple()
    if sign or not isinstance(exponent, int) or not -255 <= exponent <= 0:
        return usd, settled
    units = int("".join(map(str, digits)))
    return (units << 8 | -exponent) << 1 | settled


def _unpack_billed(billed: Billed) -> tuple[Decimal, bool]:
    if isinstance(billed, tuple):
        return billed
    rest = billed >> 1
    digits = tuple(int(c) for c in str(rest >> 8))
    return Decimal((0, digits, -(rest & 0xFF))), bool(billed & 1)


class _MemoryClaims:
    def __init__(self, limit: int) -> None:
        self.lock = threading.Lock()
        self.billed: DigestMap[Billed] = DigestMap(limit)  # container digest -> what it was billed
        self.deleted: DigestMap[int] = DigestMap(limit)  # container digest -> earliest deletion seen
        self.responses: DigestMap[bool] = DigestMap(limit)  # digests of the response ids billed
        self.live_claims_dropped = 0  # unsettled container claims dropped at the bound


class MemoryContainerClaims:
    """Container claims of one process (mixed into ``MemorySessionStore``). Thread-safe.

    Ids are kept as 128-bit digests (``digests.py``) and amounts packed; each map keeps at most
    ``max_containers`` (``MAX_CONTAINERS`` unless the owner sets it), the oldest dropped first with a
    second chance for one used again. A dropped claim of a container not yet settled is counted in
    ``live_claims_dropped``: a later claim of that container would bill its whole total again.
    """

    max_containers: int = MAX_CONTAINERS

    def _container_claims(self) -> _MemoryClaims:
        state = self.__dict__.get("_container_claim_state")
        if state is None:  # dict.setdefault is atomic: one state even when threads race here
            state = self.__dict__.setdefault("_container_claim_state", _MemoryClaims(self.max_containers))
        return state  # type: ignore[no-any-return]

    @property
    def live_claims_dropped(self) -> int:
        return self._container_claims().live_claims_dropped

    def claim_container(self, container_id: str, total_usd: Decimal, final: bool) -> ContainerClaim:
        key = digest(container_id)
        state = self._container_claims()
        with state.lock:
            known = state.billed.get(key)
            billed, settled = _unpack_billed(known) if known is not None else (ZERO, False)
            claim = settle(billed, settled, total_usd, final)
            dropped = state.billed.put(key, _pack_billed(claim.total_usd, settled or final))
            state.live_claims_dropped += sum(not _unpack_billed(d)[1] for d in dropped)
            return claim

    def note_deletion(self, container_id: str, deleted_at: int) -> None:
        key = digest(container_id)
        state = self._container_claims()
        with state.lock:
            known = state.deleted.get(key)
            state.deleted.put(key, deleted_at if known is None else min(known, deleted_at))

    def deletion_of(self, container_id: str) -> Optional[int]:
        state = self._container_claims()
        with state.lock:
            return state.deleted.get(digest(container_id))

    def claim_response(self, response_id: str) -> bool:
        """True for the first claim of ``response_id`` (bounded: the oldest claims are forgotten)."""
        key = digest(response_id)
        state = self._container_claims()
        with state.lock:
            if key in state.responses:
                return False
            state.responses.put(key, True)
            return True


class RedisContainerClaims:
    """Container claims shared by processes (mixed into ``RedisSessionStore``): one hash per container."""

    _client: Any
    prefix: str
    ttl_s: int

    def claim_container(self, container_id: str, total_usd: Decimal, final: bool) -> ContainerClaim:
        key = self._container_key(container_id)

        def transaction(pipe: Any) -> ContainerClaim:
            raw_usd, raw_settled = pipe.hmget(key, "usd", "settled")
            billed = Decimal(raw_usd.decode() if isinstance(raw_usd, bytes) else raw_usd) if raw_usd else ZERO
            settled = raw_settled in (b"1", "1")
            claim = settle(billed, settled, total_usd, final)
            pipe.multi()
            pipe.hset(key, mapping={"usd": str(claim.total_usd), "settled": "1" if settled or final else "0"})
            pipe.expire(key, self.ttl_s)
            return claim

        result: ContainerClaim = self._client.transaction(transaction, key, value_from_callable=True)
        return result

    def _container_key(self, container_id: str) -> str:
        return f"{self.prefix}container:{{{container_id}}}"

    def note_deletion(self, container_id: str, deleted_at: int) -> None:
        key = self._container_key(container_id)

        def transaction(pipe: Any) -> None:
            known = _int(pipe.hget(key, "deleted_at"))
            pipe.multi()
            pipe.hset(key, "deleted_at", str(deleted_at if known is None else min(known, deleted_at)))
            pipe.expire(key, self.ttl_s)

        self._client.transaction(transaction, key)

    def deletion_of(self, container_id: str) -> Optional[int]:
        return _int(self._client.hget(self._container_key(container_id), "deleted_at"))

    def claim_response(self, response_id: str) -> bool:
        """True for the first claim of ``response_id`` by any process sharing the store."""
        return bool(self._client.set(f"{self.prefix}response:{{{response_id}}}", "1", nx=True, ex=self.ttl_s))


def _int(raw: Any) -> Optional[int]:
    if raw is None:
        return None
    try:
        return int(raw.decode() if isinstance(raw, bytes) else raw)
    except (TypeError, ValueError):
        return None
