"""The estimator against hand computations (CONTEXT §2): texts spelled out, counted with tiktoken."""

from __future__ import annotations

import json
import threading

import pytest
import tiktoken
from accounting_helpers import CODE, calls_step, code_call, message_step, msg, run

from opentelemetry.instrumentation.openai_assistants.accounting.estimator import (
    BaseLearner,
    Overheads,
    RunContext,
    estimate_run,
    sum_usage,
)
from opentelemetry.instrumentation.openai_assistants.accounting.tokens import ApproximateEncoder, TokenCounter
from opentelemetry.instrumentation.openai_assistants.model import RunRequest, Step, ToolCall, ToolDefinition

USER = "I need to solve the equation 3x + 11 = 14."
CODE_TEXT = "x = (14 - 11) // 3\nprint(f'x = {x}')"
LOG = "x = 1"
ANSWER = "The equation 3x + 11 = 14 has the solution x = 1."


@pytest.fixture(scope="module")
def cl100k(tiktoken_cache: object) -> tiktoken.Encoding:
    return tiktoken.get_encoding("cl100k_base")


@pytest.fixture(scope="module")
def counter(tiktoken_cache: object) -> TokenCounter:
    return TokenCounter()


def n(enc: tiktoken.Encoding, text: str) -> int:
    return len(enc.encode_ordinary(text))


def seed_context(model: str = "gpt-4-turbo-preview") -> RunContext:
    answer = msg("msg_a", "assistant", ANSWER, run_id="run_1")
    return RunContext(
        run=run(model=model, created_at=100),
        steps=[
            calls_step("step_1", [code_call("call_1", CODE_TEXT, [LOG])], created_at=101),
            message_step("step_2", "msg_a", created_at=105),
        ],
        messages={"msg_a": answer},
        history=[msg("msg_u", "user", USER, created_at=99)],
    )


def test_seed_case_by_hand(cl100k: tiktoken.Encoding, counter: TokenCounter) -> None:
    # Tokens (cl100k_base, the encoding of gpt-4-turbo-preview): user 16, code 20, log 4, answer 19.
    user, code, log, answer = n(cl100k, USER), n(cl100k, CODE_TEXT), n(cl100k, LOG), n(cl100k, ANSWER)
    assert (user, code, log, answer) == (16, 20, 4, 19)
    # Step 1 (the Code Interpreter call): prompt = base 105 + user 16 + 4 = 125; completion = code 20 + 6 = 26
    # Step 2 (the answer): prompt = 125 + 14 + code 20 + log 4 = 163; completion = answer 19 + 2 = 21.
    # Run: prompt counted once per step, 125 + 163 = 288; completion 26 + 21 = 47 (the figures of §2).
    first, second = estimate_run(seed_context(), counter)
    assert first.step_id == "step_1" and second.step_id == "step_2"
    assert (first.usage.input_tokens, first.usage.output_tokens) == (105 + user + 4, code + 6) == (125, 26)
    assert (
        (second.usage.input_tokens, second.usage.output_tokens)
        == (125 + 14 + code + log, answer + 2)
        == (163, 21)
    )
    total = sum_usage([first.usage, second.usage])
    assert (total.input_tokens, total.output_tokens) == (288, 47)
    for est in (first, second):
        assert est.usage.source == "estimated" and not est.usage.partial and not est.usage.degraded
        assert (est.base_tokens, est.base_source) == (105, "table")


@pytest.mark.parametrize("model", ["gpt-4-1106-preview", "gpt-4-0125-preview", "gpt-4-turbo-preview",
                                   "gpt-4-turbo", "gpt-4-turbo-2024-04-09"])
def test_the_turbo_preview_family_shares_the_seed_base(model: str, counter: TokenCounter) -> None:
    # The seed's worked example ran on gpt-4-1106-preview: its measured 288/47 hold for the whole family.
    steps = estimate_run(seed_context(model), counter)
    assert [(e.base_tokens, e.base_source) for e in steps] == [(105, "table")] * 2
    total = sum_usage([e.usage for e in steps])
    assert (total.input_tokens, total.output_tokens) == (288, 47)


