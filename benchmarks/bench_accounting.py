"""Benchmark of the accounting core: tokens counted per second, the cost of estimating one new run
in threads of growing length (it should stay flat: only the run's new content is fetched and counted),
and the cost of pricing one step or response (rates resolved on every call vs resolved once).

Run: ``TIKTOKEN_CACHE_DIR=... python benchmarks/bench_accounting.py`` (prints a table; not a test).
"""

from __future__ import annotations

import os
import statistics
import sys
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path
from typing import Optional

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
_CACHE = next((d / "shared" / "tiktoken-cache" for d in REPO.parents if (d / "shared" / "tiktoken-cache").is_dir()),
              None)  # beside the checkout, or a level up from a worktree
if "TIKTOKEN_CACHE_DIR" not in os.environ and _CACHE is not None:
    os.environ["TIKTOKEN_CACHE_DIR"] = str(_CACHE)

from opentelemetry.instrumentation.openai_assistants.accounting.estimator import RunContext, estimate_run  # noqa: E402
from opentelemetry.instrumentation.openai_assistants.accounting.history import ThreadHistory  # noqa: E402
from opentelemetry.instrumentation.openai_assistants.accounting.pricing import PriceBook  # noqa: E402
from opentelemetry.instrumentation.openai_assistants.accounting.sessions import MemorySessionStore  # noqa: E402
from opentelemetry.instrumentation.openai_assistants.accounting.tokens import TokenCounter  # noqa: E402
from opentelemetry.instrumentation.openai_assistants.model import (  # noqa: E402
    Message,
    PriceTerms,
    Run,
    Step,
    ToolCall,
    ToolDefinition,
    Usage,
)

TEXT = (
    "Could you look at the quarterly figures in the attached summary and tell me whether revenue grew "
    "faster than costs? Please show the calculation step by step, and flag anything unusual. "
)


class Thread:
    """An in-memory thread with newest-first cursor paging; counts page requests."""

    def __init__(self, thread_id: str) -> None:
        self.thread_id = thread_id
        self.messages: list[Message] = []
        self.requests = 0

    def add(self, role: str, text: str, run_id: Optional[str] = None) -> Message:
        i = len(self.messages)
        m = Message(
            f"msg_{self.thread_id}_{i}", self.thread_id, role, text, run_id=run_id, created_at=1_000 + i
        )
        self.messages.append(m)
        return m

    def pager(self, thread_id: str, after: Optional[str], limit: int) -> tuple[list[Message], bool]:
        self.requests += 1
        newest = self.messages[::-1]
        start = 0 if after is None else next(i for i, m in enumerate(newest) if m.id == after) + 1
        return newest[start : start + limit], start + limit < len(newest)


def tokens_per_second(counter: TokenCounter, model: str) -> tuple[str, float]:
    enc = counter.encoder(model)
    texts = [f"{TEXT} #{i}" for i in range(2_000)]
    start = time.perf_counter()
    total = sum(enc.count(t) for t in texts)
    return enc.name, total / (time.perf_counter() - start)


def one_new_run(thread: Thread, history: ThreadHistory, counter: TokenCounter, k: int) -> tuple[float, int]:
    """Seconds and page requests to estimate a run after one new user message."""
    thread.add("user", f"{TEXT} (question {k})")
    run_id = f"run_{k}"
    created = 1_000 + len(thread.messages)
    run = Run(
        id=run_id,
        thread_id=thread.thread_id,
        status="completed",
        model="gpt-4o",
        created_at=created,
        tools=[ToolDefinition("code_interpreter")],
    )
    answer = thread.add("assistant", "Revenue grew 12%, costs 7%.", run_id=run_id)
    call = ToolCall(
        id=f"call_{k}",
        type="code_interpreter",
        name="code_interpreter",
        arguments="print(1.12 / 1.07)",
        logs=["1.0467\n"],
    )
    steps = [
        Step(
            f"s{k}a",
            run_id,
            thread.thread_id,
            "tool_calls",
            "completed",
            created_at=created,
            tool_calls=[call],
        ),
        Step(
            f"s{k}b",
            run_id,
            thread.thread_id,
            "message_creation",
            "completed",
            created_at=created + 1,
            message_id=answer.id,
        ),
    ]
    thread.requests = 0
    start = time.perf_counter()
    before = history.messages_before(thread.thread_id, thread.pager, until=created, exclude_run_id=run_id)
    ctx = RunContext(run, steps, {answer.id: answer}, before)
    estimate_run(ctx, counter, message_tokens=history.message_tokens)
    return time.perf_counter() - start, thread.requests


