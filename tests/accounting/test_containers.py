"""Container money: the rule of the container's date, by tier, charged as it becomes known, once."""

from __future__ import annotations

import multiprocessing
import uuid
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from decimal import Decimal
from typing import Callable

import pytest
import redis
from container_helpers import APRIL, FEBRUARY, JULY, MIN, container, observe_in_random_order

from opentelemetry.instrumentation.openai_assistants.accounting.container_claims import ContainerClaimStore
from opentelemetry.instrumentation.openai_assistants.accounting.container_ledger import (
    ContainerCharge,
    ContainerLedger,
    UnpricedContainer,
)
from opentelemetry.instrumentation.openai_assistants.accounting.containers import (
    DEFAULT_INTERPRETATION,
    ContainerBill,
    ContainerRules,
    Interpretation,
    bill_at,
)
from opentelemetry.instrumentation.openai_assistants.accounting.pricing import Unpriced
from opentelemetry.instrumentation.openai_assistants.accounting.sessions import (
    MemorySessionStore,
    RedisSessionStore,
)
from opentelemetry.instrumentation.openai_assistants.model import Container

RULES = ContainerRules({})
StoreFactory = Callable[[], ContainerClaimStore]


@pytest.fixture(params=["memory", "redis"])
def make_store(request: pytest.FixtureRequest) -> Iterator[StoreFactory]:
    if request.param == "memory":
        yield MemorySessionStore
        return
    client = redis.Redis.from_url(request.getfixturevalue("redis_url"))
    prefix = f"test:{uuid.uuid4().hex}:"
    yield lambda: RedisSessionStore(client, prefix=prefix)
    client.close()


def final_bill(c: Container, now: int, interpretation: Interpretation = DEFAULT_INTERPRETATION) -> ContainerBill:
    bill = bill_at(c, now, RULES, interpretation)
    assert isinstance(bill, ContainerBill)
    return bill


# Hand-worked, 1g: February $0.03 per container; April $0.03 per started 20-minute session;
# July $0.0015 per started minute, at least 5 minutes per session.
# deleted after 3 min:  Feb 0.03; Apr 1 session = 0.03; Jul 5 min (minimum) = 0.0075
# deleted after 47 min: Feb 0.03; Apr 3 sessions (20+20+7) = 0.09; Jul 47 min = 0.0705
# idle expiry (last used at 10 min, expires 20 min later: life 30 min):
#                       Feb 0.03; Apr 2 sessions = 0.06; Jul 30 min = 0.045
WORKLOAD = [
    ("deleted_3", FEBRUARY, "0.03", "per_container"),
    ("deleted_47", FEBRUARY, "0.03", "per_container"),
    ("idle_expiry", FEBRUARY, "0.03", "per_container"),
    ("deleted_3", APRIL, "0.03", "per_session"),
    ("deleted_47", APRIL, "0.09", "per_session"),
    ("idle_expiry", APRIL, "0.06", "per_session"),
    ("deleted_3", JULY, "0.0075", "per_minute"),
    ("deleted_47", JULY, "0.0705", "per_minute"),
    ("idle_expiry", JULY, "0.045", "per_minute"),
]


def workload(kind: str, start: int) -> tuple[Container, int]:
    if kind == "deleted_3":
        return container("c", start, deleted_at=start + 3 * MIN), start + 3 * MIN
    if kind == "deleted_47":
        return container("c", start, last_active_at=start + 40 * MIN, deleted_at=start + 47 * MIN), start + 47 * MIN
    return container("c", start, last_active_at=start + 10 * MIN), start + 30 * MIN


@pytest.mark.parametrize(("kind", "start", "usd", "rule"), WORKLOAD)
def test_same_workload_under_each_rule_of_2026(kind: str, start: int, usd: str, rule: str) -> None:
    c, end = workload(kind, start)
    bill = final_bill(c, end)
    assert (bill.usd, bill.rule.rule, bill.ended, bill.observed) == (Decimal(usd), rule, True, True)