@pytest.mark.parametrize("model", ["gpt-4", "gpt-4-0613", "gpt-4o", "gpt-4o-2024-08-06"])
def test_names_outside_a_family_take_the_fallback(model: str, counter: TokenCounter) -> None:
    assert Overheads().base(model, frozenset({"code_interpreter"})) == (None, "fallback")


def test_steps_are_ordered_by_api_time(counter: TokenCounter) -> None:
    ctx = seed_context()
    ctx.steps = list(reversed(ctx.steps))  # the API lists steps newest first
    assert [e.step_id for e in estimate_run(ctx, counter)] == ["step_1", "step_2"]


def test_a_later_run_sees_earlier_messages_not_earlier_tool_calls(
    cl100k: tiktoken.Encoding, counter: TokenCounter
) -> None:
    follow_up = "And 5x - 2 = 13?"
    reply = "x = 3."
    history = [
        msg("msg_u", "user", USER, created_at=99),
        msg("msg_a", "assistant", ANSWER, run_id="run_1", created_at=105),
        msg("msg_u2", "user", follow_up, created_at=200),
    ]
    ctx = RunContext(
        run=run("run_2", created_at=201),
        steps=[message_step("step_3", "msg_r", run_id="run_2", created_at=202)],
        messages={"msg_r": msg("msg_r", "assistant", reply, run_id="run_2")},
        history=history,
    )
    (est,) = estimate_run(ctx, counter)
    # base + (user + 4) + (assistant answer + 4, as context) + (follow-up + 4); run 1's code call is gone.
    expected = 105 + (n(cl100k, USER) + 4) + (n(cl100k, ANSWER) + 4) + (n(cl100k, follow_up) + 4)
    assert est.usage.input_tokens == expected
    assert est.usage.output_tokens == n(cl100k, reply) + 2


def test_several_calls_and_outputs_in_one_step(cl100k: tiktoken.Encoding, counter: TokenCounter) -> None:
    code_a, code_b = "import math\nprint(math.pi)\nprint(math.e)", "print(2**10)"
    logs_a, logs_b = ["3.141592653589793\n", "2.718281828459045\n"], ["1024\n"]
    ctx = RunContext(
        run=run(created_at=10),
        steps=[
            calls_step(
                "s1", [code_call("c1", code_a, logs_a), code_call("c2", code_b, logs_b)], created_at=11
            ),
            message_step("s2", "m", created_at=12),
        ],
        messages={"m": msg("m", "assistant", "Done.")},
        history=[msg("u", "user", "Compute pi, e and 2**10.")],
    )
    first, second = estimate_run(ctx, counter)
    assert first.usage.output_tokens == (n(cl100k, code_a) + 6) + (n(cl100k, code_b) + 6)
    # Each call: 14 + code + its logs; the second log output of call a adds the extra-output overhead (4).
    growth_a = 14 + n(cl100k, code_a) + sum(n(cl100k, x) for x in logs_a) + 4
    growth_b = 14 + n(cl100k, code_b) + n(cl100k, logs_b[0])
    assert second.usage.input_tokens == first.usage.input_tokens + growth_a + growth_b
    # The extra-output overhead is configuration.
    (_, second_custom) = estimate_run(ctx, counter, Overheads(extra_output_context=9))
    assert second_custom.usage.input_tokens == second.usage.input_tokens + 5


def test_legacy_code_call_type_counts_like_code_interpreter(counter: TokenCounter) -> None:
    ctx = seed_context()
    legacy = seed_context()
    legacy.steps[0].tool_calls[0].type = "code"
    assert [e.usage for e in estimate_run(legacy, counter)] == [e.usage for e in estimate_run(ctx, counter)]


