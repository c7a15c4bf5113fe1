"""Code Interpreter sessions: one per thread and window, decided over API timestamps, idempotent."""

from __future__ import annotations

import multiprocessing
import uuid
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any, Callable

import pytest
import redis
from accounting_helpers import claim_all_in_random_order

from opentelemetry.instrumentation.openai_assistants.accounting import sessions
from opentelemetry.instrumentation.openai_assistants.accounting.sessions import (
    MemorySessionStore,
    RedisSessionStore,
    SessionDecision,
    SessionStore,
)

MIN = 60
T0 = 1_717_000_000

StoreFactory = Callable[..., SessionStore]


@pytest.fixture(params=["memory", "redis"])
def make_store(request: pytest.FixtureRequest) -> Iterator[StoreFactory]:
    if request.param == "memory":
        yield lambda **kw: MemorySessionStore(**kw)
        return
    url = request.getfixturevalue("redis_url")
    client = redis.Redis.from_url(url)
    prefix = f"test:{uuid.uuid4().hex}:"
    yield lambda **kw: RedisSessionStore(client, prefix=prefix, **kw)
    client.close()


def test_calls_59_minutes_apart_share_a_session(make_store: StoreFactory) -> None:
    store = make_store()
    assert store.claim("t", "c1", T0) == SessionDecision(True, False, T0)
    assert store.claim("t", "c2", T0 + 59 * MIN) == SessionDecision(False, False, T0)


def test_calls_61_minutes_apart_open_two_sessions(make_store: StoreFactory) -> None:
    store = make_store()
    assert store.claim("t", "c1", T0).opened
    assert store.claim("t", "c2", T0 + 61 * MIN) == SessionDecision(True, False, T0 + 61 * MIN)


def test_two_threads_two_sessions(make_store: StoreFactory) -> None:
    store = make_store()
    assert store.claim("t1", "c1", T0).opened
    assert store.claim("t2", "c2", T0).opened
    assert not store.claim("t1", "c3", T0 + 10).opened


def test_idle_timeout_ends_a_session(make_store: StoreFactory) -> None:
    store = make_store(idle_s=30 * MIN)
    assert store.claim("t", "c1", T0).opened
    assert not store.claim("t", "c2", T0 + 20 * MIN).opened  # 20 min idle: same session
    assert not store.claim("t", "c3", T0 + 45 * MIN).opened  # 25 min after c2
    opened = store.claim("t", "c4", T0 + 59 * MIN + 1)  # > 30 min idle? no: 14 min; still inside
    assert not opened.opened
    later = store.claim("t", "c5", T0 + 59 * MIN + 31 * MIN)  # 31 min idle and past the window
    assert later.opened
    idle_store = make_store(idle_s=10 * MIN)
    assert idle_store.claim("u", "d1", T0).opened
    assert idle_store.claim("u", "d2", T0 + 11 * MIN).opened  # inside the hour, but idle 11 min


def test_window_is_configurable(make_store: StoreFactory) -> None:
    store = make_store(window_s=20 * MIN)
    assert store.claim("t", "c1", T0).opened
    assert store.claim("t", "c2", T0 + 21 * MIN).opened


def test_late_arrival_is_flagged_and_not_billed_twice(make_store: StoreFactory) -> None:
    store = make_store()
    assert store.claim("t", "c2", T0 + 10 * MIN).opened  # seen first, though it happened second
    late = store.claim("t", "c1", T0)
    assert late == SessionDecision(False, True, T0 + 10 * MIN)
    assert store.claim("t", "c3", T0 + 30 * MIN) == SessionDecision(False, False, T0 + 10 * MIN)
    # A late call outside every session changes nothing earlier: it opens its own session.
    assert store.claim("t", "c0", T0 - 3 * 60 * MIN) == SessionDecision(True, False, T0 - 3 * 60 * MIN)
    # A late call inside an earlier session simply joins it.
    assert store.claim("t", "c00", T0 - 3 * 60 * MIN + 5) == SessionDecision(False, False, T0 - 3 * 60 * MIN)


