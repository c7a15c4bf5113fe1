"""Images, audio, videos and batches: one span per call, money at each unit's own price (an independent
hand table), batches and videos billed once however often they are read, nothing read the app did not read."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import openai
import pytest
from media_helpers import BATCH_FACTOR, DECEMBER, HAND, MARCH, spend, token_sums, tokens_usd
from spanutil import attrs

from opentelemetry.instrumentation.openai_assistants.accounting.sessions import MemorySessionStore

WAV = b"\x00" * 64_000  # two seconds of 16 kHz 16-bit audio, as the fake reads uploads


def media_spans(otel: Any, api: str) -> list[dict[str, Any]]:
    return [attrs(s) for s in otel.spans() if attrs(s).get("openai.api.type") == api]


def drain(api: Any, stream: Any) -> list[Any]:
    async def collect() -> list[Any]:
        return [event async for event in stream]

    return list(stream) if api.kind == "sync" else api.wait(collect())


def image_hand(text_in: int, image_in: int, text_out: int, image_out: int) -> Decimal:
    r = HAND["gpt-image-1.5"]
    return (tokens_usd(r["text_in"], text_in) + tokens_usd(r["image_in"], image_in)
            + tokens_usd(r["text_out"], text_out) + tokens_usd(r["image_out"], image_out))


@pytest.mark.parametrize("surface", ["plain", "raw", "stream"])
def test_image_tokens_each_at_their_own_rate(api: Any, instrumented: Any, surface: str) -> None:
    images = api.client.images
    kwargs = {"model": "gpt-image-1.5", "prompt": "a red fox in the snow", "quality": "low", "n": 2}
    if surface == "plain":
        usage = api(images.generate, **kwargs).usage
    elif surface == "raw":
        usage = api(images.with_raw_response.generate, **kwargs).parse().usage
    else:
        events = drain(api, api(images.generate, stream=True, partial_images=1, **kwargs))
        assert [e.type for e in events].count("image_generation.completed") == 2
        usage = None
    (span,) = media_spans(instrumented, "images")
    # the fake: 12 text input tokens (6 words + 6), 272 image output + 20 text output tokens per image
    text_in, text_out, image_out = 12, 40, 544
    if surface == "stream":
        text_in = 24  # each image's completed event reports its own usage, the prompt included: summed
    if usage is not None:
        assert (usage.input_tokens, usage.output_tokens) == (text_in, text_out + image_out)
        assert usage.output_tokens_details.image_tokens == image_out
    assert span["gen_ai.operation.name"] == "generate_content" and span["gen_ai.request.model"] == "gpt-image-1.5"
    assert (span["gen_ai.usage.input_tokens"], span["gen_ai.usage.output_tokens"]) == (text_in, text_out + image_out)
    assert span["openai_cost.images"] == 2 and span["openai_cost.usage.output_image_tokens"] == image_out
    expected = image_hand(text_in, 0, text_out, image_out)
    assert Decimal(str(span["openai_cost.rollup.total_usd"])) == expected
    assert span["openai_cost.image_output_tokens_usd"] == float(tokens_usd(HAND["gpt-image-1.5"]["image_out"], 544))
    by_kind = spend(instrumented, **{"openai.api.type": "images"})
    assert set(by_kind) == {"input_tokens", "output_tokens", "image_output_tokens"}
    assert Decimal(str(round(sum(by_kind.values()), 12))) == expected
    assert token_sums(instrumented, "images") == {"input": text_in, "output": text_out + image_out}
    operations = {p.attributes["gen_ai.operation.name"] for p in instrumented.metrics()["gen_ai.client.token.usage"]
                  if p.attributes.get("openai.api.type") == "images"}
    assert operations == {"generate_content"}


def test_image_edit_prices_input_image_tokens(api: Any, instrumented: Any) -> None:
    api(api.client.images.edit, model="gpt-image-1.5", prompt="make it blue", image=("a.png", b"\x89PNG"),
        quality="medium")
    (span,) = media_spans(instrumented, "images")
    # 9 text + 323 image input tokens; 1,056 image + 20 text output tokens
    assert Decimal(str(span["openai_cost.rollup.total_usd"])) == image_hand(9, 323, 20, 1056)
    assert span["openai_cost.image_input_tokens_usd"] == float(tokens_usd(HAND["gpt-image-1.5"]["image_in"], 323))


@pytest.mark.openai_min("3", "openai 2.x's ImagesResponse.size does not list the DALL-E 3 sizes the API returns")
def test_per_image_models_by_size_and_quality_then_retired(api: Any, fake_api: Any, instrumented: Any) -> None:
    fake_api.clock.set(MARCH)
    api(api.client.images.generate, model="dall-e-3", prompt="a fox", quality="hd", size="1792x1024")
    api(api.client.images.create_variation, model="dall-e-2", image=("a.png", b"\x89PNG"), size="512x512", n=2)
    fake_api.clock.set(DECEMBER)  # both retired on 2026-05-12: never priced at their old rates
    api(api.client.images.generate, model="dall-e-3", prompt="a fox")
    spans = media_spans(instrumented, "images")
    priced = {s["gen_ai.request.model"]: s["openai_cost.images_usd"] for s in spans if "openai_cost.images_usd" in s}
    assert priced == {"dall-e-3": float(HAND["dall-e-3"]["hd/1792x1024"]),
                      "dall-e-2": float(2 * HAND["dall-e-2"]["standard/512x512"])}
    (late,) = [s for s in spans if "openai_cost.images_usd" not in s]
    assert "retired on 2026-05-12" in late["openai_cost.unpriced_reason"] and "openai_cost.rollup.total_usd" not in late
    assert spend(instrumented, **{"openai.api.type": "images"}) == {
        "images": pytest.approx(float(HAND["dall-e-3"]["hd/1792x1024"] + 2 * HAND["dall-e-2"]["standard/512x512"]))}


def test_missing_image_usage_is_unpriced_not_zero(api: Any, fake_api: Any, instrumented: Any) -> None:
    fake_api.report_usage = False
    api(api.client.images.generate, model="gpt-image-1.5", prompt="a fox")
    (span,) = media_spans(instrumented, "images")
    assert "no per-image price" in span["openai_cost.unpriced_reason"]
    assert spend(instrumented, **{"openai.api.type": "images"}) == {}


def test_failed_call_is_an_error_span_without_money(api: Any, fake_api: Any, instrumented: Any) -> None:
    fake_api.faults.add(r"/images/generations$", "500")
    client = api.new_client(max_retries=0)
    with pytest.raises(openai.InternalServerError):
        api(client.images.generate, model="gpt-image-1.5", prompt="a fox")
    api.wait(client.close())
    (span,) = media_spans(instrumented, "images")
    assert span["error.type"] == "InternalServerError" and spend(instrumented) == {}


@pytest.mark.parametrize("surface", ["plain", "raw", "streaming_unread"])
def test_speech_per_character_without_reading_the_audio(api: Any, instrumented: Any, surface: str) -> None:
    speech = api.client.audio.speech
    text = "Hello there, general listener."
    kwargs = {"model": "tts-1-hd", "voice": "alloy", "input": text}
    if surface == "plain":
        audio = api(speech.create, **kwargs).content
    elif surface == "raw":
        audio = api(speech.with_raw_response.create, **kwargs).content
    else:
        manager = speech.with_streaming_response.create(**kwargs)
        if api.kind == "sync":
            with manager as response:
                assert not response.http_response.is_stream_consumed  # nothing read by us
                audio = response.read()
        else:
            async def read() -> bytes:
                async with manager as response:
                    assert not response.http_response.is_stream_consumed
                    return bytes(await response.read())
            audio = api.wait(read())
    assert len(audio) > 0  # the app still gets its whole body
    (span,) = media_spans(instrumented, "audio")
    assert span["openai_cost.characters"] == len(text)
    assert Decimal(str(span["openai_cost.characters_usd"])) == HAND["tts-1-hd"]["char"] * len(text)


def test_speech_token_model_estimates_audio_from_the_audio_read(api: Any, instrumented: Any) -> None:
    api(api.client.audio.speech.create, model="gpt-4o-mini-tts", voice="alloy", input="one two three four five",
        response_format="pcm")
    (span,) = media_spans(instrumented, "audio")
    # 5 words x 0.4 s of pcm = 2 s; 1,250 audio tokens a minute -> 42 (rounded); marked estimated
    assert span["openai_cost.usage.source"] == "estimated" and span["openai_cost.media.seconds"] == 2.0
    assert span["gen_ai.usage.output_tokens"] == 42
    assert span["openai_cost.audio_output_tokens_usd"] == float(tokens_usd(HAND["gpt-4o-mini-tts"]["audio_out"], 42))


def test_speech_token_model_with_unread_audio_is_unpriced(api: Any, instrumented: Any) -> None:
    manager = api.client.audio.speech.with_streaming_response.create(model="gpt-4o-mini-tts", voice="alloy",
                                                                      input="hi", response_format="pcm")
    if api.kind == "sync":
        with manager:
            pass
    else:
        async def enter() -> None:
            async with manager:
                pass
        api.wait(enter())
    (span,) = media_spans(instrumented, "audio")
    assert "bills tokens and they are unknown" in span["openai_cost.unpriced_reason"]


def test_transcriptions_by_duration_or_reported_tokens(api: Any, instrumented: Any) -> None:
    audio = api.client.audio
    api(audio.transcriptions.create, model="whisper-1", file=("a.wav", WAV))
    api(audio.transcriptions.create, model="gpt-4o-transcribe", file=("a.wav", WAV))
    drain(api, api(audio.transcriptions.create, model="gpt-4o-mini-transcribe", file=("a.wav", WAV), stream=True))
    api(audio.translations.create, model="whisper-1", file=("a.wav", WAV), response_format="verbose_json")
    spans = {s["gen_ai.request.model"] + ("/" + str(s.get("openai_cost.media.seconds"))): s
             for s in media_spans(instrumented, "audio")}
    assert len(spans) == 3 and len(media_spans(instrumented, "audio")) == 4
    whisper = HAND["whisper-1"]["second"] * 2
    assert [Decimal(str(s["openai_cost.audio_seconds_usd"])) for s in media_spans(instrumented, "audio")
            if s["gen_ai.request.model"] == "whisper-1"] == [whisper, whisper]
    # 20 audio input tokens (2 s), 9 output tokens
    for model in ("gpt-4o-transcribe", "gpt-4o-mini-transcribe"):
        (span,) = [s for s in media_spans(instrumented, "audio") if s["gen_ai.request.model"] == model]
        rates = HAND[model]
        expected = tokens_usd(rates["audio_in"], 20) + tokens_usd(rates["out"], 9)
        assert Decimal(str(span["openai_cost.rollup.total_usd"])) == expected
        assert span["openai_cost.usage.input_audio_tokens"] == 20


def batch_hand() -> Decimal:
    r = HAND["gpt-4o-mini"]  # the fake's batch: 1,000 input (200 cached), 500 output tokens
    return BATCH_FACTOR * (tokens_usd(r["in"], 800) + tokens_usd(r["cached"], 200) + tokens_usd(r["out"], 500))


def test_a_batch_is_billed_once_however_often_it_is_read(api: Any, fake_api: Any, otel: Any) -> None:
    store = MemorySessionStore()
    otel.instrument(session_store=store)
    client = api.client
    batch = api(client.batches.create, input_file_id="file-1", endpoint="/v1/chat/completions",
                completion_window="24h")
    for _ in range(3):
        api(client.batches.retrieve, batch.id)
    api(client.batches.list)
    otel.instrumentor.uninstrument()  # another process, sharing the store, reads it again
    otel.instrument(session_store=store)
    api(client.batches.retrieve, batch.id)
    api(client.batches.with_raw_response.retrieve, batch.id).parse()
    (span,) = media_spans(otel, "batches")
    assert span["gen_ai.operation.name"] == "batch" and span["openai_cost.batch.endpoint"] == "/v1/chat/completions"
    assert (span["gen_ai.usage.input_tokens"], span["gen_ai.usage.output_tokens"]) == (1000, 500)
    assert Decimal(str(span["openai_cost.rollup.total_usd"])) == batch_hand()
    assert span["openai_cost.price.modifiers"] == "batch"


def test_a_video_is_billed_once_per_second_by_model_and_size(api: Any, instrumented: Any) -> None:
    video = api(api.client.videos.create, model="sora-2", prompt="a fox", seconds="8", size="1280x720")
    for _ in range(4):
        api(api.client.videos.retrieve, video.id)
    (span,) = media_spans(instrumented, "videos")
    assert span["openai_cost.media.seconds"] == 8.0
    assert Decimal(str(span["openai_cost.video_seconds_usd"])) == HAND["sora-2"]["1280x720"] * 8
    assert spend(instrumented, **{"openai.api.type": "videos"}) == {"video_seconds": pytest.approx(0.8)}


def test_media_off_leaves_them_untraced(api: Any, otel: Any) -> None:
    otel.instrument(media=False)
    api(api.client.images.generate, model="gpt-image-1.5", prompt="a fox")
    assert media_spans(otel, "images") == []
