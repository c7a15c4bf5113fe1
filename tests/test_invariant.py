"""Money is never lost or counted twice: for every run the API reports usage for, the token and
dollar metrics equal the API's figures, once, however the run was observed, whatever happened to
background reads, the queue, the process or the instrumentor."""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
import urllib.request
from decimal import Decimal
from typing import Any

import pytest
from driver import Driver
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from spanutil import attrs, children, named, one

from openai_fake_api import Code, Function, Say, Script
from opentelemetry.instrumentation.openai_assistants import AssistantsInstrumentor

MINI_IN, MINI_OUT = Decimal("0.15") / 10**6, Decimal("0.60") / 10**6  # gpt-4o-mini, USD per token
SESSION = Decimal("0.03")
CI_AND_FUNCTION = [{"type": "code_interpreter"},
                   {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]
FUNCTION = CI_AND_FUNCTION[1:]


# --- reading the figures --------------------------------------------------------------------------

def spend(points: dict[str, list[Any]]) -> float:
    return sum(p.value for p in points.get("openai_cost.spend", []))


def tokens(points: dict[str, list[Any]]) -> dict[str, int]:
    found = {"input": 0, "output": 0}
    for point in points.get("gen_ai.client.token.usage", []):
        found[point.attributes["gen_ai.token.type"]] += int(point.sum)
    return found


def priced(tokens_in: int, tokens_out: int) -> Decimal:
    return tokens_in * MINI_IN + tokens_out * MINI_OUT


def runs_counted(points: dict[str, list[Any]]) -> int:
    return int(sum(p.value for p in points.get("openai_cost.runs", [])))


def outputs_for(run: Any) -> list[dict[str, str]]:
    return [{"tool_call_id": c.id, "output": json.dumps({"ok": True})}
            for c in run.required_action.submit_tool_outputs.tool_calls]


def start(api: Driver, fake_api: Any, steps: list[Any], tools: Any, report_usage: bool = True) -> tuple[Any, Any]:
    fake_api.scripts["case"] = Script(steps, report_usage=report_usage)
    beta = api.client.beta
    assistant = api(beta.assistants.create, model="gpt-4o-mini", name="Inv", tools=tools,
                    metadata={"script": "case"})
    thread = api(beta.threads.create, messages=[{"role": "user", "content": "What is six times seven?"}])
    return assistant, thread


def finish_by_polling(api: Driver, thread_id: str, run: Any) -> Any:
    runs = api.client.beta.threads.runs
    while run.status == "requires_action":
        run = api(runs.submit_tool_outputs_and_poll, run_id=run.id, thread_id=thread_id,
                  tool_outputs=outputs_for(run), poll_interval_ms=1)
    return run


# --- defect 1: a stream, then polling --------------------------------------------------------------

@pytest.mark.parametrize("how", ["stream_then_submit_and_poll", "broken_stream_then_poll"])
def test_steps_finished_after_a_stream_are_listed_and_counted_once(api: Driver, instrumented: Any, fake_api: Any,
                                                                   how: str) -> None:
    steps = [Code("print(6 * 7)", logs=["42\n"], usage=(300, 20)), Function("lookup", usage=(340, 12)),
             Say("It is 42.", usage=(380, 9))]
    assistant, thread = start(api, fake_api, steps, CI_AND_FUNCTION)
    runs = api.client.beta.threads.runs
    if how == "broken_stream_then_poll":
        fake_api.faults.add(r"/runs$", "reset", method="POST", after_events=6)
    manager = runs.stream(thread_id=thread.id, assistant_id=assistant.id)
    try:
        api.stream(manager)
    except Exception:
        assert how == "broken_stream_then_poll"
    run = api(runs.list, thread_id=thread.id).data[0]
    run = api(runs.poll, run.id, thread_id=thread.id, poll_interval_ms=1)
    run = finish_by_polling(api, thread.id, run)
    assert run.status == "completed"
    assert (run.usage.prompt_tokens, run.usage.completion_tokens) == (1020, 41)

    spans = instrumented.spans()
    run_span = one(spans, "invoke_agent")
    step_spans = children(spans, run_span)
    assert sorted((attrs(s)["gen_ai.usage.input_tokens"], attrs(s)["openai_cost.usage.source"])
                  for s in step_spans) == [(300, "reported"), (340, "reported"), (380, "reported")]
    assert attrs(run_span)["openai_cost.usage.scope"] == "steps"
    points = instrumented.metrics()
    assert tokens(points) == {"input": 1020, "output": 41}
    assert spend(points) == pytest.approx(float(priced(1020, 41) + SESSION), rel=1e-12)


# --- defect 2: a full background queue ----------------------------------------------------------------

def test_runs_dropped_from_a_full_queue_are_still_accounted(api: Driver, otel: Any, fake_api: Any) -> None:
    otel.instrument(fetch_concurrency=1, fetch_queue_size=1)
    fake_api.faults.add(r"/steps", "delay", count=None, method="GET", seconds=2.0)  # slow step listings
    assistant, thread = start(api, fake_api, [Say("One.", usage=(100, 5)), Say("Two.", usage=(120, 7))], [])
    runs = api.client.beta.threads.runs
    finished = [api(runs.create_and_poll, thread_id=thread.id, assistant_id=assistant.id, poll_interval_ms=1)
                for _ in range(4)]
    assert all(r.usage.prompt_tokens == 220 for r in finished)

    points = otel.metrics()
    # the first run is being read (running, not queued), the second waits: the third and fourth don't fit
    dropped = [p.value for p in points["openai_cost.fetches"] if p.attributes["openai_cost.fetch.outcome"] == "dropped"]
    assert sum(dropped) == 2
    assert tokens(points) == {"input": 4 * 220, "output": 4 * 12}
    assert spend(points) == pytest.approx(float(4 * priced(220, 12)), rel=1e-12)
    run_spans = named(otel.spans(), "invoke_agent")
    cheap = [attrs(s) for s in run_spans if attrs(s).get("openai_cost.run.accounted") == "queue_full"]
    assert len(cheap) == 2
    for a in cheap:
        assert a["openai_cost.usage.scope"] == "run"
        assert a["openai_cost.usage.run_level.input_tokens"] == 220
        assert a["openai_cost.input_tokens_usd"] == float(220 * MINI_IN)


def test_a_dropped_run_without_reported_usage_is_counted_unpriced(api: Driver, otel: Any, fake_api: Any) -> None:
    otel.instrument()
    otel.instrumentor._background.submit = lambda *args, **kwargs: False  # the queue is full
    assistant, thread = start(api, fake_api, [Say("One.")], [], report_usage=False)
    api(api.client.beta.threads.runs.create_and_poll, thread_id=thread.id, assistant_id=assistant.id,
        poll_interval_ms=1)
    points = otel.metrics()
    assert sum(p.value for p in points["openai_cost.unpriced.runs"]) == 1
    run = attrs(one(otel.spans(), "invoke_agent"))
    assert "background queue full" in run["openai_cost.unpriced_reason"]


# --- defect 6: created here, polled to its end elsewhere ------------------------------------------------

def _get(fake_api: Any, path: str) -> Any:
    with urllib.request.urlopen(f"{fake_api.base_url}{path}", timeout=10) as response:
        return json.loads(response.read())


def _post(fake_api: Any, path: str, body: Any) -> Any:
    request = urllib.request.Request(f"{fake_api.base_url}{path}", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def _poll_elsewhere(fake_api: Any, thread_id: str, run_id: str) -> Any:
    """What another process does: read the run until it ends, with no instrumentation."""
    for _ in range(100):
        run = _get(fake_api, f"/threads/{thread_id}/runs/{run_id}")
        if run["status"] in ("completed", "failed", "cancelled", "expired", "incomplete"):
            return run
    raise AssertionError("run never ended")


@pytest.mark.parametrize("elsewhere", ["polled_to_the_end", "unreadable"])
def test_a_run_polled_elsewhere_ends_with_what_the_api_says(api: Driver, instrumented: Any, fake_api: Any,
                                                            elsewhere: str) -> None:
    assistant, thread = start(api, fake_api, [Say("One.", usage=(100, 5)), Say("Two.", usage=(120, 7))], [])
    run = api(api.client.beta.threads.runs.create, thread_id=thread.id, assistant_id=assistant.id)
    if elsewhere == "polled_to_the_end":
        assert _poll_elsewhere(fake_api, thread.id, run.id)["usage"]["prompt_tokens"] == 220
    else:
        fake_api.faults.add(rf"/runs/{run.id}$", "server_error", count=None, method="GET")
    instrumented.instrumentor._tracker.sweep(now_s=time.time() + 7200)

    run_span = attrs(one(instrumented.spans(), "invoke_agent"))
    points = instrumented.metrics()
    durations = [p for p in points.get("gen_ai.client.operation.duration", [])
                 if p.attributes["gen_ai.operation.name"] == "invoke_agent"]
    if elsewhere == "polled_to_the_end":
        assert run_span["assistants.run.end_reason"] == "observed"
        assert run_span["assistants.run.status"] == "completed"
        assert "error.type" not in run_span
        assert tokens(points) == {"input": 220, "output": 12}
        assert spend(points) == pytest.approx(float(priced(220, 12)), rel=1e-12)
        assert sum(p.count for p in durations) == 1
    else:
        assert run_span["assistants.run.end_reason"] == "unobserved"
        assert durations == []  # an unseen end is no duration
        assert runs_counted(points) == 1


# --- defect 7: fork ----------------------------------------------------------------------------------

@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_starts_empty_with_fresh_locks(instrumented: Any, fake_api: Any) -> None:
    api = Driver("sync", fake_api.base_url)
    assistant, thread = start(api, fake_api, [Say("One.", usage=(100, 5))], [])
    runs = api.client.beta.threads.runs
    in_flight = api(runs.create, thread_id=thread.id, assistant_id=assistant.id)
    fake_api.scripts["child"] = Script([Say("Two.")], report_usage=False)  # the child's run is estimated
    child_assistant = api(api.client.beta.assistants.create, model="gpt-4o-mini", metadata={"script": "child"})
    tracker = instrumented.instrumentor._tracker
    history = tracker._on_message.__self__.history  # the accountant's thread history
    assert tracker.live_runs() == 1
    held, release = threading.Event(), threading.Event()

    def hold_the_lock() -> None:
        with tracker._lock, history._lock:
            held.set()
            release.wait(30)

    holder = threading.Thread(target=hold_the_lock)
    holder.start()
    held.wait(10)
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report what it sees and emits, never return into pytest
        code = 1
        try:
            os.close(reader)
            child = Driver("sync", fake_api.base_url)
            live = tracker.live_runs()
            thread_2 = child(child.client.beta.threads.create, messages=[{"role": "user", "content": "Hi"}])
            own = child(child.client.beta.threads.runs.create_and_poll, thread_id=thread_2.id,
                        assistant_id=child_assistant.id, poll_interval_ms=1)
            instrumented.instrumentor.uninstrument()  # ends whatever it still tracks
            emitted = {attrs(s).get("assistants.run.id"): attrs(s).get("openai_cost.usage.source")
                       for s in named(instrumented.exporter.get_finished_spans(), "invoke_agent")}
            os.write(writer, json.dumps({"live": live, "own": own.id, "emitted": emitted}).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(writer)
    release.set()
    holder.join()
    deadline = time.monotonic() + 60
    while (done := os.waitpid(pid, os.WNOHANG))[0] == 0:
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            pytest.fail("the child hung on the lock its parent held at fork")
        time.sleep(0.05)
    report = json.loads(os.read(reader, 65536) or b"{}")
    os.close(reader)
    assert os.waitstatus_to_exitcode(done[1]) == 0
    assert report["live"] == 0
    assert report["emitted"] == {report["own"]: "estimated"}  # accounted; not the parent's run in flight
    finished = api(runs.poll, in_flight.id, thread_id=thread.id, poll_interval_ms=1)
    assert finished.status == "completed"
    assert [attrs(s)["assistants.run.id"] for s in named(instrumented.spans(), "invoke_agent")] == [in_flight.id]
    api.close()


# --- defect 8: a finished run seen again --------------------------------------------------------------

def test_a_finished_run_seen_again_is_not_traced_twice(api: Driver, otel: Any, fake_api: Any) -> None:
    otel.instrument(trace_observed_runs=True)
    otel.instrumentor._tracker._ended.limit = 2  # what 10,000 other runs ending would do
    fake_api.scripts["case"] = Script([Say("One.", usage=(100, 5))])
    assistant = _post(fake_api, "/assistants", {"model": "gpt-4o-mini", "metadata": {"script": "case"}})
    made = []
    for _ in range(5):  # created and finished by another service, one a second
        thread = _post(fake_api, "/threads", {"messages": [{"role": "user", "content": "Hi"}]})
        run = _post(fake_api, f"/threads/{thread['id']}/runs", {"assistant_id": assistant["id"]})
        _poll_elsewhere(fake_api, thread["id"], run["id"])
        made.append((thread["id"], run["id"]))
        fake_api.clock.advance(1)
    retrieve = api.client.beta.threads.runs.retrieve
    for thread_id, run_id in made + made[:1]:  # the first one again, after it left the ended-run list
        assert api(retrieve, run_id, thread_id=thread_id).status == "completed"
    points = otel.metrics()
    assert runs_counted(points) == 5
    assert tokens(points) == {"input": 500, "output": 25}


def test_a_finished_run_seen_again_after_a_restart_is_not_traced_twice(api: Driver, otel: Any,
                                                                         fake_api: Any) -> None:
    otel.instrument(trace_observed_runs=True)
    fake_api.scripts["case"] = Script([Say("One.", usage=(100, 5))])
    assistant = _post(fake_api, "/assistants", {"model": "gpt-4o-mini", "metadata": {"script": "case"}})
    thread = _post(fake_api, "/threads", {"messages": [{"role": "user", "content": "Hi"}]})
    run = _post(fake_api, f"/threads/{thread['id']}/runs", {"assistant_id": assistant["id"]})
    _poll_elsewhere(fake_api, thread["id"], run["id"])
    retrieve = api.client.beta.threads.runs.retrieve
    api(retrieve, run["id"], thread_id=thread["id"])
    otel.instrumentor.force_flush()
    otel.instrumentor.uninstrument()
    otel.instrument(trace_observed_runs=True)
    assert api(retrieve, run["id"], thread_id=thread["id"]).status == "completed"
    points = otel.metrics()
    assert runs_counted(points) == 1
    assert tokens(points) == {"input": 100, "output": 5}


# --- defect 12: no steps, no reported usage -----------------------------------------------------------

@pytest.mark.parametrize("unreadable", ["fetch_steps_off", "steps_rate_limited"])
def test_a_run_without_steps_or_usage_is_estimated_at_run_level(api: Driver, otel: Any, fake_api: Any,
                                                                unreadable: str) -> None:
    otel.instrument(fetch_steps=unreadable != "fetch_steps_off")
    if unreadable == "steps_rate_limited":
        fake_api.faults.add(r"/steps", "rate_limit", count=None, method="GET")
    assistant, thread = start(api, fake_api, [Function("lookup"), Say("Six times seven is forty-two.")], FUNCTION,
                              report_usage=False)
    runs = api.client.beta.threads.runs
    run = api(runs.create_and_poll, thread_id=thread.id, assistant_id=assistant.id, poll_interval_ms=1)
    assert finish_by_polling(api, thread.id, run).usage is None
    spans = otel.spans()
    run_span = one(spans, "invoke_agent")
    assert children(spans, run_span) == []
    a = attrs(run_span)
    assert a["openai_cost.usage.source"] == "estimated"
    assert a["openai_cost.usage.partial"] is True
    assert a["openai_cost.usage.scope"] == "run"
    # two inferences (the call, the answer), each with at least the hidden base and the question
    assert a["gen_ai.usage.input_tokens"] >= 2 * (114 + 7 + 4)
    assert a["gen_ai.usage.output_tokens"] >= 9 + 2  # the answer and its overhead
    points = otel.metrics()
    assert tokens(points) == {"input": a["gen_ai.usage.input_tokens"], "output": a["gen_ai.usage.output_tokens"]}
    assert spend(points) == pytest.approx(a["openai_cost.rollup.total_usd"], rel=1e-12)


# --- issue 17 defect 11: the function calls the app was asked for are model output --------------------

ARGUMENTS = json.dumps({"city": "Paris", "unit": "celsius", "days": 7, "hourly": True, "language": "fr"})


@pytest.mark.parametrize("ending", ["submitted", "expired_awaiting_output"])
def test_a_run_level_estimate_counts_the_function_calls_of_required_action(api: Driver, otel: Any, fake_api: Any,
                                                                          ending: str) -> None:
    import tiktoken

    otel.instrument(fetch_steps=False)
    answer = "Six times seven is forty-two."
    assistant, thread = start(api, fake_api, [Function("lookup", ARGUMENTS), Say(answer)], FUNCTION,
                              report_usage=False)
    runs = api.client.beta.threads.runs
    run = api(runs.create_and_poll, thread_id=thread.id, assistant_id=assistant.id, poll_interval_ms=1)
    assert run.required_action.submit_tool_outputs.tool_calls[0].function.arguments == ARGUMENTS
    if ending == "submitted":
        run = finish_by_polling(api, thread.id, run)
    else:
        fake_api.clock.advance(2 * 3600)  # past expires_at while waiting for the app's output
        run = api(runs.retrieve, run.id, thread_id=thread.id)
    assert run.status == ("completed" if ending == "submitted" else "expired") and run.usage is None
    a = attrs(one(otel.spans(), "invoke_agent"))
    assert a["openai_cost.usage.source"] == "estimated" and a["openai_cost.usage.scope"] == "run"
    enc = tiktoken.get_encoding("o200k_base")
    written = len(enc.encode("lookup")) + len(enc.encode(ARGUMENTS))
    if ending == "submitted":
        written += len(enc.encode(answer))
    assert a["gen_ai.usage.output_tokens"] >= written
    assert tokens(otel.metrics())["output"] == a["gen_ai.usage.output_tokens"]


# --- the invariant, over random mixes -----------------------------------------------------------------

STYLES = ("create_and_poll", "retrieve_loop", "stream", "stream_then_poll", "broken_stream_then_poll")
step_usage = st.tuples(st.integers(0, 5000), st.integers(0, 800))
run_plans = st.fixed_dictionaries({
    "style": st.sampled_from(STYLES),
    "functions": st.lists(step_usage, max_size=2),  # function-call steps before the answer
    "answer": step_usage,
    "dropped": st.booleans(),  # the background queue has no room when the run ends
    "steps_fault": st.sampled_from([None, None, "rate_limit", "server_error"]),  # listing its steps fails
    "break_after": st.integers(2, 12),  # events before a broken stream drops
    "restart_before": st.booleans(),  # uninstrument and instrument again before this run
})
mixes = st.fixed_dictionaries({"kind": st.sampled_from(["sync", "async"]), "fetch_steps": st.booleans(),
                               "runs": st.lists(run_plans, min_size=1, max_size=5)})


def drive(api: Driver, style: str, thread_id: str, assistant_id: str) -> Any:
    """One run to its end the way an app might observe it; returns the run as the app last read it."""
    runs = api.client.beta.threads.runs
    if style == "create_and_poll":
        return finish_by_polling(api, thread_id, api(runs.create_and_poll, thread_id=thread_id,
                                                     assistant_id=assistant_id, poll_interval_ms=1))
    if style == "retrieve_loop":
        run = api(runs.create, thread_id=thread_id, assistant_id=assistant_id)
        while run.status not in ("completed", "failed", "cancelled", "expired", "incomplete"):
            if run.status == "requires_action":
                run = api(runs.submit_tool_outputs, run_id=run.id, thread_id=thread_id, tool_outputs=outputs_for(run))
            else:
                run = api(runs.retrieve, run.id, thread_id=thread_id)
        return run
    if style == "broken_stream_then_poll":
        with contextlib.suppress(Exception):  # the app moves on to polling
            api.stream(runs.stream(thread_id=thread_id, assistant_id=assistant_id))
        run = api(runs.list, thread_id=thread_id).data[0]
        return finish_by_polling(api, thread_id, api(runs.poll, run.id, thread_id=thread_id, poll_interval_ms=1))
    run = api.wait(api.stream(runs.stream(thread_id=thread_id, assistant_id=assistant_id)).get_final_run())
    if style == "stream_then_poll":
        return finish_by_polling(api, thread_id, run)
    while run.status == "requires_action":
        manager = runs.submit_tool_outputs_stream(thread_id=thread_id, run_id=run.id, tool_outputs=outputs_for(run))
        run = api.wait(api.stream(manager).get_final_run())
    return run


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(mix=mixes)
def test_metrics_equal_what_the_api_reported_whatever_happened(fake_api: Any, mix: dict[str, Any]) -> None:
    fake_api.faults.clear()
    reader = InMemoryMetricReader()
    meters = MeterProvider(metric_readers=[reader])
    instrumentor = AssistantsInstrumentor()
    options = {"tracer_provider": TracerProvider(), "meter_provider": meters, "fetch_steps": mix["fetch_steps"]}
    instrumentor.instrument(**options)
    api = Driver(mix["kind"], fake_api.base_url)
    reported_in = reported_out = 0
    try:
        for i, plan in enumerate(mix["runs"]):
            if plan["restart_before"]:
                instrumentor.uninstrument()
                instrumentor.instrument(**options)
            name = f"mix{i}"
            fake_api.scripts[name] = Script([*(Function("lookup", usage=u) for u in plan["functions"]),
                                             Say("Forty-two.", usage=plan["answer"])])
            beta = api.client.beta
            assistant = api(beta.assistants.create, model="gpt-4o-mini", tools=FUNCTION, metadata={"script": name})
            thread = api(beta.threads.create, messages=[{"role": "user", "content": "Six times seven?"}])
            if plan["steps_fault"]:
                fake_api.faults.add(r"/steps", plan["steps_fault"], method="GET")
            if plan["style"] == "broken_stream_then_poll":
                fake_api.faults.add(r"/runs$", "reset", method="POST", after_events=plan["break_after"])
            background = instrumentor._background
            if plan["dropped"]:
                background.submit = lambda *args, **kwargs: False
            run = drive(api, plan["style"], thread.id, assistant.id)
            assert run.status == "completed" and run.usage is not None
            reported_in += run.usage.prompt_tokens
            reported_out += run.usage.completion_tokens
            assert instrumentor.force_flush(10_000)
            vars(background).pop("submit", None)
            fake_api.faults.clear()
        assert instrumentor.force_flush(10_000)
        points = {}
        for resource in reader.get_metrics_data().resource_metrics:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    points.setdefault(metric.name, []).extend(metric.data.data_points)
        event(f"runs: {len(mix['runs'])}")
        assert tokens(points) == {"input": reported_in, "output": reported_out}
        assert spend(points) == pytest.approx(float(priced(reported_in, reported_out)), rel=1e-12, abs=1e-15)
        assert runs_counted(points) == len(mix["runs"])
    finally:
        instrumentor.uninstrument()
        api.close()
        meters.shutdown()


# --- where the reported usage is counted (the account, without the API) -------------------------------

def _account(run_usage: Any, step_usages: list[Any]) -> Any:
    from opentelemetry.instrumentation.openai_assistants.accounting.account import account_run
    from opentelemetry.instrumentation.openai_assistants.accounting.pricing import PriceBook
    from opentelemetry.instrumentation.openai_assistants.model import Message, Run, Step, Usage

    created = 1_735_000_000
    run = Run("run_1", "thread_1", "completed", model="gpt-4o-mini", created_at=created,
              usage=Usage(*run_usage) if run_usage else None)
    steps = [Step(f"step_{i}", "run_1", "thread_1", "message_creation", "completed", created_at=created + i,
                  message_id=f"msg_{i}", usage=Usage(*u) if u else None) for i, u in enumerate(step_usages)]
    messages = {f"msg_{i}": Message(f"msg_{i}", "thread_1", "assistant", "Forty-two.") for i in range(len(steps))}
    return account_run(run, steps, prices=PriceBook(), messages=messages)


@pytest.mark.parametrize("run_usage,steps,scope,leaves,run_level", [
    ((700, 30), [(300, 20), (400, 10)], "steps", [(300, 20), (400, 10)], None),
    ((700, 30), [(300, 20)], "mixed", [(300, 20)], (400, 10)),  # a step never seen
    ((700, 30), [(300, 20), None], "mixed", [(300, 20)], (400, 10)),  # a step seen without its usage
    ((700, 30), [], "run", [], (700, 30)),
    ((700, 30), [(800, 20)], "run", [], (700, 30)),  # the steps claim more than the run: the run wins
    (None, [(300, 20), None], "steps", [(300, 20), "estimated"], None),  # no run figure: steps are leaves
])
def test_the_runs_reported_usage_is_counted_once_at_its_leaves(run_usage: Any, steps: list[Any], scope: str,
                                                               leaves: list[Any], run_level: Any) -> None:
    account = _account(run_usage, steps)
    assert account.usage_scope == scope
    counted = [s for s in account.steps if s.leaf]
    assert [(s.usage.input_tokens, s.usage.output_tokens) if s.usage.source == "reported" else s.usage.source
            for s in counted] == leaves
    leaf = account.run_leaf
    assert ((leaf.usage.input_tokens, leaf.usage.output_tokens) if leaf else None) == run_level
    if run_usage:  # leaves add up to the API's figure, tokens and dollars
        tokens_in = sum(s.usage.input_tokens for s in counted) + (leaf.usage.input_tokens if leaf else 0)
        tokens_out = sum(s.usage.output_tokens for s in counted) + (leaf.usage.output_tokens if leaf else 0)
        assert (tokens_in, tokens_out) == run_usage
        usd = sum((s.input_usd + s.output_usd for s in counted), Decimal(0))
        usd += (leaf.input_usd + leaf.output_usd) if leaf else Decimal(0)
        assert usd == priced(*run_usage) == sum(account.cost_usd.values(), Decimal(0))
