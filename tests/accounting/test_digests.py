"""Ids kept as digests in bounded maps, and container claims packed: exact amounts, counted drops."""

from __future__ import annotations

from decimal import Decimal

import pytest

from opentelemetry.instrumentation.openai_assistants.accounting import container_claims
from opentelemetry.instrumentation.openai_assistants.accounting.digests import DigestMap, digest
from opentelemetry.instrumentation.openai_assistants.accounting.sessions import MemorySessionStore


def test_a_digest_is_128_bits_and_stable() -> None:
    assert digest("cntr_a") == digest("cntr_a") != digest("cntr_b")
    assert 0 <= digest("x") < 1 << 128 and digest("\ud800") >= 0


def test_the_oldest_is_dropped_unless_used_again() -> None:
    kept: DigestMap[int] = DigestMap(2)
    assert kept.put(1, 10) == [] and kept.put(2, 20) == []
    assert kept.put(1, 11) == []  # used again: a second chance
    assert kept.put(3, 30) == [20]
    assert kept.get(1) == 11 and 2 not in kept and len(kept) == 2


@pytest.mark.parametrize("usd", ["0", "0.00", "0.03", "12.345678901234567890123456789012", "1E+2", "-0.5"])
def test_billed_amounts_are_kept_exactly(usd: str) -> None:
    for settled in (False, True):
        packed = container_claims._pack_billed(Decimal(usd), settled)
        amount, flag = container_claims._unpack_billed(packed)
        assert (str(amount), flag) == (str(Decimal(usd)), settled)


def test_a_claim_dropped_before_its_settlement_is_counted() -> None:
    store = MemorySessionStore()
    store.max_containers = 2
    store.claim_container("c1", Decimal("0.03"), True)  # settled: dropping it is not counted
    store.claim_container("c2", Decimal("0.03"), False)
    store.claim_container("c3", Decimal("0.03"), False)
    store.claim_container("c4", Decimal("0.03"), False)
    assert store.live_claims_dropped == 1
    assert store.claim_container("c4", Decimal("0.05"), True).usd == Decimal("0.02")  # still known
