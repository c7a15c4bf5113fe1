"""Builders and a worker process of the container accounting tests."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

import redis

from opentelemetry.instrumentation.openai_assistants.accounting.container_ledger import (
    ContainerCharge,
    ContainerLedger,
)
from opentelemetry.instrumentation.openai_assistants.accounting.containers import ContainerRules
from opentelemetry.instrumentation.openai_assistants.accounting.sessions import RedisSessionStore
from opentelemetry.instrumentation.openai_assistants.model import Container

MIN = 60
FEBRUARY = int(datetime(2026, 2, 10, 9, 0, tzinfo=UTC).timestamp())  # per container
APRIL = int(datetime(2026, 4, 14, 9, 0, tzinfo=UTC).timestamp())  # per 20-minute session
JULY = int(datetime(2026, 7, 14, 9, 0, tzinfo=UTC).timestamp())  # per minute, 5-minute minimum


def container(cid: str, start: int, tier: str | None = "1g", **kw: Any) -> Container:
    """A container object as the API describes it (observed); a deleted one was in use until deleted."""
    kw.setdefault("last_active_at", kw.get("deleted_at", start))
    return Container(cid, memory_limit=tier, created_at=start, observed=True, **kw)


def observe_in_random_order(
    redis_url: str, prefix: str, observations: list[tuple[dict[str, Any], int]], seed: int, barrier: Any
) -> list[tuple[str, str]]:
    """One process: observe every (container fields, API time) in its own order; its charges."""
    store = RedisSessionStore(redis.Redis.from_url(redis_url), prefix=prefix)
    ledger = ContainerLedger(ContainerRules({}), store)
    order = list(observations)
    random.Random(seed).shuffle(order)
    barrier.wait()
    charges = []
    for fields, at in order:
        for outcome in ledger.observe(Container(**fields), at):
            assert isinstance(outcome, ContainerCharge)
            charges.append((outcome.phase, str(outcome.usd)))
    return charges