def test_claims_are_idempotent(make_store: StoreFactory) -> None:
    store = make_store()
    first = store.claim("t", "c1", T0)
    assert store.claim("t", "c2", T0 + 5).opened is False
    assert store.claim("t", "c1", T0) == first  # the same call again: the same decision
    assert store.claim("t", "c1", T0 + 999) == first


def test_a_threads_decisions_are_kept_up_to_the_bound_oldest_forgotten_first(monkeypatch: Any) -> None:
    monkeypatch.setattr(sessions, "MAX_CALLS_PER_THREAD", 3)
    store = MemorySessionStore()
    store.claim("t", "c1", T0 + 10 * MIN)
    decisions = [store.claim("t", f"c0{i}", T0 + i) for i in range(5)]  # late calls: all remembered
    assert all(d == SessionDecision(False, True, T0 + 10 * MIN) for d in decisions)
    state = store._threads[sessions.thread_key("t")]
    assert isinstance(state, sessions._ThreadSessions)
    assert state.first_call is None and list(state.more_calls or {}) == ["c02", "c03", "c04"]
    for i in (2, 3, 4):  # remembered: the same decision, whatever the time given
        assert store.claim("t", f"c0{i}", T0 + 999) == decisions[i]
    # c1, the opener, forgotten, is decided again from the thread's sessions: never billed again
    assert store.claim("t", "c1", T0 + 10 * MIN) == SessionDecision(False, False, T0 + 10 * MIN)


def test_a_thread_with_one_session_is_one_packed_int() -> None:
    store = MemorySessionStore()
    first = store.claim("t", "call_é1", T0)
    key = sessions.thread_key("t")
    assert isinstance(store._threads[key], int)
    assert sessions._unpack(store._threads[key]) == (T0, T0, "call_é1")
    assert store.claim("t", "call_é1", T0 + 5) == first  # the opener again: the same decision
    inside = store.claim("t", "c2", T0 + 6)
    assert inside == SessionDecision(False, False, T0) and isinstance(store._threads[key], int)
    assert sessions._unpack(store._threads[key] & ~1) == (T0, T0 + 6, "call_é1")
    assert store.claim("t", "c2", T0 + 6) == inside  # not remembered, decided again: the same
    assert store.claim("t", "c3", T0 + 2 * 60 * MIN).opened  # a second session: kept in full
    assert isinstance(store._threads[key], sessions._ThreadSessions)
    assert store.claim("t", "call_é1", T0) == first and store.claim("t", "c2", T0 + 6) == inside


def test_what_does_not_fit_a_packed_int_is_kept_in_full() -> None:
    store = MemorySessionStore()
    for thread, call, ts in (("t1", "c" * 300, T0), ("t2", "c\ud800", T0), ("t3", "c", -5)):
        first = store.claim(thread, call, ts)
        assert first.opened and isinstance(store._threads[sessions.thread_key(thread)], sessions._ThreadSessions)
        assert store.claim(thread, call, ts) == first


def test_memory_store_is_bounded() -> None:
    store = MemorySessionStore(max_threads=2)
    for i in range(5):
        store.claim(f"t{i}", f"c{i}", T0)
    assert store.threads == 2 and len(store._queue) == 2


def test_a_thread_claimed_again_gets_a_second_chance() -> None:
    store = MemorySessionStore(max_threads=2)
    store.claim("t0", "c0", T0)
    store.claim("t1", "c1", T0)
    store.claim("t0", "c0b", T0 + 1)  # t0 claimed again: not the next one dropped
    store.claim("t2", "c2", T0 + 2)
    assert sessions.thread_key("t0") in store._threads and sessions.thread_key("t1") not in store._threads
    assert store.live_evictions == 1


def test_10001_live_threads_keep_their_sessions_and_claims_stay_idempotent() -> None:
    store = MemorySessionStore()
    threads = 10_001

    def claim_twice(i: int) -> tuple[SessionDecision, SessionDecision]:
        return store.claim(f"thread_{i}", f"call_{i}", T0 + i % 60), store.claim(f"thread_{i}", f"call_{i}", T0)

    with ThreadPoolExecutor(8) as pool:
        pairs = list(pool.map(claim_twice, range(threads)))
    assert all(first == again and first.opened and not first.late for first, again in pairs)
    # Every thread is still known: a second call in the window shares the session ...
    assert not store.claim("thread_0", "call_later", T0 + 120).opened
    # ... and re-observing the first call gives the first decision, not "late".
    assert store.claim("thread_0", "call_0", T0) == pairs[0][0]
    assert store.live_evictions == 0 and store.threads == threads


