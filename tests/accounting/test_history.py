"""Incremental thread history: page requests and tokenising grow with new content only."""

from __future__ import annotations

import threading
from typing import Optional

import pytest

from opentelemetry.instrumentation.openai_assistants.accounting.history import ThreadHistory, entry_bytes
from opentelemetry.instrumentation.openai_assistants.model import Message


class FakeThread:
    """A thread's messages with the API's newest-first cursor paging; counts requests."""

    def __init__(self, thread_id: str = "thread_1") -> None:
        self.thread_id = thread_id
        self.messages: list[Message] = []  # oldest first
        self.requests = 0
        self.next_id = 0

    def add(self, count: int, *, run_id: Optional[str] = None) -> list[Message]:
        added = []
        for _ in range(count):
            i = self.next_id
            self.next_id += 1
            role = "user" if i % 2 == 0 else "assistant"
            m = Message(
                f"msg_{i:05d}", self.thread_id, role, f"message {i} text", created_at=1000 + i, run_id=run_id
            )
            self.messages.append(m)
            added.append(m)
        return added

    def pager(self, thread_id: str, after: Optional[str], limit: int) -> tuple[list[Message], bool]:
        assert thread_id == self.thread_id
        self.requests += 1
        newest_first = list(reversed(self.messages))
        start = 0
        if after is not None:
            start = next(i for i, m in enumerate(newest_first) if m.id == after) + 1
        page = newest_first[start : start + limit]
        return page, start + limit < len(newest_first)


class CountingEncoder:
    name = "counting"
    degraded = False

    def __init__(self) -> None:
        self.calls = 0

    def count(self, text: str) -> int:
        self.calls += 1
        return len(text.split())


def tokens_of(history: ThreadHistory, messages: list[Message], enc: CountingEncoder) -> int:
    return sum(history.message_tokens(m, enc) for m in messages)


def test_never_seen_thread_reads_all_pages() -> None:
    thread = FakeThread()
    thread.add(1000)
    history = ThreadHistory(page_size=100)
    got = history.messages_before(thread.thread_id, thread.pager)
    assert thread.requests == 10
    assert [m.id for m in got] == [m.id for m in thread.messages]  # oldest first


def test_one_new_message_in_a_known_thread_needs_one_page_and_one_count() -> None:
    thread = FakeThread()
    thread.add(999)
    history = ThreadHistory(page_size=100)
    enc = CountingEncoder()
    tokens_of(history, history.messages_before(thread.thread_id, thread.pager, encoder=enc), enc)
    assert enc.calls == 999
    thread.requests, enc.calls = 0, 0

    thread.add(1)
    got = history.messages_before(thread.thread_id, thread.pager, encoder=enc)
    assert len(got) == 1000 and got[-1].id == "msg_00999"
    assert thread.requests == 1
    total = tokens_of(history, got, enc)
    assert enc.calls == 1  # only the new message is tokenised
    assert total == sum(len(m.text.split()) for m in thread.messages)


def test_cost_grows_with_new_content_not_thread_length() -> None:
    thread = FakeThread()
    thread.add(5000)
    history = ThreadHistory(page_size=100)
    history.messages_before(thread.thread_id, thread.pager)
    thread.requests = 0
    thread.add(150)  # a long new exchange: two pages
    history.messages_before(thread.thread_id, thread.pager)
    assert thread.requests == 2


def test_until_and_excluded_run() -> None:
    thread = FakeThread()
    thread.add(4)  # created 1000..1003
    thread.add(2, run_id="run_now")  # 1004, 1005: the accounted run's own answers
    thread.add(1)  # 1006: the next user message, after the run
    history = ThreadHistory()
    got = history.messages_before(thread.thread_id, thread.pager, until=1005, exclude_run_id="run_now")
    assert [m.id for m in got] == ["msg_00000", "msg_00001", "msg_00002", "msg_00003"]


def test_remembered_messages_are_counted_off_the_callers_path_and_order_is_checked() -> None:
    thread = FakeThread()
    thread.add(10)
    history = ThreadHistory()
    enc = CountingEncoder()
    history.messages_before(thread.thread_id, thread.pager, encoder=enc)
    new_user = thread.add(1)  # the app creates a message through the SDK...
    enc.calls = 0
    history.remember(new_user)
    assert enc.calls == 0  # the caller only appends
    thread.add(1)  # ...and another writer adds one the process never saw
    thread.requests = 0
    got = history.messages_before(thread.thread_id, thread.pager, encoder=enc)
    assert [m.id for m in got][-2:] == ["msg_00010", "msg_00011"]
    assert thread.requests == 1
    assert enc.calls == 2  # each new message counted once, in the background
    assert tokens_of(history, got, enc) == sum(len(m.text.split()) for m in thread.messages)
    assert enc.calls == 2


