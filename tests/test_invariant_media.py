"""Money invariant of the media and batch APIs: token and dollar metrics equal what the API reported,
priced by an independent hand table; a batch counts once however many reads and processes see it."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import openai
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from media_helpers import BATCH_FACTOR, HAND, spend, token_sums, tokens_usd
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider

from openai_fake_api.media_api import AUDIO_TOKENS_PER_SECOND, IMAGE_TOKENS, TEXT_OUTPUT_TOKENS, UPLOAD_BYTES_PER_SECOND
from opentelemetry.instrumentation.openai_assistants import AssistantsInstrumentor
from opentelemetry.instrumentation.openai_assistants.accounting.sessions import MemorySessionStore

SETTINGS = settings(max_examples=12, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def _delta(after: dict[str, Any], before: dict[str, Any]) -> dict[str, Any]:
    return {k: v - before.get(k, 0) for k, v in after.items() if v - before.get(k, 0)}


@SETTINGS
@given(words=st.integers(1, 30), quality=st.sampled_from(["low", "medium", "high"]), n=st.integers(1, 3),
       stream=st.booleans())
def test_image_tokens_and_dollars_equal_the_reported_usage(fake_api: Any, instrumented: Any, words: int,
                                                          quality: str, n: int, stream: bool) -> None:
    client = openai.OpenAI(base_url=fake_api.base_url, api_key="sk-test")
    before_tokens, before_usd = token_sums(instrumented, "images"), spend(instrumented, **{"openai.api.type": "images"})
    prompt = " ".join(["fox"] * words)
    if stream:
        list(client.images.generate(model="gpt-image-1.5", prompt=prompt, quality=quality, n=n, stream=True))
        text_in = (words + 6) * n  # each image's completed event reports the prompt with it
    else:
        usage = client.images.generate(model="gpt-image-1.5", prompt=prompt, quality=quality, n=n).usage
        text_in = words + 6
        assert usage is not None and usage.input_tokens == text_in
    image_out, text_out = IMAGE_TOKENS[quality] * n, TEXT_OUTPUT_TOKENS * n
    r = HAND["gpt-image-1.5"]
    expected = (tokens_usd(r["text_in"], text_in) + tokens_usd(r["text_out"], text_out)
                + tokens_usd(r["image_out"], image_out))
    assert _delta(token_sums(instrumented, "images"), before_tokens) == {"input": text_in,
                                                                         "output": image_out + text_out}
    got = _delta(spend(instrumented, **{"openai.api.type": "images"}), before_usd)
    assert abs(Decimal(str(sum(got.values()))) - expected) < Decimal("1e-12")
    client.close()


def _process_reads(fake_api: Any, store: MemorySessionStore, batch_id: str,
                   reads: int) -> tuple[dict[str, int], Decimal]:
    """One process: its own instrumentation and metrics, sharing the session store; what it counted."""
    reader = InMemoryMetricReader()
    instrumentor = AssistantsInstrumentor()
    instrumentor.instrument(tracer_provider=TracerProvider(), meter_provider=MeterProvider(metric_readers=[reader]),
                            session_store=store)
    try:
        client = openai.OpenAI(base_url=fake_api.base_url, api_key="sk-test")
        for _ in range(reads):
            client.batches.retrieve(batch_id)
            list(client.batches.list())
        client.close()
        instrumentor.force_flush(10_000)
    finally:
        instrumentor.uninstrument()
        instrumentor._ended_runs = instrumentor._ended_responses = None
    tokens: dict[str, int] = {}
    dollars = Decimal(0)
    data = reader.get_metrics_data()
    for resource in data.resource_metrics if data else ():
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                for point in metric.data.data_points:
                    if point.attributes.get("openai.api.type") != "batches":
                        continue
                    if metric.name == "gen_ai.client.token.usage":
                        kind = str(point.attributes["gen_ai.token.type"])
                        tokens[kind] = tokens.get(kind, 0) + int(point.sum)
                    elif metric.name == "openai_cost.spend":
                        dollars += Decimal(str(point.value))
    return tokens, dollars


@SETTINGS
@given(input_tokens=st.integers(0, 5_000_000), cached=st.integers(0, 100), output_tokens=st.integers(0, 2_000_000),
       reads=st.integers(1, 4), processes=st.integers(1, 3))
def test_a_batch_counts_once_at_the_batch_rate(fake_api: Any, input_tokens: int, cached: int,
                                               output_tokens: int, reads: int, processes: int) -> None:
    cached_tokens = input_tokens * cached // 100
    fake_api.reset()  # only this example's batch in the lists
    fake_api.media.batch_usage = {"input_tokens": input_tokens, "cached_tokens": cached_tokens,
                                  "output_tokens": output_tokens, "reasoning_tokens": 0}
    store = MemorySessionStore()
    client = openai.OpenAI(base_url=fake_api.base_url, api_key="sk-test")
    batch = client.batches.create(input_file_id="file-1", endpoint="/v1/chat/completions", completion_window="24h")
    client.batches.retrieve(batch.id)  # in progress: nothing to count yet
    client.close()
    tokens: dict[str, int] = {}
    dollars = Decimal(0)
    for _ in range(processes):
        seen, usd = _process_reads(fake_api, store, batch.id, reads)
        for kind, value in seen.items():
            tokens[kind] = tokens.get(kind, 0) + value
        dollars += usd
    r = HAND["gpt-4o-mini"]
    expected = BATCH_FACTOR * (tokens_usd(r["in"], input_tokens - cached_tokens)
                               + tokens_usd(r["cached"], cached_tokens) + tokens_usd(r["out"], output_tokens))
    assert tokens == {"input": input_tokens, "output": output_tokens}
    assert abs(dollars - expected) < Decimal("1e-9")


@SETTINGS
@given(seconds=st.integers(1, 600), model=st.sampled_from(["gpt-4o-transcribe", "gpt-4o-mini-transcribe"]),
       stream=st.booleans(), prompt_words=st.integers(0, 20))
def test_transcription_tokens_and_dollars_equal_the_reported_usage(fake_api: Any, instrumented: Any, seconds: int,
                                                                  model: str, stream: bool, prompt_words: int) -> None:
    client = openai.OpenAI(base_url=fake_api.base_url, api_key="sk-test")
    before_tokens, before_usd = token_sums(instrumented, "audio"), spend(instrumented, **{"openai.api.type": "audio"})
    audio = ("a.wav", b"\x00" * (seconds * UPLOAD_BYTES_PER_SECOND))
    prompt = " ".join(["word"] * prompt_words)
    if stream:
        list(client.audio.transcriptions.create(model=model, file=audio, prompt=prompt, stream=True))
    else:
        client.audio.transcriptions.create(model=model, file=audio, prompt=prompt)
    audio_in, text_out = seconds * AUDIO_TOKENS_PER_SECOND, 9  # the fake's transcript: nine words
    r = HAND[model]
    expected = (tokens_usd(r["text_in"], prompt_words) + tokens_usd(r["audio_in"], audio_in)
                + tokens_usd(r["out"], text_out))
    assert _delta(token_sums(instrumented, "audio"), before_tokens) == {"input": audio_in + prompt_words,
                                                                        "output": text_out}
    got = _delta(spend(instrumented, **{"openai.api.type": "audio"}), before_usd)
    assert abs(Decimal(str(sum(got.values()))) - expected) < Decimal("1e-12")
    client.close()