def test_function_calls_with_schemas(counter: TokenCounter) -> None:
    enc = tiktoken.get_encoding("o200k_base")
    schema = json.dumps(
        {
            "name": "get_weather",
            "description": "Weather of a city",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        }
    )
    args, output = '{"city": "Paris"}', '{"temp_c": 21}'
    call = ToolCall(id="f1", type="function", name="get_weather", arguments=args, output=output)
    ctx = RunContext(
        run=run(model="gpt-4o", tools=[ToolDefinition("function", "get_weather", schema)], created_at=5),
        steps=[calls_step("s1", [call], created_at=6), message_step("s2", "m", created_at=9)],
        messages={"m": msg("m", "assistant", "It is 21 C in Paris.")},
        history=[msg("u", "user", "Weather in Paris?")],
    )
    first, second = estimate_run(ctx, counter)
    # No table entry for (gpt-4o, {function}): fallback base 114, plus the schema's own tokens.
    assert first.base_source == "fallback" and first.base_tokens == 114
    assert first.usage.input_tokens == 114 + n(enc, schema) + n(enc, "Weather in Paris?") + 4
    assert first.usage.output_tokens == n(enc, "get_weather") + n(enc, args) + 5
    grown = 14 + n(enc, "get_weather") + n(enc, args) + n(enc, output)
    assert second.usage.input_tokens == first.usage.input_tokens + grown
    assert not first.usage.partial and not second.usage.partial


def test_base_entry_that_includes_the_function_definition(
    cl100k: tiktoken.Encoding, counter: TokenCounter
) -> None:
    schema = '{"name": "lookup", "parameters": {"type": "object", "properties": {}}}'
    ctx = RunContext(
        run=run(model="gpt-4-1106-preview", tools=[ToolDefinition("function", "lookup", schema)]),
        steps=[message_step("s1", "m")],
        messages={"m": msg("m", "assistant", "Hi")},
        history=[msg("u", "user", "Hello")],
    )
    (est,) = estimate_run(ctx, counter)
    assert est.usage.input_tokens == 283 + n(cl100k, "Hello") + 4  # the definition is inside the 283
    assert est.base_tokens == 283 - n(cl100k, schema)  # the hidden part alone


def test_snapshot_names_use_their_family_entry(counter: TokenCounter) -> None:
    ctx = seed_context()
    ctx.run.model = "gpt-4o-mini-2024-07-18"
    assert estimate_run(ctx, counter)[0].base_tokens == 114


def test_truncation_keeps_the_last_messages(cl100k: tiktoken.Encoding, counter: TokenCounter) -> None:
    history = [msg(f"m{i}", "user" if i % 2 == 0 else "assistant", f"message number {i}") for i in range(5)]
    steps = [message_step("s", "out")]
    out = {"out": msg("out", "assistant", "ok")}
    full = estimate_run(RunContext(run(), steps, out, history), counter)[0].usage.input_tokens
    last2 = estimate_run(RunContext(run(truncation_last_messages=2), steps, out, history), counter)[0]
    dropped = sum(n(cl100k, f"message number {i}") + 4 for i in range(3))
    assert last2.usage.input_tokens == full - dropped
    none = estimate_run(RunContext(run(truncation_last_messages=0), steps, out, history), counter)[0]
    assert none.usage.input_tokens == 105


def test_instructions_and_additional_instructions_and_messages(
    cl100k: tiktoken.Encoding, counter: TokenCounter
) -> None:
    instructions = "You are a math tutor. Show your work."
    extra = "The user is a beginner."
    added = msg("", "user", "Also explain the steps.")
    request = RunRequest(additional_instructions=extra, additional_messages=[added])
    ctx = RunContext(
        run(instructions=instructions, created_at=100),
        [message_step("s", "o")],
        {"o": msg("o", "assistant", "Sure.")},
        [msg("u", "user", USER, created_at=99)],
        request,
    )
    (est,) = estimate_run(ctx, counter)
    expected = 105 + n(cl100k, instructions) + n(cl100k, extra) + (n(cl100k, USER) + 4)
    assert est.usage.input_tokens == expected + n(cl100k, added.text) + 4
    # Read back after the run started, the additional message is in the history: not counted twice.
    ctx.history = [*ctx.history, msg("m_added", "user", added.text, created_at=100)]
    assert estimate_run(ctx, counter)[0].usage.input_tokens == expected + n(cl100k, added.text) + 4