def test_only_counts_are_kept_and_memory_is_bounded_by_bytes() -> None:
    thread = FakeThread()
    for m in thread.add(200):
        m.text = "word " * 2000  # 10 kB of text each
    history = ThreadHistory()
    enc = CountingEncoder()
    got = history.messages_before(thread.thread_id, thread.pager, encoder=enc)
    assert all(m.text == "" for m in got) and tokens_of(history, got, enc) == 200 * 2000
    assert history.bytes == sum(entry_bytes(m) for m in got) < 200 * 500  # not the 2 MB of text
    small = ThreadHistory(max_bytes=history.bytes * 3)
    threads = [FakeThread(f"thread_{i}") for i in range(10)]
    for t in threads:
        t.add(200)
        small.messages_before(t.thread_id, t.pager, encoder=enc)
        assert small.bytes <= history.bytes * 3
    assert len(small._threads) == 3


def test_work_per_read_does_not_grow_with_the_threads_cached() -> None:
    def work_of_one_more_read(cached: int) -> int:
        history = ThreadHistory(max_threads=cached)
        for i in range(cached):
            t = FakeThread(f"thread_{i}")
            t.add(2)
            history.messages_before(t.thread_id, t.pager)
        extra = FakeThread("thread_new")
        extra.add(2)
        history.remember(extra.messages)  # the caller's part: an append
        before = history.touched
        history.messages_before(extra.thread_id, extra.pager)
        return history.touched - before

    assert work_of_one_more_read(1024) == work_of_one_more_read(8) <= 2


def test_another_encoding_reads_the_thread_again() -> None:
    thread = FakeThread()
    thread.add(3)
    history = ThreadHistory()
    history.messages_before(thread.thread_id, thread.pager, encoder=CountingEncoder())
    other = CountingEncoder()
    other.name = "other"
    thread.requests = 0
    got = history.messages_before(thread.thread_id, thread.pager, encoder=other)
    assert thread.requests == 1 and other.calls == 3
    assert {m.encoding for m in got} == {"other"}  # type: ignore[attr-defined]


def test_remembered_messages_of_an_unread_thread_still_read_its_past() -> None:
    thread = FakeThread()
    thread.add(30)
    history = ThreadHistory(page_size=10)
    history.remember(thread.messages[-1:])
    got = history.messages_before(thread.thread_id, thread.pager)
    assert len(got) == 30 and thread.requests == 3


def test_deleted_anchor_triggers_a_full_read() -> None:
    thread = FakeThread()
    thread.add(5)
    history = ThreadHistory()
    history.messages_before(thread.thread_id, thread.pager)
    thread.messages.clear()  # every message deleted, then new ones written
    thread.add(2)
    got = history.messages_before(thread.thread_id, thread.pager)
    assert [m.id for m in got] == ["msg_00005", "msg_00006"]


def test_pager_failure_propagates_and_keeps_state() -> None:
    thread = FakeThread()
    thread.add(3)
    history = ThreadHistory()
    history.messages_before(thread.thread_id, thread.pager)

    def broken(thread_id: str, after: Optional[str], limit: int) -> tuple[list[Message], bool]:
        raise TimeoutError("read timed out")

    with pytest.raises(TimeoutError):
        history.messages_before(thread.thread_id, broken)
    thread.add(1)
    assert len(history.messages_before(thread.thread_id, thread.pager)) == 4


def test_bounded_lru_of_threads() -> None:
    history = ThreadHistory(max_threads=3)
    threads = [FakeThread(f"thread_{i}") for i in range(5)]
    for t in threads:
        t.add(2)
        history.messages_before(t.thread_id, t.pager)
    threads[0].requests = 0
    threads[4].requests = 0
    history.messages_before(threads[4].thread_id, threads[4].pager)  # kept: one page, nothing new
    history.messages_before(threads[0].thread_id, threads[0].pager)  # evicted: read again
    assert threads[4].requests == 1 and threads[0].requests == 1
    assert len(history._threads) <= 3


def test_concurrent_readers_of_one_thread() -> None:
    thread = FakeThread()
    thread.add(300)
    history = ThreadHistory(page_size=100)
    results: list[int] = []

    def read() -> None:
        results.append(len(history.messages_before(thread.thread_id, thread.pager)))

    workers = [threading.Thread(target=read) for _ in range(8)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert results == [300] * 8
    assert thread.requests == 3 + 7  # one full read, then one page per later reader


def test_no_text_stays_after_a_drain() -> None:
    thread, unread = FakeThread(), FakeThread("thread_unread")
    thread.add(2)
    history = ThreadHistory()
    enc = CountingEncoder()
    history.messages_before(thread.thread_id, thread.pager, encoder=enc)
    history.remember([*thread.add(1), *unread.add(3)])  # the app reads messages of two threads
    history.drain()  # what the background does after every run
    assert len(history._inbox) == 0 and history._inbox_bytes == 0
    assert enc.calls == 3  # the known thread's new message only; the unread thread's are dropped