# 47 minutes by tier: February per container; April 3 sessions; July 47 minutes at tier/20 per minute.
@pytest.mark.parametrize(
    ("tier", "february", "april", "july"),
    [
        ("1g", "0.03", "0.09", "0.0705"),
        ("4g", "0.12", "0.36", "0.282"),  # 47 x 0.006
        ("16g", "0.48", "1.44", "1.128"),  # 47 x 0.024
        ("64g", "1.92", "5.76", "4.512"),  # 47 x 0.096
    ],
)
def test_tiers(tier: str, february: str, april: str, july: str) -> None:
    for start, usd in ((FEBRUARY, february), (APRIL, april), (JULY, july)):
        c = container("c", start, tier, deleted_at=start + 47 * MIN)
        assert final_bill(c, start + 47 * MIN).usd == Decimal(usd)


def test_idle_expiry_counts_or_not_by_interpretation() -> None:
    c = container("c", JULY, last_active_at=JULY + 10 * MIN)
    assert final_bill(c, JULY + 30 * MIN).usd == Decimal("0.045")  # 30 min: idle tail counted
    active = final_bill(c, JULY + 30 * MIN, Interpretation(basis="active"))
    assert active.usd == Decimal("0.015")  # 10 min of activity


def test_minimum_applies_per_session_of_the_split_life() -> None:
    # 42 min = 20 + 20 + 2; the last session pays its 5-minute minimum: 45 x 0.0015.
    c = container("c", JULY, deleted_at=JULY + 42 * MIN)
    assert final_bill(c, JULY + 42 * MIN).usd == Decimal("0.0675")


def test_open_container_owes_what_it_has_incurred() -> None:
    c = container("c", JULY)
    bill = final_bill(c, JULY + 7 * MIN + 1)  # alive: 8 started minutes so far
    assert (bill.units, bill.usd, bill.ended) == (8, Decimal("0.012"), False)


def test_unknown_tier_and_date_give_a_reason_not_zero() -> None:
    assert bill_at(container("c", JULY, "128g"), JULY, RULES) == Unpriced(
        "no price for container memory tier '128g' under rule per_minute"
    )
    assert isinstance(bill_at(container("c", 1_600_000_000), 1_600_000_000, RULES), Unpriced)
    ledger = ContainerLedger(RULES, MemorySessionStore())
    assert ledger.observe(container("c", JULY, "128g"), JULY) == [
        UnpricedContainer("c", "no price for container memory tier '128g' under rule per_minute")
    ]


def test_unknown_tier_is_priced_as_the_default_and_said_so() -> None:
    bill = final_bill(Container("c", first_seen_at=JULY, deleted_at=JULY + MIN), JULY + MIN)
    assert (bill.tier, bill.tier_inferred, bill.observed, bill.usd) == ("1g", True, False, Decimal("0.0075"))


def test_overrides_apply_from_their_date() -> None:
    rules = ContainerRules(
        {"containers": {"rules": [{"rule": "autumn", "unit": "minute", "effective_from": "2026-09-01",
                                   "session_minutes": 20, "minimum_minutes": 1,
                                   "usd_per_unit": {"1g": "0.002"}}]}}
    )
    september = JULY + 62 * 86_400
    autumn = bill_at(container("c", september, deleted_at=september + 3 * MIN), september + 3 * MIN, rules)
    assert isinstance(autumn, ContainerBill) and (autumn.rule.rule, autumn.usd) == ("autumn", Decimal("0.006"))
    july = bill_at(container("c", JULY, deleted_at=JULY + 3 * MIN), JULY + 3 * MIN, rules)
    assert isinstance(july, ContainerBill) and july.usd == Decimal("0.0075")
    with pytest.raises(ValueError):
        ContainerRules({"containers": {"rules": [{"unit": "hour", "effective_from": "2026-01-01",
                                                  "usd_per_unit": {}}]}})


def charges(outcomes: list[ContainerCharge | UnpricedContainer]) -> list[tuple[str, Decimal]]:
    return [(o.phase, o.usd) for o in outcomes if isinstance(o, ContainerCharge)]


