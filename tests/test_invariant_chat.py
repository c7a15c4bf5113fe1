"""Money is never lost or counted twice, chat completions and embeddings: for every call whose usage
the API reported, the token and dollar metrics equal the API's figures exactly, once, however the call
was observed (returned, parsed, streamed with or without usage, the stream helper, the raw and the
streaming-response forms, sync or async), whatever happened to retried requests, the background
queue or the instrumentor between calls. Expected dollars come from the hand table of
``chat_helpers``, never from the price book under test. A stream sent without usage is estimated:
its tokens are marked so and its dollars, never zero, are the rest of the counter."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from chat_helpers import HAND, MODEL, PRICES, chat_cost, usd
from driver import Driver
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from test_invariant_responses import collected

from openai_fake_api.chat_scripts import ChatScript, ChatUsage
from opentelemetry.instrumentation.openai_assistants import AssistantsInstrumentor

AUDIO = "gpt-4o-audio-preview"
EMBEDDING = "text-embedding-3-small"
APIS = ("chat_completions", "embeddings")
STYLES = ("plain", "parse", "stream_usage", "stream_no_usage", "stream_helper", "raw", "streaming_response",
          "raw_stream")
HELLO = [{"role": "user", "content": "What is six times seven, in words please?"}]


@st.composite
def usages(draw: Any, audio: bool) -> ChatUsage:
    prompt, completion = draw(st.integers(1, 6000)), draw(st.integers(1, 900))
    cached = draw(st.sampled_from([0, 0, prompt // 2, prompt]))
    audio_in = draw(st.integers(0, prompt - cached)) if audio else 0
    audio_out = draw(st.integers(0, completion)) if audio else 0
    rejected = draw(st.integers(0, completion - audio_out))
    return ChatUsage(prompt, completion, cached=cached, audio_in=audio_in, audio_out=audio_out,
                     reasoning=draw(st.integers(0, completion - audio_out - rejected)),
                     accepted=draw(st.integers(0, completion - audio_out - rejected)), rejected=rejected)


@st.composite
def plans(draw: Any) -> dict[str, Any]:
    surface = draw(st.sampled_from(["chat", "chat", "audio", "embedding"]))
    return {
        "surface": surface,
        "style": draw(st.sampled_from(("plain", "raw", "streaming_response")) if surface == "embedding"
                      else st.sampled_from(STYLES)),
        "usage": draw(usages(audio=surface == "audio")),
        "n": draw(st.sampled_from([1, 1, 2])),
        "fault": draw(st.sampled_from([None, None, "rate_limit", "server_error"])),  # retried by the SDK
        "dropped": draw(st.booleans()),  # the background queue has no room when the call ends
        "restart_before": draw(st.booleans()),
    }


mixes = st.fixed_dictionaries({"kind": st.sampled_from(["sync", "async"]), "plans": st.lists(plans(), min_size=1,
                                                                                            max_size=5)})


def model_of(plan: dict[str, Any]) -> str:
    return {"chat": MODEL, "audio": AUDIO, "embedding": EMBEDDING}[plan["surface"]]


def call(api: Driver, plan: dict[str, Any], script: str) -> tuple[str, Any]:
    """Make the plan's call in its style; the API type and the usage the app could read (None: not sent)."""
    c = api.client
    style, model = plan["style"], model_of(plan)
    if plan["surface"] == "embedding":
        options: dict[str, Any] = {"model": model, "input": ["six times seven"], "user": script}
        return "embeddings", read(api, c.embeddings, style, options).usage
    options = {"model": model, "messages": HELLO, "metadata": {"script": script}, "n": plan["n"]}
    if style in ("stream_usage", "stream_helper", "raw_stream"):
        options["stream_options"] = {"include_usage": True}
    if style == "stream_helper":
        stream = api.stream(c.chat.completions.stream(**options), lambda s: s.until_done())
        return "chat_completions", api.wait(stream.get_final_completion()).usage
    if style == "parse":
        return "chat_completions", api(c.chat.completions.parse, **options).usage
    if style in ("stream_usage", "stream_no_usage"):
        chunks = drain(api, api(c.chat.completions.create, stream=True, **options))
        return "chat_completions", chunks[-1].usage
    if style == "raw_stream":
        chunks = drain(api, api.wait(api(c.chat.completions.with_raw_response.create, stream=True,
                                         **options).parse()))
        return "chat_completions", chunks[-1].usage
    return "chat_completions", read(api, c.chat.completions, style, options).usage


def read(api: Driver, resource: Any, style: str, options: dict[str, Any]) -> Any:
    if style == "plain":
        return api(resource.create, **options)
    if style == "raw":
        return api.wait(api(resource.with_raw_response.create, **options).parse())

    async def streamed_async() -> Any:
        async with resource.with_streaming_response.create(**options) as response:
            return await response.parse()

    if api.kind == "async":
        return api.wait(streamed_async())
    with resource.with_streaming_response.create(**options) as response:
        return response.parse()


def drain(api: Driver, stream: Any) -> list[Any]:
    if api.kind == "sync":
        return list(stream)

    async def all_chunks() -> list[Any]:
        return [chunk async for chunk in stream]

    return api.wait(all_chunks())


def expected_usd(api_type: str, model: str, usage: Any) -> Decimal:
    if api_type == "embeddings":
        return usd(model, "input", usage.prompt_tokens)
    return chat_cost(model, usage)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(mix=mixes)