def test_memory_store_keeps_threads_by_time() -> None:
    store = MemorySessionStore(window_s=60, lateness_s=30)
    store.claim("old", "c1", T0)
    store.claim("new", "c2", T0 + 60 + 29)
    assert store.threads == 2  # "old" could still get a late call of its session
    store.claim("new", "c3", T0 + 60 + 30)
    assert store.threads == 1 and store.live_evictions == 0  # past window + lateness: gone, not counted


def test_memory_store_size_bound_counts_live_evictions() -> None:
    counted: list[int] = []
    store = MemorySessionStore(max_threads=2, on_live_eviction=lambda: counted.append(1))
    for i in range(3):
        store.claim(f"t{i}", f"c{i}", T0)
    assert store.threads == 2 and store.live_evictions == 1 and counted == [1]


@pytest.mark.parametrize("order", [("call_a", "call_b"), ("call_b", "call_a")])
def test_calls_in_the_same_second_are_ordered_by_call_id(make_store: StoreFactory, order: tuple[str, str]) -> None:
    store = make_store()
    first, second = (store.claim("t", call_id, T0) for call_id in order)
    assert first.opened and not second.opened  # one charge, whatever the order
    # call_a comes first in the thread's order: arriving after call_b opened, it is late (not billed).
    assert second.late == (order[1] == "call_a")
    assert store.claim("t", "call_c", T0 + 1).opened is False


def test_redis_store_from_url(redis_url: str) -> None:
    store = RedisSessionStore(url=redis_url, prefix=f"test:{uuid.uuid4().hex}:")
    assert store.claim("t", "c", T0).opened
    client = redis.Redis.from_url(redis_url)
    ttls = [client.ttl(k) for k in client.keys(f"{store.prefix}*")]
    assert len(ttls) == 2 and all(0 < t <= store.ttl_s for t in ttls)  # expiry collects garbage


def test_redis_processes_agree_on_one_session_per_thread_and_window(redis_url: str) -> None:
    prefix = f"test:{uuid.uuid4().hex}:"
    calls = []
    for t in range(5):
        for i in range(20):  # two bursts per thread, each inside one window, far apart
            calls.append((f"thread_{t}", f"t{t}_a{i}", T0 + i * 150))
            calls.append((f"thread_{t}", f"t{t}_b{i}", T0 + 10_000 + i * 150))
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Manager().Barrier(4)
    with ProcessPoolExecutor(4, mp_context=ctx) as pool:
        futures = [
            pool.submit(claim_all_in_random_order, redis_url, prefix, calls, seed, barrier)
            for seed in range(4)
        ]
        results = [f.result(timeout=120) for f in futures]
    for call_id in results[0]:
        assert len({r[call_id] for r in results}) == 1, f"processes disagree on {call_id}"
    decisions = results[0]
    for t in range(5):
        for burst in ("a", "b"):
            ids = [f"t{t}_{burst}{i}" for i in range(20)]
            assert sum(decisions[c][0] for c in ids) == 1, f"thread_{t} burst {burst}"
            assert len({decisions[c][2] for c in ids}) == 1  # every call names the same session


def test_a_hung_redis_fails_a_claim_instead_of_stalling() -> None:
    import socket

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)  # accepts connections (the kernel's backlog), never answers
    try:
        port = server.getsockname()[1]
        store = RedisSessionStore(url=f"redis://127.0.0.1:{port}/0", timeout_s=0.2, connect_timeout_s=0.2)
        kwargs = store._client.connection_pool.connection_kwargs
        assert (kwargs["socket_timeout"], kwargs["socket_connect_timeout"]) == (0.2, 0.2)
        with pytest.raises(redis.exceptions.TimeoutError):
            store.claim("thread_1", "call_1", T0)
    finally:
        server.close()
