"""The background pool: work of one key in submission order, one at a time; drain sees chained work;
the queue bound counts waiting work of every key."""

from __future__ import annotations

import threading
import time

from opentelemetry.instrumentation.openai_assistants.background import Background


def _pool(concurrency: int = 4, queue_size: int = 100) -> Background:
    return Background(concurrency, queue_size, tick_s=0, on_tick=lambda: None)


def test_work_of_one_key_runs_in_order_and_alone() -> None:
    pool = _pool()
    done: list[int] = []
    running = {"now": 0, "most": 0}
    lock = threading.Lock()

    def work(i: int) -> None:
        with lock:
            running["now"] += 1
            running["most"] = max(running["most"], running["now"])
        time.sleep(0.02 if i == 0 else 0.001)  # the first is the slowest: a free worker must not overtake it
        with lock:
            running["now"] -= 1
            done.append(i)

    for i in range(6):
        assert pool.submit(work, i, key="thread_a")
    assert pool.drain(5.0)
    assert done == list(range(6))
    assert running["most"] == 1
    assert pool.pending() == 0


def test_other_keys_and_unkeyed_work_run_beside_a_slow_key() -> None:
    pool = _pool(concurrency=2)
    release = threading.Event()
    done: list[str] = []
    assert pool.submit(lambda: (release.wait(5), done.append("slow")), key="a")
    assert pool.submit(lambda: done.append("other key"), key="b")
    assert pool.submit(lambda: done.append("after slow"), key="a")
    deadline = time.monotonic() + 5
    while "other key" not in done and time.monotonic() < deadline:
        time.sleep(0.005)
    assert done == ["other key"]
    release.set()
    assert pool.drain(5.0)
    assert done == ["other key", "slow", "after slow"]


def test_waiting_work_counts_against_the_queue_bound() -> None:
    pool = _pool(concurrency=1, queue_size=2)
    release = threading.Event()
    assert pool.submit(release.wait, 5, key="a")
    deadline = time.monotonic() + 5
    while pool._queued and time.monotonic() < deadline:  # the first has started
        time.sleep(0.005)
    assert pool.submit(lambda: None, key="a")
    assert pool.submit(lambda: None, key="a")
    assert not pool.submit(lambda: None, key="a")  # two waiting: full
    assert not pool.submit(lambda: None)
    release.set()
    assert pool.drain(5.0)
    assert pool.submit(lambda: None, key="a")  # room again, and the key is free
    assert pool.drain(5.0)


def test_a_failing_work_does_not_stop_its_key() -> None:
    pool = _pool()
    done: list[int] = []

    def fail() -> None:
        raise RuntimeError("boom")

    assert pool.submit(fail, key="a")
    assert pool.submit(done.append, 1, key="a")
    assert pool.drain(5.0)
    assert done == [1]

