"""Chat Completions, legacy Completions, Embeddings and Moderations: one span per call however it is
made, usage exactly as reported (or estimated and marked), each part at its own rate by a hand table."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import openai
import pytest
from chat_helpers import HAND, MODEL, PRICES, chat_cost, drain, points, spend, tokens, usd
from spanutil import assert_tree_is_sound, attrs, children, named, one

from openai_fake_api.chat_scripts import ChatScript, ChatUsage

HELLO = [{"role": "user", "content": "Hello there, how are you today?"}]
TOOLS = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object", "properties": {}}}}]


@pytest.fixture
def traced(otel: Any) -> Any:
    otel.instrument(prices=PRICES)
    return otel


def chat(api: Any, script: str = "text", model: str = MODEL, **kwargs: Any) -> Any:
    return api(api.client.chat.completions.create, model=model, messages=kwargs.pop("messages", HELLO),
               metadata={"script": script}, **kwargs)


def approx(value: Decimal) -> Any:
    return pytest.approx(float(value), rel=1e-12, abs=1e-18)


def test_a_chat_completion_keeps_the_contract_with_every_part_priced_once(api: Any, traced: Any) -> None:
    completion = chat(api, "detailed")
    span = one(traced.spans(), "chat ")
    a = attrs(span)
    u = completion.usage
    assert span.name == f"chat {MODEL}" and span.kind.name == "CLIENT"
    assert a["gen_ai.operation.name"] == "chat" and a["openai.api.type"] == "chat_completions"
    assert a["gen_ai.provider.name"] == "openai"
    assert a["gen_ai.request.model"] == MODEL and a["gen_ai.response.model"] == completion.model
    assert a["gen_ai.response.id"] == completion.id
    assert (a["gen_ai.usage.input_tokens"], a["gen_ai.usage.output_tokens"]) == (u.prompt_tokens, u.completion_tokens)
    assert a["openai_cost.usage.source"] == "reported"
    assert a["gen_ai.usage.cache_read.input_tokens"] == 1200
    assert a["openai_cost.usage.reasoning_tokens"] == 120
    assert (a["openai_cost.usage.accepted_prediction_tokens"], a["openai_cost.usage.rejected_prediction_tokens"]) == (
        20, 10)
    assert a["openai_cost.input_tokens_usd"] == approx(usd(MODEL, "input", 2000 - 1200))
    assert a["openai_cost.cached_input_tokens_usd"] == approx(usd(MODEL, "cached", 1200))
    assert a["openai_cost.output_tokens_usd"] == approx(usd(MODEL, "output", 300))  # reasoning, predictions inside
    assert a["openai_cost.rollup.total_usd"] == approx(chat_cost(MODEL, u))
    assert a["gen_ai.response.finish_reasons"] == ("stop",)
    assert a["openai.response.service_tier"] == "default"
    assert tokens(traced, "chat_completions") == {"input": 2000, "output": 300}
    assert spend(traced, "chat_completions") == approx(chat_cost(MODEL, u))
    assert {p.attributes["gen_ai.operation.name"] for p in points(traced, "gen_ai.client.token.usage")} == {"chat"}
    runs = points(traced, "openai_cost.runs", **{"openai.api.type": "chat_completions"})
    assert [(p.attributes["openai_cost.status"], p.value) for p in runs] == [("completed", 1)]


def test_audio_tokens_each_at_their_own_rate(api: Any, traced: Any) -> None:
    model = "gpt-4o-audio-preview"  # genai-prices has its text rates; the audio ones are our dated data
    completion = chat(api, "audio", model=model)
    a = attrs(one(traced.spans(), "chat "))
    assert (a["openai_cost.usage.audio_input_tokens"], a["openai_cost.usage.audio_output_tokens"]) == (400, 500)
    assert a["openai_cost.audio_input_tokens_usd"] == approx(usd(model, "audio_in", 400))
    assert a["openai_cost.audio_output_tokens_usd"] == approx(usd(model, "audio_out", 500))
    assert a["openai_cost.input_tokens_usd"] == approx(usd(model, "input", 900 - 100 - 400))
    assert a["openai_cost.output_tokens_usd"] == approx(usd(model, "output", 700 - 500))
    assert spend(traced, "chat_completions", "audio_output_tokens") == approx(usd(model, "audio_out", 500))
    assert spend(traced, "chat_completions") == approx(chat_cost(model, completion.usage))


def test_audio_tokens_of_a_model_without_audio_rates_are_unpriced_not_zero(api: Any, traced: Any,
                                                                           fake_api: Any) -> None:
    fake_api.chat_scripts["sound"] = ChatScript("x", usage=ChatUsage(100, 50, audio_in=40))
    chat(api, "sound")
    a = attrs(one(traced.spans(), "chat "))
    assert "audio" in a["openai_cost.unpriced_reason"]
    assert "openai_cost.rollup.total_usd" not in a and "openai_cost.input_tokens_usd" not in a
    assert spend(traced, "chat_completions") == 0
    assert tokens(traced, "chat_completions") == {"input": 100, "output": 50}


def test_the_served_tier_is_priced(api: Any, traced: Any) -> None:
    completion = chat(api, "flex", service_tier="auto")
    a = attrs(one(traced.spans(), "chat "))
    assert a["openai.request.service_tier"] == "auto" and a["openai.response.service_tier"] == "flex"
    assert spend(traced, "chat_completions") == approx(chat_cost(MODEL, completion.usage, Decimal("0.5")))


def test_a_search_model_call_carries_its_fee(api: Any, traced: Any) -> None:
    model = "gpt-4o-search-preview"
    completion = chat(api, model=model, web_search_options={})
    a = attrs(one(traced.spans(), "chat "))
    assert a["openai_cost.web_search_usd"] == approx(HAND[model]["call"])
    assert spend(traced, "chat_completions", "web_search") == approx(HAND[model]["call"])
    u = completion.usage
    assert spend(traced, "chat_completions") == approx(
        HAND[model]["call"] + usd(model, "input", u.prompt_tokens) + usd(model, "output", u.completion_tokens))


@pytest.mark.parametrize("include_usage", [True, False])
def test_a_stream_is_one_span_reported_or_estimated(api: Any, traced: Any, include_usage: bool) -> None:
    options = {"stream_options": {"include_usage": True}} if include_usage else {}
    chunks = drain(api, chat(api, "long", stream=True, **options))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    a = attrs(one(traced.spans(), "chat "))
    assert a["openai_cost.stream"] is True and a["gen_ai.response.id"] == chunks[0].id
    if include_usage:
        assert chunks[-1].usage.prompt_tokens == a["gen_ai.usage.input_tokens"] == 400
        assert a["openai_cost.usage.source"] == "reported"
        assert spend(traced, "chat_completions") == approx(chat_cost(MODEL, chunks[-1].usage))
    else:
        assert all(c.usage is None for c in chunks)
        assert a["openai_cost.usage.source"] == "estimated"
        assert a["gen_ai.usage.input_tokens"] > 0 and a["gen_ai.usage.output_tokens"] >= len(text.split()) // 2
        assert a["openai_cost.rollup.total_usd"] > 0
        sources = points(traced, "gen_ai.client.token.usage", **{"openai_cost.usage.source": "estimated"})
        assert sources and sum(p.sum for p in sources) == a["gen_ai.usage.input_tokens"] + a[
            "gen_ai.usage.output_tokens"]


def test_n_choices_are_one_span_with_the_usage_of_all(api: Any, traced: Any) -> None:
    completion = chat(api, "detailed", n=3)
    a = attrs(one(traced.spans(), "chat "))
    assert len(completion.choices) == a["openai_cost.choices"] == 3
    assert a["gen_ai.response.finish_reasons"] == ("stop", "stop", "stop")
    assert tokens(traced, "chat_completions") == {"input": 2000, "output": 300}


def test_parse_and_the_stream_helper(api: Any, traced: Any) -> None:
    parsed = api(api.client.chat.completions.parse, model=MODEL, messages=HELLO, metadata={"script": "detailed"})
    assert parsed.choices[0].message.content == "Here you are."
    api.stream(api.client.chat.completions.stream(model=MODEL, messages=HELLO, metadata={"script": "detailed"},
                                                  stream_options={"include_usage": True}))
    spans = named(traced.spans(), "chat ")
    assert len(spans) == 2
    assert [attrs(s)["gen_ai.usage.input_tokens"] for s in spans] == [2000, 2000]
    assert tokens(traced, "chat_completions") == {"input": 4000, "output": 600}


@pytest.mark.parametrize("form", ["with_raw_response", "with_streaming_response"])
@pytest.mark.parametrize("stream", [False, True])
def test_raw_and_streaming_response_forms_are_accounted_once(api: Any, traced: Any, form: str, stream: bool) -> None:
    create = getattr(api.client.chat.completions, form).create
    options: dict[str, Any] = {"model": MODEL, "messages": HELLO, "metadata": {"script": "detailed"}}
    if stream:
        options.update(stream=True, stream_options={"include_usage": True})

    async def read_async() -> None:
        if form == "with_raw_response":
            parsed = (await create(**options)).parse()
            if stream:
                [c async for c in parsed]
            return
        async with create(**options) as response:
            parsed = await response.parse()
            if stream:
                [c async for c in parsed]

    if api.kind == "async":
        api.wait(read_async())
    elif form == "with_raw_response":
        parsed = create(**options).parse()
        parsed.model_dump() if not stream else list(parsed)
    else:
        with create(**options) as response:
            parsed = response.parse()
            parsed.model_dump() if not stream else list(parsed)
    a = attrs(one(traced.spans(), "chat "))
    assert a["gen_ai.usage.input_tokens"] == 2000 and a["openai_cost.usage.source"] == "reported"
    assert tokens(traced, "chat_completions") == {"input": 2000, "output": 300}


def test_tool_calls_get_spans_linked_from_the_request_carrying_their_results(api: Any, traced: Any) -> None:
    first = chat(api, "two_tools", tools=TOOLS)
    message = first.choices[0].message
    results = [{"role": "tool", "tool_call_id": call.id, "content": "42"} for call in message.tool_calls]
    chat(api, "two_tools", tools=TOOLS, messages=[*HELLO, message.model_dump(exclude_none=True), *results])
    spans = traced.spans()
    assert_tree_is_sound(spans)
    asked, answered = named(spans, "chat ")
    tools = children(spans, asked)
    assert sorted(s.name for s in tools) == ["execute_tool convert", "execute_tool lookup"]
    assert {attrs(s)["gen_ai.tool.call.id"] for s in tools} == {c.id for c in message.tool_calls}
    assert {attrs(s)["gen_ai.tool.type"] for s in tools} == {"function"}
    assert "gen_ai.tool.call.arguments" not in attrs(tools[0])  # content is opt-in
    assert attrs(asked)["gen_ai.response.finish_reasons"] == ("tool_calls",)
    assert {link.context.span_id for link in answered.links} == {s.context.span_id for s in tools}
    tool_points = points(traced, "openai_cost.tool_calls", **{"openai.api.type": "chat_completions"})
    assert sum(p.value for p in tool_points) == 2


def test_streamed_tool_calls_are_assembled(api: Any, traced: Any) -> None:
    drain(api, chat(api, "lookup", tools=TOOLS, stream=True, stream_options={"include_usage": True}))
    spans = traced.spans()
    tool = one(spans, "execute_tool ")
    assert tool.name == "execute_tool lookup" and tool.parent.span_id == one(spans, "chat ").context.span_id


def test_stored_completion_reads_cost_nothing_and_count_nothing_twice(api: Any, traced: Any) -> None:
    stored = chat(api, "detailed", store=True)
    c = api.client.chat.completions
    assert api(c.retrieve, stored.id).id == stored.id
    assert api(c.list).data[0].id == stored.id
    assert api(c.messages.list, stored.id).data
    assert api(c.update, stored.id, metadata={"k": "v"}).metadata == {"k": "v"}
    raw = api(c.with_raw_response.retrieve, stored.id)
    raw.parse()
    assert api(c.delete, stored.id).deleted
    assert len(named(traced.spans(), "chat ")) == 1
    assert tokens(traced, "chat_completions") == {"input": 2000, "output": 300}
    assert sum(p.value for p in points(traced, "openai_cost.runs")) == 1


def test_embeddings_at_the_embedding_models_rate(api: Any, traced: Any) -> None:
    model = "text-embedding-3-small"
    result = api(api.client.embeddings.create, model=model, input=["one two three", "four five"])
    span = one(traced.spans(), "embeddings ")
    a = attrs(span)
    assert span.name == f"embeddings {model}" and span.kind.name == "CLIENT"
    assert a["gen_ai.operation.name"] == "embeddings" and a["openai.api.type"] == "embeddings"
    assert a["gen_ai.usage.input_tokens"] == result.usage.prompt_tokens == 5
    assert a["openai_cost.input_tokens_usd"] == approx(usd(model, "input", 5))
    assert spend(traced, "embeddings") == approx(usd(model, "input", 5))
    assert tokens(traced, "embeddings")["input"] == 5
    assert {p.attributes["gen_ai.operation.name"] for p in points(traced, "gen_ai.client.token.usage")} == {
        "embeddings"}


def test_legacy_completions(api: Any, traced: Any) -> None:
    model = "gpt-3.5-turbo-instruct"
    result = api(api.client.completions.create, model=model, prompt="Say hello", n=2)
    drain(api, api(api.client.completions.create, model=model, prompt="Say hello", stream=True,
                   stream_options={"include_usage": True}))
    spans = named(traced.spans(), "text_completion ")
    assert len(spans) == 2
    a = attrs(spans[0])
    assert a["gen_ai.operation.name"] == "text_completion" and a["openai.api.type"] == "completions"
    assert a["openai_cost.choices"] == 2
    u = result.usage
    assert a["openai_cost.rollup.total_usd"] == approx(usd(model, "input", u.prompt_tokens)
                                                       + usd(model, "output", u.completion_tokens))
    assert attrs(spans[1])["openai_cost.usage.source"] == "reported"


def test_moderations_are_counted_and_free(api: Any, traced: Any) -> None:
    api(api.client.moderations.create, input=["one", "two"])
    span = one(traced.spans(), "moderations")
    a = attrs(span)
    assert a["openai.api.type"] == "moderations" and a["gen_ai.response.id"].startswith("modr")
    assert not [k for k in a if k.endswith("_usd")]
    runs = points(traced, "openai_cost.runs", **{"openai.api.type": "moderations"})
    assert sum(p.value for p in runs) == 1
    assert spend(traced, "moderations") == 0 and not points(traced, "openai_cost.spend")


def test_a_refused_request_is_a_failed_span_with_no_money(api: Any, traced: Any, fake_api: Any) -> None:
    fake_api.faults.add(r"/chat/completions", "rate_limit", count=None)
    client = api.new_client(max_retries=0)
    with pytest.raises(openai.RateLimitError):
        api(client.chat.completions.create, model=MODEL, messages=HELLO)
    api.wait(client.close())
    span = one(traced.spans(), "chat ")
    assert attrs(span)["error.type"] == "RateLimitError" and span.status.status_code.name == "ERROR"
    assert not points(traced, "openai_cost.spend") and not tokens(traced, "chat_completions")


def test_a_stream_cut_by_the_network_is_estimated_and_marked(api: Any, traced: Any, fake_api: Any) -> None:
    fake_api.faults.add(r"/chat/completions", "reset", after_events=4)
    with pytest.raises(Exception):  # noqa: B017 (the SDK's transport error differs by client)
        drain(api, chat(api, "long", stream=True, stream_options={"include_usage": True}))
    a = attrs(one(traced.spans(), "chat "))
    assert a["responses.end_reason"] == "stream_closed" and "error.type" in a
    assert a["openai_cost.usage.source"] == "estimated" and a["gen_ai.usage.input_tokens"] > 0


def test_usage_missing_from_a_body_is_estimated_never_zero(api: Any, traced: Any) -> None:
    chat(api, "no_usage")
    a = attrs(one(traced.spans(), "chat "))
    assert a["openai_cost.usage.source"] == "estimated"
    assert a["gen_ai.usage.input_tokens"] > 0 and a["gen_ai.usage.output_tokens"] > 0
    assert a["openai_cost.rollup.total_usd"] > 0


def test_off_schema_bodies_give_a_best_effort_span(api: Any, traced: Any, fake_api: Any) -> None:
    fake_api.faults.add(r"/chat/completions", "usage_null")
    fake_api.faults.add(r"/chat/completions", "missing_optional")
    first = chat(api, "detailed")
    second = chat(api, "detailed")
    assert first.usage is None and second.id
    spans = named(traced.spans(), "chat ")
    assert [attrs(s)["openai_cost.usage.source"] for s in spans] == ["estimated", "reported"]


def test_chat_can_be_left_untraced(api: Any, otel: Any) -> None:
    otel.instrument(prices=PRICES, chat=False)
    chat(api, "detailed")
    assert not named(otel.spans(), "chat ") and not tokens(otel, "chat_completions")


def test_a_raw_response_never_parsed_ends_unobserved_and_estimated(api: Any, traced: Any) -> None:
    import time

    api(api.client.chat.completions.with_raw_response.create, model=MODEL, messages=HELLO)
    tracker = traced.instrumentor._chat
    assert tracker.live_calls() == 1 and not named(traced.spans(), "chat ")
    tracker.sweep(now_s=time.time() + 601)
    a = attrs(one(traced.spans(), "chat "))
    assert a["responses.end_reason"] == "unobserved" and a["error.type"] == "unobserved"
    assert a["openai_cost.usage.source"] == "estimated" and a["gen_ai.usage.input_tokens"] > 0
    assert tracker.live_calls() == 0