def test_charges_as_they_become_known_per_minute(make_store: StoreFactory) -> None:
    ledger = ContainerLedger(RULES, make_store())
    start = JULY
    assert charges(ledger.observe(container("c", start), start + MIN)) == [("opening", Decimal("0.0075"))]
    assert charges(ledger.observe(Container("c"), start + 3 * MIN)) == [("incurred", Decimal("0"))]  # in minimum
    assert charges(ledger.observe(Container("c"), start + 12 * MIN)) == [("incurred", Decimal("0.0105"))]
    assert charges(ledger.observe(Container("c", deleted_at=start + 47 * MIN), start + 47 * MIN)) == [
        ("settlement", Decimal("0.0525"))
    ]  # 0.0075 + 0.0105 + 0.0525 = 0.0705: 47 minutes


def test_charges_as_they_become_known_per_session(make_store: StoreFactory) -> None:
    ledger = ContainerLedger(RULES, make_store())
    start = APRIL
    assert charges(ledger.observe(container("c", start, "4g"), start + MIN)) == [("opening", Decimal("0.12"))]
    assert charges(ledger.observe(Container("c"), start + 19 * MIN)) == [("incurred", Decimal("0"))]
    assert charges(ledger.observe(Container("c"), start + 25 * MIN)) == [("incurred", Decimal("0.12"))]
    assert charges(ledger.observe(Container("c", deleted_at=start + 47 * MIN), start + 47 * MIN)) == [
        ("settlement", Decimal("0.12"))
    ]  # 3 sessions of 4g: 0.36


def test_one_container_of_several_responses_and_workers_is_billed_once(make_store: StoreFactory) -> None:
    store = make_store()
    workers = [ContainerLedger(RULES, store) for _ in range(2)]  # two workers, one store
    billed = Decimal(0)
    for i, at in enumerate((1, 2, 2, 9, 15, 15)):  # responses of one conversation naming the container
        for o in workers[i % 2].observe(Container("c", first_seen_at=JULY), JULY + at * MIN):
            assert isinstance(o, ContainerCharge) and not o.observed
            billed += o.usd
    settled = [o for w in workers for o in w.sweep(JULY + 36 * MIN)]  # 15 + 20 idle: expired at 35
    billed += sum(o.usd for o in settled if isinstance(o, ContainerCharge))
    assert [o.phase for o in settled if isinstance(o, ContainerCharge)] == ["settlement"]
    assert billed == Decimal("0.0525")  # life from first sight to expiry: 35 minutes
    late = workers[0].observe(Container("c", first_seen_at=JULY), JULY + 4 * MIN)  # a late retrieve
    assert sum(o.usd for o in late if isinstance(o, ContainerCharge)) == 0


def test_sweep_waits_for_expiry_by_the_injected_clock() -> None:
    ledger = ContainerLedger(RULES, MemorySessionStore())
    ledger.observe(container("c", APRIL, last_active_at=APRIL), APRIL + 10 * MIN)
    assert ledger.sweep(APRIL + 29 * MIN) == []  # last used at 10 min: alive until 30
    (settled,) = ledger.sweep(APRIL + 30 * MIN)
    assert isinstance(settled, ContainerCharge)
    assert (settled.phase, settled.usd, settled.total_usd, settled.rule) == (
        "settlement", Decimal("0.03"), Decimal("0.06"), "per_session"
    )
    assert ledger.known("c") is None and ledger.sweep(APRIL + 90 * MIN) == []


def test_assumed_auto_container_charges_the_minimum_once() -> None:
    ledger = ContainerLedger(RULES, MemorySessionStore())
    first = ledger.assume("resp_1", JULY)
    assert isinstance(first, ContainerCharge)
    assert (first.usd, first.units, first.observed, first.tier_inferred) == (Decimal("0.0075"), 5, False, True)
    again = ledger.assume("resp_1", JULY)
    assert isinstance(again, ContainerCharge) and again.usd == 0
    assert isinstance(ledger.assume("resp_2", FEBRUARY, "4g"), ContainerCharge)