def test_images_and_file_search_mark_partial(counter: TokenCounter) -> None:
    history = [msg("u", "user", "What is in this picture?", uncounted_parts=1)]
    ctx = RunContext(run(), [message_step("s", "o")], {"o": msg("o", "assistant", "A cat.")}, history)
    assert estimate_run(ctx, counter)[0].usage.partial

    search = ToolCall(id="fs", type="file_search", name="file_search", results=3)
    ctx = RunContext(
        run(tools=[ToolDefinition("file_search")]),
        [
            message_step("s0", "o0", created_at=1),
            calls_step("s1", [search], created_at=2),
            message_step("s2", "o", created_at=3),
        ],
        {"o0": msg("o0", "assistant", "Let me look."), "o": msg("o", "assistant", "Found it.")},
        [msg("u", "user", "Search my files")],
    )
    first, searched, answered = estimate_run(ctx, counter)
    assert not first.usage.partial and searched.usage.partial and answered.usage.partial

    plot = calls_step("s", [code_call("c", "plot()", [], images=1)])
    ctx = RunContext(run(), [plot], {}, [msg("u", "user", "plot")])
    assert estimate_run(ctx, counter)[0].usage.partial


def test_unknown_types_do_not_raise(counter: TokenCounter) -> None:
    odd_call = ToolCall(id="x", type="computer_use", name="computer", arguments="{}", output="ok")
    ctx = RunContext(
        run(),
        [
            Step(
                id="s1",
                run_id="run_1",
                thread_id="thread_1",
                type="reasoning",
                status="completed",
                created_at=1,
            ),
            calls_step("s2", [odd_call], created_at=2),
            message_step("s3", "missing", created_at=3),
        ],
        {},
        [msg("u", "user", "hi"), msg("d", "developer", "note")],
    )
    estimates = estimate_run(ctx, counter)
    assert [e.usage.partial for e in estimates] == [True, True, True]
    assert estimates[0].usage.output_tokens == 0 and estimates[1].usage.output_tokens > 0


def test_approximate_counter_marks_degraded() -> None:
    (first, second) = estimate_run(seed_context(), ApproximateEncoder())
    assert first.usage.degraded and second.usage.degraded
    assert first.usage.input_tokens > 105


def test_learner_replaces_the_base_with_the_reported_residual(counter: TokenCounter) -> None:
    learner = BaseLearner()
    ctx = seed_context()
    ctx.run.model = "gpt-4.1"  # no table entry: the fallback (114) applies
    first = estimate_run(ctx, counter, learner=learner)[0]
    assert first.base_source == "fallback"
    reported_prompt = first.usage.input_tokens - 114 + 130  # the API says the base is really 130
    tools = frozenset({"code_interpreter"})
    assert learner.observe("gpt-4.1", tools, first, reported_prompt) == 130
    again = estimate_run(ctx, counter, learner=learner)[0]
    assert (again.base_source, again.base_tokens) == ("learned", 130)
    assert again.usage.input_tokens == reported_prompt
    # Other configurations are not affected.
    ctx.run.tools = [CODE, ToolDefinition("file_search")]
    assert estimate_run(ctx, counter, learner=learner)[0].base_source == "fallback"


def test_learner_is_bounded_and_thread_safe(counter: TokenCounter) -> None:
    learner = BaseLearner(max_configs=8)
    first = estimate_run(seed_context(), counter)[0]

    def feed(worker: int) -> None:
        for i in range(200):
            learner.observe(f"model-{worker}-{i % 20}", frozenset(), first, first.usage.input_tokens)

    threads = [threading.Thread(target=feed, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    known = sum(
        learner.base_for(f"model-{w}-{i}", frozenset()) is not None for w in range(4) for i in range(20)
    )
    assert known == 8
