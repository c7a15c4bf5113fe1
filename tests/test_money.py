"""Tokens and cost on spans and metrics, end to end through the SDK: reported figures passed through,
estimates where the API reports none, Code Interpreter sessions, prices by date, attribution."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
import tiktoken
from driver import Driver
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF
from spanutil import attrs, children, named, one

from openai_fake_api import Code, Say, Script
from openai_fake_api.scripts import SEED_CODE
from opentelemetry.instrumentation.openai_assistants.accounting.pricing import PriceBook

CI = [{"type": "code_interpreter"}]
MINI_IN, MINI_OUT = Decimal("0.15") / 10**6, Decimal("0.60") / 10**6  # gpt-4o-mini, USD per token


def run_script(api: Any, fake_api: Any, steps: list[Any], *, model: str = "gpt-4o-mini", thread: Any = None,
               report_usage: bool = True, tools: Any = CI, metadata: Any = None) -> tuple[Any, Any]:
    fake_api.scripts["case"] = Script(steps, report_usage=report_usage)
    beta = api.client.beta
    assistant = api(beta.assistants.create, model=model, name="Acct", tools=tools, metadata={"script": "case"})
    if thread is None:
        thread = api(beta.threads.create, messages=[{"role": "user", "content": "Hello"}])
    run = api(beta.threads.runs.create_and_poll, thread_id=thread.id, assistant_id=assistant.id,
              metadata=metadata or {})
    assert run.status == "completed"
    return thread, run


def cost_points(otel: Any) -> dict[str, float]:
    found: dict[str, float] = {}
    for point in otel.metrics().get("openai_cost.spend", []):
        kind = point.attributes["openai_cost.kind"]
        found[kind] = found.get(kind, 0.0) + point.value
    return found


def test_reported_usage_is_passed_through_and_priced(api: Any, instrumented: Any, fake_api: Any) -> None:
    run_script(api, fake_api, [Code("print(1)", logs=["1\n"], usage=(300, 20)), Say("Done.", usage=(350, 5))])
    spans = instrumented.spans()
    run_span = one(spans, "invoke_agent")
    steps = children(spans, run_span)
    expected = [(300, 20), (350, 5)]
    for step, (tokens_in, tokens_out) in zip(steps, expected, strict=True):
        a = attrs(step)
        assert (a["gen_ai.usage.input_tokens"], a["gen_ai.usage.output_tokens"]) == (tokens_in, tokens_out)
        assert a["openai_cost.usage.source"] == "reported"
        assert a["openai_cost.input_tokens_usd"] == float(tokens_in * MINI_IN)
        assert a["openai_cost.output_tokens_usd"] == float(tokens_out * MINI_OUT)
    tool = attrs(one(spans, "execute_tool"))
    assert tool["assistants.code_interpreter.session.opened"] is True
    assert tool["assistants.code_interpreter.session.inferred"] is True
    assert tool["openai_cost.code_interpreter_session_usd"] == 0.03
    run = attrs(run_span)
    assert (run["gen_ai.usage.input_tokens"], run["gen_ai.usage.output_tokens"]) == (650, 25)
    assert run["openai_cost.rollup.input_tokens_usd"] == float(650 * MINI_IN)
    assert run["openai_cost.rollup.total_usd"] == float(650 * MINI_IN + 25 * MINI_OUT + Decimal("0.03"))
    leaves = sum(float(attrs(s).get(k, 0)) for s in spans for k in (
        "openai_cost.input_tokens_usd", "openai_cost.output_tokens_usd",
        "openai_cost.code_interpreter_session_usd"))
    assert sum(cost_points(instrumented).values()) == pytest.approx(leaves, rel=1e-12)
    assert cost_points(instrumented)["code_interpreter_session"] == 0.03


def test_the_seed_case_is_estimated_as_worked_out_by_hand(api: Any, instrumented: Any, fake_api: Any) -> None:
    """CONTEXT.md §2: one user message, one Code Interpreter call with one log output, one answer, no
    instructions, only Code Interpreter, gpt-4-turbo-preview (hidden base 105), and no usage reported."""
    user, code, logs, answer = "What is the square root of 1764?", SEED_CODE, "42.0\n", "It is 42."
    beta = api.client.beta
    thread = api(beta.threads.create, messages=[{"role": "user", "content": user}])
    run_script(api, fake_api, [Code(code, logs=[logs]), Say(answer)], model="gpt-4-turbo-preview", thread=thread,
               report_usage=False)
    enc = tiktoken.get_encoding("cl100k_base")
    n = lambda text: len(enc.encode_ordinary(text))  # noqa: E731
    prompt_1 = 105 + n(user) + 4
    completion_1 = n(code) + 6
    prompt_2 = prompt_1 + 14 + n(code) + n(logs)
    completion_2 = n(answer) + 2
    spans = instrumented.spans()
    run_span = one(spans, "invoke_agent")
    step_1, step_2 = children(spans, run_span)
    for step, (tokens_in, tokens_out) in ((step_1, (prompt_1, completion_1)), (step_2, (prompt_2, completion_2))):
        a = attrs(step)
        assert (a["gen_ai.usage.input_tokens"], a["gen_ai.usage.output_tokens"]) == (tokens_in, tokens_out)
        assert a["openai_cost.usage.source"] == "estimated"
    run = attrs(run_span)
    assert run["openai_cost.usage.source"] == "estimated"
    assert run["gen_ai.usage.input_tokens"] == prompt_1 + prompt_2
    assert run["gen_ai.usage.output_tokens"] == completion_1 + completion_2
    assert run["openai_cost.rollup.input_tokens_usd"] == float((prompt_1 + prompt_2) * Decimal(10) / 10**6)


def test_an_unknown_model_has_no_cost_and_is_counted_unpriced(api: Any, instrumented: Any,
                                                              fake_api: Any) -> None:
    run_script(api, fake_api, [Say("Hi.", usage=(10, 3))], model="acme-llm-7", tools=[])
    step = attrs(one(instrumented.spans(), "chat"))
    assert step["gen_ai.usage.input_tokens"] == 10
    assert "openai_cost.input_tokens_usd" not in step
    assert "no price" in step["openai_cost.unpriced_reason"] or step["openai_cost.unpriced_reason"]
    metrics = instrumented.metrics()
    assert sum(p.value for p in metrics["openai_cost.unpriced.tokens"]) == 13
    assert sum(p.value for p in metrics["openai_cost.unpriced.runs"]) == 1
    assert "openai_cost.spend" not in metrics


def test_price_overrides_and_deployment_names(api: Any, otel: Any, fake_api: Any) -> None:
    otel.instrument(prices={"models": {"house-model": {"input_per_1m": "2", "output_per_1m": "8"}},
                            "code_interpreter_session": "0.05"},
                    deployments={"prod-mini": "gpt-4o-mini"})
    run_script(api, fake_api, [Code("1", logs=["1"], usage=(100, 10)), Say("ok", usage=(100, 10))],
               model="house-model")
    spans = otel.spans()
    assert attrs(children(spans, one(spans, "invoke_agent"))[0])["openai_cost.input_tokens_usd"] == 0.0002
    assert attrs(one(spans, "execute_tool"))["openai_cost.code_interpreter_session_usd"] == 0.05
    otel.exporter.clear()
    run_script(api, fake_api, [Say("ok", usage=(1000, 10))], model="prod-mini", tools=[])
    step = attrs(one(otel.spans(), "chat"))
    assert step["openai_cost.input_tokens_usd"] == float(1000 * MINI_IN)


def test_a_run_is_priced_at_the_prices_of_its_own_date(fake_api: Any) -> None:
    book = PriceBook()
    from opentelemetry.instrumentation.openai_assistants.model import Usage

    usage = Usage(1_000_000, 1_000_000)
    june, november = 1_718_000_000, 1_731_000_000  # 2024-06-10, 2024-11-07
    june_cost, november_cost = book.token_cost("gpt-4o", usage, june), book.token_cost("gpt-4o", usage, november)
    assert (june_cost.input_usd, june_cost.output_usd) == (Decimal(5), Decimal(15))  # type: ignore[union-attr]
    assert (november_cost.input_usd, november_cost.output_usd) == (Decimal("2.5"), Decimal(10))  # type: ignore[union-attr]


@pytest.mark.parametrize("minutes,sessions", [(59, 1), (61, 2)])
def test_code_interpreter_sessions_in_one_thread(api: Any, instrumented: Any, fake_api: Any, minutes: int,
                                                 sessions: int) -> None:
    thread, _ = run_script(api, fake_api, [Code("1", logs=["1"]), Say("one")])
    instrumented.spans()  # the first run accounted before the second: which call opens is then fixed
    fake_api.clock.advance(minutes * 60)
    api(api.client.beta.threads.messages.create, thread.id, role="user", content="again")
    run_script(api, fake_api, [Code("2", logs=["2"]), Say("two")], thread=thread)
    opened = [attrs(s)["assistants.code_interpreter.session.opened"] for s in named(instrumented.spans(),
                                                                                      "execute_tool")]
    assert opened == [True, sessions == 2]
    assert sum(p.value for p in instrumented.metrics()["openai_cost.code_interpreter.sessions"]) == sessions
    assert cost_points(instrumented)["code_interpreter_session"] == pytest.approx(0.03 * sessions)


def test_two_threads_are_two_sessions(api: Any, instrumented: Any, fake_api: Any) -> None:
    run_script(api, fake_api, [Code("1", logs=["1"]), Say("one")])
    run_script(api, fake_api, [Code("2", logs=["2"]), Say("two")])
    assert sum(p.value for p in instrumented.metrics()["openai_cost.code_interpreter.sessions"]) == 2


def test_history_reads_grow_with_new_content_not_with_the_thread(otel: Any, fake_api: Any) -> None:
    """A thread of 1,000 messages of which 999 the estimator has seen: one page of history is read."""
    otel.instrument()
    api = Driver("sync", fake_api.base_url)
    beta = api.client.beta
    thread = api(beta.threads.create)
    for i in range(999):
        api(beta.threads.messages.create, thread.id, role="user", content=f"message number {i}")
    run_script(api, fake_api, [Say("first")], thread=thread, report_usage=False, tools=[])
    otel.spans()  # the first estimate reads the thread once
    api(beta.threads.messages.create, thread.id, role="user", content="the new one")
    mark = len(fake_api.requests)
    run_script(api, fake_api, [Say("second")], thread=thread, report_usage=False, tools=[])
    otel.spans()
    reads = [r for r in fake_api.requests[mark:] if r.method == "GET" and r.path.endswith("/messages")]
    history = [r for r in reads if "run_id" not in r.query]
    assert len(history) == 1  # newest first, stopping at the first message already known
    assert len(reads) - len(history) == 1  # the run's own answer, read once to count it
    assert len(named(otel.spans(), "invoke_agent")) == 2
    api.close()


def test_metrics_are_whole_when_spans_are_not_sampled(api: Any, otel: Any, fake_api: Any) -> None:
    provider = TracerProvider(sampler=ALWAYS_OFF)
    provider.add_span_processor(SimpleSpanProcessor(otel.exporter))
    otel.instrumentor.instrument(tracer_provider=provider, meter_provider=otel.meter_provider)
    run_script(api, fake_api, [Code("1", logs=["1"], usage=(100, 10)), Say("ok", usage=(200, 5))])
    assert otel.spans() == []
    costs = cost_points(otel)
    assert costs["input_tokens"] == pytest.approx(float(300 * MINI_IN))
    assert costs["code_interpreter_session"] == 0.03
    assert sum(p.value for p in otel.metrics()["openai_cost.runs"]) == 1


def test_metadata_allow_list_on_spans_and_labels(api: Any, otel: Any, fake_api: Any) -> None:
    otel.instrument(metadata_keys=("tenant",), metadata_metric_labels=True)
    run_script(api, fake_api, [Say("ok", usage=(10, 1))], tools=[], metadata={"tenant": "acme", "user": "bob"})
    run = attrs(one(otel.spans(), "invoke_agent"))
    assert run["openai_cost.metadata.tenant"] == "acme"
    assert not any("bob" in str(v) for v in run.values())
    labels = [dict(p.attributes) for p in otel.metrics()["openai_cost.runs"]]
    assert labels[0]["openai_cost.metadata.tenant"] == "acme"
    assert "openai_cost.metadata.user" not in labels[0]