def test_bad_input_gives_no_exception() -> None:
    class Broken:
        def claim_container(self, *args: object) -> None:
            raise RuntimeError("store down")

    ledger = ContainerLedger(RULES, Broken())  # type: ignore[arg-type]
    assert ledger.observe(container("c", JULY), JULY) == []
    assert ledger.observe(Container("c", created_at=None), JULY) == []
    assert ledger.assume("r", JULY) is None


def test_three_processes_share_one_container_through_redis(redis_url: str) -> None:
    prefix = f"test:{uuid.uuid4().hex}:"
    start = JULY
    fields = {"id": "cntr_shared", "memory_limit": "4g", "created_at": start, "observed": True}
    observations = [(fields, start + m * MIN) for m in (1, 4, 12, 30)]
    observations.append(({**fields, "deleted_at": start + 47 * MIN}, start + 47 * MIN))
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Manager().Barrier(3)
    with ProcessPoolExecutor(3, mp_context=ctx) as pool:
        futures = [pool.submit(observe_in_random_order, redis_url, prefix, observations, s, barrier) for s in range(3)]
        results = [f.result(timeout=120) for f in futures]
    all_charges = [c for r in results for c in r]
    assert sum(Decimal(usd) for _, usd in all_charges) == Decimal("0.282")  # 47 minutes of 4g, once
    assert [phase for phase, _ in all_charges].count("settlement") == 1


# --- issue 17 defects 2 and 3: facts in any order, deletions of containers not known yet -------------

def billed(outcomes: list[ContainerCharge | UnpricedContainer]) -> Decimal:
    return sum((o.usd for o in outcomes if isinstance(o, ContainerCharge)), Decimal(0))


# 1g, July: created at 0, last used at 1 minute, idle expiry 20 minutes: it ended at 21 minutes.
# A clean-up job deletes it at 91 minutes. Sessions of 20 and 1 minutes, the second billed its
# 5-minute minimum: 25 minutes x $0.0015 = $0.0375, whichever of the sweep and the delete comes first.
USED = container("c", JULY, last_active_at=JULY + MIN)


@pytest.mark.parametrize("order", ["delete_then_sweep", "sweep_then_delete", "swept_at_expiry_then_delete"])
def test_life_ends_at_the_earliest_of_deletion_and_expiry_in_any_order(make_store: StoreFactory,
                                                                      order: str) -> None:
    ledger = ContainerLedger(RULES, make_store())
    total = billed(ledger.observe(USED, JULY + MIN, active=False))
    late = JULY + 91 * MIN
    if order == "delete_then_sweep":
        total += billed(ledger.deleted("c", late)) + billed(ledger.sweep(late))
    elif order == "sweep_then_delete":
        total += billed(ledger.sweep(late)) + billed(ledger.deleted("c", late))
    else:
        total += billed(ledger.sweep(JULY + 21 * MIN)) + billed(ledger.deleted("c", late))
    assert total == Decimal("0.0375")


@pytest.mark.parametrize("where", ["same_ledger", "other_ledger_first_sees_it", "other_ledger_knew_it"])
def test_a_deletion_seen_before_the_container_is_known_is_applied(make_store: StoreFactory, where: str) -> None:
    """Deleted at 5 minutes: 5 minutes x $0.0015, not the 21 minutes to its idle expiry ($0.0375). The
    other ledger is another worker (memory) or another process (Redis) sharing the claim store."""
    store = make_store()
    other = make_store() if isinstance(store, RedisSessionStore) else store  # another process, or worker
    deleting = ContainerLedger(RULES, store)
    billing = deleting if where == "same_ledger" else ContainerLedger(RULES, other)
    total = Decimal(0)
    if where == "other_ledger_knew_it":
        total += billed(billing.observe(USED, JULY + MIN, active=False))
    assert deleting.deleted("c", JULY + 5 * MIN) == []  # not known to the deleting ledger: kept
    if where != "other_ledger_knew_it":
        total += billed(billing.observe(USED, JULY + MIN, active=False))  # the response's charge, later
    total += billed(billing.sweep(JULY + 60 * MIN))
    assert total == Decimal("0.0075")
    assert billing.known("c") is None