@example(mix={"kind": "async", "plans": [  # every style once
    {"surface": surface, "style": style, "usage": ChatUsage(3000, 400, cached=1000, audio_in=200 * (surface == "audio"),
                                                            audio_out=100 * (surface == "audio"), reasoning=50),
     "n": 2, "fault": fault, "dropped": False, "restart_before": style == "raw"}
    for surface, style, fault in [("chat", "plain", "rate_limit"), ("audio", "parse", None),
                                  ("chat", "stream_usage", "server_error"), ("chat", "stream_no_usage", None),
                                  ("audio", "stream_helper", None), ("chat", "raw", None),
                                  ("chat", "streaming_response", None), ("chat", "raw_stream", None),
                                  ("embedding", "streaming_response", "rate_limit")]]})
@example(mix={"kind": "sync", "plans": [  # the queue full as calls end: reported usage still counts
    {"surface": "chat", "style": style, "usage": ChatUsage(1000, 100, cached=10), "n": 1, "fault": None,
     "dropped": True, "restart_before": False} for style in ("plain", "stream_no_usage", "stream_usage")]})
def test_chat_and_embedding_metrics_equal_what_the_api_reported(fake_api: Any, mix: dict[str, Any]) -> None:
    reader = InMemoryMetricReader()
    meters = MeterProvider(metric_readers=[reader])
    exporter = InMemorySpanExporter()
    tracer = TracerProvider()
    tracer.add_span_processor(SimpleSpanProcessor(exporter))
    instrumentor = AssistantsInstrumentor()
    options = {"tracer_provider": tracer, "meter_provider": meters, "prices": PRICES}
    fake_api.faults.clear()
    instrumentor.instrument(**options)
    api = Driver(mix["kind"], fake_api.base_url)
    expected = {a: Decimal(0) for a in APIS}
    reported = {a: {"input": 0, "output": 0} for a in APIS}
    estimated_calls = unestimated = 0
    try:
        for i, plan in enumerate(mix["plans"]):
            if plan["restart_before"]:
                instrumentor.uninstrument()
                instrumentor.instrument(**options)
            name = f"mix{i}"
            fake_api.chat_scripts[name] = ChatScript("Forty-two, in words.", usage=plan["usage"],
                                                     report_usage=plan["style"] != "stream_no_usage")
            if plan["fault"]:
                fake_api.faults.add(r"/(chat/completions|embeddings)$", plan["fault"], method="POST")
            background = instrumentor._background
            if plan["dropped"]:
                background.submit = lambda *args, **kwargs: False
            api_type, usage = call(api, plan, name)
            vars(background).pop("submit", None)
            if usage is None:  # estimated off the caller's path; a full queue leaves it unpriced, saying why
                estimated_calls += 0 if plan["dropped"] else 1
                unestimated += 1 if plan["dropped"] else 0
                continue
            u = plan["usage"]
            assert (usage.prompt_tokens, usage.completion_tokens if api_type != "embeddings" else 0) == (
                u.prompt, u.completion if api_type != "embeddings" else 0)
            expected[api_type] += expected_usd(api_type, model_of(plan), usage)
            reported[api_type]["input"] += usage.prompt_tokens
            reported[api_type]["output"] += getattr(usage, "completion_tokens", 0)
            assert instrumentor.force_flush(10_000)
        assert instrumentor.force_flush(10_000)
        points = collected(reader)
        estimated_spans = [s for s in exporter.get_finished_spans()
                           if (s.attributes or {}).get("openai_cost.usage.source") == "estimated"]
        event(f"calls: {len(mix['plans'])}, estimated: {estimated_calls}")
        assert len(estimated_spans) == estimated_calls
        unknown = [s for s in exporter.get_finished_spans() if "openai_cost.usage.source" not in (s.attributes or {})
                   and (s.attributes or {}).get("gen_ai.operation.name") != "execute_tool"]
        assert len(unknown) == unestimated
        assert all("no usage reported" in s.attributes["openai_cost.unpriced_reason"] for s in unknown)
        assert all(s.attributes["openai_cost.rollup.total_usd"] > 0 for s in estimated_spans)
        for api_type in APIS:
            mine = [p for p in points.get("gen_ai.client.token.usage", [])
                    if p.attributes["openai.api.type"] == api_type
                    and p.attributes["openai_cost.usage.source"] == "reported"]
            found = {"input": 0, "output": 0}
            for p in mine:
                found[p.attributes["gen_ai.token.type"]] += int(p.sum)
            assert found == reported[api_type], api_type
            spent = sum(p.value for p in points.get("openai_cost.spend", [])
                        if p.attributes["openai.api.type"] == api_type)
            estimated = sum(s.attributes["openai_cost.rollup.total_usd"] for s in estimated_spans
                            if s.attributes["openai.api.type"] == api_type)
            assert spent == pytest.approx(float(expected[api_type]) + estimated, rel=1e-12, abs=1e-15), api_type
        runs = sum(p.value for p in points.get("openai_cost.runs", []))
        assert runs == len(mix["plans"])
    finally:
        instrumentor.uninstrument()
        instrumentor._ended_runs = instrumentor._ended_responses = None
        api.close()
        meters.shutdown()


def test_the_hand_table_covers_every_model_drawn() -> None:
    assert {MODEL, AUDIO, EMBEDDING} <= set(HAND)