def price_us(
    book: PriceBook, model: str, created: int, usage: Usage, terms: Optional[PriceTerms], calls: int
) -> float:
    """Median µs per ``token_cost`` call over 7 blocks (the timestamps of a day's steps differ)."""
    blocks = []
    for _ in range(7):
        start = time.perf_counter()
        for i in range(calls):
            book.token_cost(model, usage, created + i, "openai", terms)
        blocks.append((time.perf_counter() - start) / calls * 1e6)
    return statistics.median(blocks)


def pricing_rows() -> None:
    rows = (
        # 2024-10-27: gpt-4o is then gpt-4o-2024-08-06; an Assistants step has input and output only
        ("price one step (Assistants, gpt-4o)", "gpt-4o", 1_730_000_000, Usage(1_234, 56), None),
        (
            "price one response (gpt-5, cached, flex, 2h)",
            "gpt-5",
            1_788_220_800,  # 2026-09-01
            Usage(12_345, 678, cached_input_tokens=4_096, cache_write_tokens=512, reasoning_tokens=200),
            PriceTerms("flex", "2h"),
        ),
    )
    print("Pricing one usage: rates resolved on every call (before) vs once per model and day (after)")
    print(f"  {'median of 7 blocks':<46} {'before: µs':>10} {'after: µs':>10} {'ratio':>7}")
    for label, model, created, usage, terms in rows:
        before = price_us(PriceBook({}, cache_size=0), model, created, usage, terms, calls=200)
        after = price_us(PriceBook({}), model, created, usage, terms, calls=2_000)
        print(f"  {label:<46} {before:>10.2f} {after:>10.2f} {before / after:>6.0f}x")
    print(f"  {'genai_prices.calc_price alone (the old path)':<46} {calc_price_us():>10.2f}")


def calc_price_us(calls: int = 200) -> float:
    import genai_prices

    when = datetime.fromtimestamp(1_730_000_000, tz=UTC)
    usage = genai_prices.Usage(input_tokens=1_234, output_tokens=56)
    blocks = []
    for _ in range(7):
        start = time.perf_counter()
        for _ in range(calls):
            genai_prices.calc_price(
                usage, model_ref="gpt-4o-2024-08-06", provider_id="openai", genai_request_timestamp=when
            )
        blocks.append((time.perf_counter() - start) / calls * 1e6)
    return statistics.median(blocks)


def main() -> None:
    counter = TokenCounter()
    print("Tokens counted per second (encode_ordinary, ~40-token messages)")
    for model in ("gpt-4o", "gpt-4-turbo-preview"):
        name, rate = tokens_per_second(counter, model)
        print(f"  {model:<22} {name:<14} {rate:>12,.0f} tokens/s")

    print()
    print("Estimating one new run (1 new user message, 1 code call, 1 answer); median of 20 runs")
    print(f"  {'earlier msgs':>12} | {'first read: ms':>14} {'pages':>5} | {'new run: ms':>11} {'pages':>5}")
    for size in (10, 100, 1_000):
        thread = Thread(f"t{size}")
        for i in range(size):
            thread.add("user" if i % 2 == 0 else "assistant", f"{TEXT} [{i}]")
        history = ThreadHistory()
        cold_s, cold_pages = one_new_run(thread, history, counter, 0)
        samples = [one_new_run(thread, history, counter, k) for k in range(1, 21)]
        warm_ms = statistics.median(s for s, _ in samples) * 1_000
        pages = max(p for _, p in samples)
        print(f"  {size:>12} | {cold_s * 1_000:>14.2f} {cold_pages:>5} | {warm_ms:>11.3f} {pages:>5}")


def session_bytes_per_thread(threads: int = 10_000, calls: int = 1) -> float:
    """What the in-memory session store keeps per thread with a Code Interpreter call, while its
    session can still get calls (window plus lateness): ids as long as the API's."""
    store = MemorySessionStore()
    tracemalloc.start()
    start = tracemalloc.get_traced_memory()[0]
    for t in range(threads):
        thread_id = f"thread_{t:024x}"
        for c in range(calls):
            store.claim(thread_id, f"call_{t:012x}{c:012x}", 1_780_000_000 + t // 10 + c)
    kept = tracemalloc.get_traced_memory()[0] - start
    tracemalloc.stop()
    return kept / threads


def memory_rows() -> None:
    print("In-memory session store: bytes kept per thread (10,000 threads, kept for window + lateness)")
    for calls in (1, 3):
        print(f"  {calls} Code Interpreter call(s) per thread: {session_bytes_per_thread(calls=calls):>6.0f} B")


if __name__ == "__main__":
    main()
    print()
    pricing_rows()
    print()
    memory_rows()
