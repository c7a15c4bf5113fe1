"""The run's account: reported usage passed through, estimates filling gaps, costs and sessions."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from accounting_helpers import calls_step, code_call, message_step, msg, run

from opentelemetry.instrumentation.openai_assistants.accounting.account import account_run
from opentelemetry.instrumentation.openai_assistants.accounting.estimator import BaseLearner
from opentelemetry.instrumentation.openai_assistants.accounting.pricing import PriceBook
from opentelemetry.instrumentation.openai_assistants.accounting.sessions import (
    MemorySessionStore,
    RedisSessionStore,
    SessionDecision,
)
from opentelemetry.instrumentation.openai_assistants.accounting.tokens import TokenCounter
from opentelemetry.instrumentation.openai_assistants.model import Step, Usage

NOV_2024 = int(datetime(2024, 11, 1, tzinfo=UTC).timestamp())
USER = "I need to solve the equation 3x + 11 = 14."
CODE_TEXT = "x = (14 - 11) // 3\nprint(f'x = {x}')"
ANSWER = "The equation 3x + 11 = 14 has the solution x = 1."


@pytest.fixture
def book() -> PriceBook:
    return PriceBook()


@pytest.fixture(scope="module")
def counter(tiktoken_cache: Path) -> TokenCounter:
    return TokenCounter()


def seed(
    reported: bool, model: str = "gpt-4-turbo-preview", created_at: int = NOV_2024, call_id: str = "c1"
) -> dict[str, Any]:
    steps = [
        calls_step("s1", [code_call(call_id, CODE_TEXT, ["x = 1"])], created_at=created_at + 1),
        message_step("s2", "a", created_at=created_at + 5),
    ]
    if reported:
        steps[0].usage = Usage(125, 26)
        steps[1].usage = Usage(170, 21)
    return {
        "run": run(model=model, created_at=created_at, usage=Usage(295, 47) if reported else None),
        "steps": steps,
        "messages": {"a": msg("a", "assistant", ANSWER)},
        "history": [msg("u", "user", USER, created_at=created_at - 1)],
    }


def test_estimated_run_priced_with_a_session(book: PriceBook, counter: TokenCounter) -> None:
    acct = account_run(**seed(False), prices=book, sessions=MemorySessionStore(), counter=counter)
    assert [(s.usage.input_tokens, s.usage.output_tokens, s.usage.source) for s in acct.steps] == [
        (125, 26, "estimated"),
        (163, 21, "estimated"),
    ]
    assert (acct.input_tokens, acct.output_tokens, acct.usage_source) == (288, 47, "estimated")
    # gpt-4-turbo-preview: $10 / $30 per 1M tokens; one Code Interpreter session $0.03.
    assert acct.cost_usd == {
        "input_tokens": Decimal("0.00288"),
        "output_tokens": Decimal("0.00141"),
        "code_interpreter_session": Decimal("0.03"),
    }
    assert acct.total_usd == Decimal("0.03429")
    assert acct.steps[0].input_usd == Decimal("0.00125") and acct.steps[1].output_usd == Decimal("0.00063")
    assert [(c.call_id, c.session_opened, c.session_usd, c.inferred) for c in acct.calls] == [
        ("c1", True, Decimal("0.03"), True)
    ]
    assert not acct.partial and not acct.degraded and acct.unpriced_reasons == []


def test_reported_usage_passes_through_exactly(book: PriceBook, counter: TokenCounter) -> None:
    acct = account_run(**seed(True), prices=book, counter=counter, sessions=MemorySessionStore())
    assert [(s.usage.input_tokens, s.usage.output_tokens, s.estimate) for s in acct.steps] == [
        (125, 26, None),
        (170, 21, None),
    ]
    assert (acct.input_tokens, acct.output_tokens, acct.usage_source) == (295, 47, "reported")
    assert acct.cost_usd["input_tokens"] == Decimal("0.00295")


def test_estimates_beside_reported_figures_when_asked(book: PriceBook, counter: TokenCounter) -> None:
    learner = BaseLearner()
    acct = account_run(
        **seed(True),
        prices=book,
        counter=counter,
        sessions=MemorySessionStore(),
        compare_estimates=True,
        learner=learner,
    )
    assert [s.usage.source for s in acct.steps] == ["reported", "reported"]
    assert [(s.estimate.input_tokens, s.estimate.output_tokens) for s in acct.steps if s.estimate] == [
        (125, 26),
        (163, 21),
    ]
    assert acct.estimate is not None and (acct.estimate.input_tokens, acct.estimate.output_tokens) == (
        288,
        47,
    )
    assert learner.base_for("gpt-4-turbo-preview", frozenset({"code_interpreter"})) == 105  # 125 reported


def test_mixed_sources(book: PriceBook, counter: TokenCounter) -> None:
    case = seed(True)
    case["run"].usage = None
    case["steps"][1].usage = None  # the last step's usage never arrived
    acct = account_run(**case, prices=book, counter=counter, sessions=MemorySessionStore())
    assert [s.usage.source for s in acct.steps] == ["reported", "estimated"]
    assert (acct.input_tokens, acct.output_tokens, acct.usage_source) == (125 + 163, 26 + 21, "mixed")


def test_unknown_model_is_unpriced_not_zero(counter: TokenCounter) -> None:
    acct = account_run(
        **seed(False, model="house-model"), prices=PriceBook(), counter=counter, sessions=MemorySessionStore()
    )
    assert "input_tokens" not in acct.cost_usd and "output_tokens" not in acct.cost_usd
    assert all(s.input_usd is None and s.unpriced_reason for s in acct.steps)
    assert acct.unpriced_input_tokens == acct.input_tokens > 0
    assert any("house-model" in r for r in acct.unpriced_reasons)
    assert acct.cost_usd == {"code_interpreter_session": Decimal("0.03")}  # the session still has a price


def test_no_tokenizer_marks_degraded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, book: PriceBook
) -> None:
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    acct = account_run(**seed(False), prices=book, counter=TokenCounter(), sessions=MemorySessionStore())
    assert acct.degraded and all(s.usage.degraded for s in acct.steps)
    assert acct.cost_usd["input_tokens"] > 0  # still a figure, flagged


def test_run_priced_at_its_own_date(counter: TokenCounter) -> None:
    june = int(datetime(2024, 6, 1, tzinfo=UTC).timestamp())
    old = account_run(
        **seed(True, "gpt-4o", june), prices=PriceBook(), counter=counter, sessions=MemorySessionStore()
    )
    new = account_run(
        **seed(True, "gpt-4o", NOV_2024), prices=PriceBook(), counter=counter, sessions=MemorySessionStore()
    )
    assert (old.cost_usd["input_tokens"], old.cost_usd["output_tokens"]) == (
        Decimal("0.001475"),
        Decimal("0.000705"),
    )
    assert (new.cost_usd["input_tokens"], new.cost_usd["output_tokens"]) == (
        Decimal("0.0007375"),
        Decimal("0.00047"),
    )


def test_deployment_names_are_priced_and_tokenised_as_their_model(counter: TokenCounter) -> None:
    book = PriceBook(deployments={"prod-gpt4t": "gpt-4-turbo-preview"})
    acct = account_run(
        **seed(False, model="prod-gpt4t"),
        prices=book,
        counter=counter,
        sessions=MemorySessionStore(),
        provider="azure.ai.openai",
    )
    assert (acct.model, acct.priced_model) == ("prod-gpt4t", "gpt-4-turbo-preview")
    assert (acct.input_tokens, acct.output_tokens) == (288, 47)  # base table and cl100k of the real model
    assert acct.cost_usd["code_interpreter_session"] == Decimal("0.03")


def test_sessions_across_runs_of_a_thread(book: PriceBook, counter: TokenCounter) -> None:
    store = MemorySessionStore()
    first = account_run(**seed(False), prices=book, counter=counter, sessions=store)
    later = seed(False, created_at=NOV_2024 + 600, call_id="c2")
    second = account_run(**later, prices=book, counter=counter, sessions=store)
    assert first.calls[0].session_opened and not second.calls[0].session_opened
    assert "code_interpreter_session" not in second.cost_usd
    # The same run accounted twice (a retry) bills its session once: claims are idempotent.
    again = account_run(**seed(False), prices=book, counter=counter, sessions=store)
    assert again.calls[0].session_opened and again.calls[0].session_usd == Decimal("0.03")


@pytest.mark.parametrize("store_kind", ["memory", "redis"])
def test_two_calls_in_one_second_charge_the_smaller_call_id(store_kind: str, book: PriceBook,
                                                            counter: TokenCounter, request: Any) -> None:
    charged = set()
    for steps_order in ((0, 1), (1, 0)):  # listed vs streamed: the steps may come in either order
        case = seed(True)
        second = calls_step("s1b", [code_call("c0", CODE_TEXT, ["x = 1"])], created_at=NOV_2024 + 1)
        steps = [case["steps"][0], second]
        case["steps"] = [steps[i] for i in steps_order] + case["steps"][1:]
        if store_kind == "redis":
            store: Any = RedisSessionStore(url=request.getfixturevalue("redis_url"), prefix=f"t:{uuid.uuid4().hex}:")
        else:
            store = MemorySessionStore()
        acct = account_run(**case, prices=book, counter=counter, sessions=store)
        charged.add(tuple(c.call_id for c in acct.calls if c.session_opened))
    assert charged == {("c0",)}  # "c0" < "c1": the same call in every process, however observed


class BrokenStore:
    def claim(self, thread_id: str, call_id: str, call_ts: int) -> SessionDecision:
        raise ConnectionError("redis down")


def test_failures_never_raise(book: PriceBook, counter: TokenCounter) -> None:
    acct = account_run(**seed(False), prices=book, counter=counter, sessions=BrokenStore())
    assert acct.calls[0].session_usd is None and "session store error" in (
        acct.calls[0].unpriced_reason or ""
    )
    assert acct.cost_usd["input_tokens"] > 0
    odd = Step(id="s", run_id="run_1", thread_id="thread_1", type="brand_new", status="completed")
    acct = account_run(run(), [odd], prices=book, counter=counter, sessions=MemorySessionStore())
    assert acct.steps[0].usage.partial and acct.partial
    nothing = account_run(run(status="failed"), [], prices=book, counter=counter)
    assert nothing.usage_source is None and nothing.total_usd is None
