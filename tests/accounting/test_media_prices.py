"""Media and batch prices: each unit at its rate by model and date (hand-worked figures), retired models
and unknown sizes unpriced with a reason, overrides from their date on."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from opentelemetry.instrumentation.openai_assistants.accounting.media import (
    MediaBook,
    MediaCost,
    batch_cost,
    image_token_cost,
    per_image_cost,
    speech_cost,
    transcription_cost,
    video_cost,
)
from opentelemetry.instrumentation.openai_assistants.accounting.pricing import PriceBook, Unpriced
from opentelemetry.instrumentation.openai_assistants.model import ImageGenUsage, Usage

BOOK = MediaBook({})
MARCH = int(datetime(2026, 3, 2, tzinfo=UTC).timestamp())
DECEMBER = int(datetime(2026, 12, 2, tzinfo=UTC).timestamp())


def parts(cost: object) -> dict[str, Decimal]:
    assert isinstance(cost, MediaCost), cost
    return {p.kind: p.usd for p in cost.parts}


def test_image_tokens_each_kind_at_its_rate_cached_too() -> None:
    # gpt-image-1.5 per 1M: text in $5, cached text $1.25, image in $8, cached image $2, text out $10, image out $32
    usage = ImageGenUsage(input_tokens=1000, output_tokens=2000, input_image_tokens=600, cached_tokens=300,
                          cached_image_tokens=200, output_image_tokens=1500)
    assert parts(image_token_cost("gpt-image-1.5", usage, DECEMBER, BOOK)) == {
        "input_tokens": Decimal("0.0015"),  # 300 text (400 - 100 cached)
        "image_input_tokens": Decimal("0.0032"),  # 400 (600 - 200 cached)
        "cached_input_tokens": Decimal("0.000125"),  # 100
        "cached_image_input_tokens": Decimal("0.0004"),  # 200
        "output_tokens": Decimal("0.005"),  # 500 text
        "image_output_tokens": Decimal("0.048"),  # 1,500
    }


def test_per_image_by_quality_and_size_until_retired() -> None:
    assert parts(per_image_cost("dall-e-3", "1024x1792", "hd", 2, MARCH, BOOK)) == {"images": Decimal("0.240")}
    assert parts(per_image_cost("dall-e-2", "256x256", None, 3, MARCH, BOOK)) == {"images": Decimal("0.048")}
    unknown = per_image_cost("dall-e-3", "512x512", "hd", 1, MARCH, BOOK)
    assert unknown == Unpriced("no per-image price for 'dall-e-3' at hd/512x512")
    retired = per_image_cost("dall-e-3", "1024x1024", "standard", 1, DECEMBER, BOOK)
    assert isinstance(retired, Unpriced) and "retired on 2026-05-12" in retired.reason


def test_speech_per_character_or_per_token() -> None:
    assert parts(speech_cost("tts-1", 1000, None, None, DECEMBER)) == {"characters": Decimal("0.015")}
    # gpt-4o-mini-tts: $0.60 per 1M text input tokens, $12 per 1M audio output tokens
    assert parts(speech_cost("gpt-4o-mini-tts", 40, 10, 1250, DECEMBER)) == {
        "input_tokens": Decimal("0.000006"), "audio_output_tokens": Decimal("0.015")}
    assert isinstance(speech_cost("gpt-4o-mini-tts", 40, None, None, DECEMBER), Unpriced)


def test_transcription_by_duration_or_tokens() -> None:
    # whisper-1: $0.006 per minute; 90 s = $0.009
    assert parts(transcription_cost("whisper-1", None, 0, 90.0, DECEMBER)) == {"audio_seconds": Decimal("0.009")}
    assert isinstance(transcription_cost("whisper-1", None, 0, None, DECEMBER), Unpriced)
    # gpt-4o-transcribe: text in $2.50, audio in $6, out $10 per 1M
    assert parts(transcription_cost("gpt-4o-transcribe", Usage(1100, 200), 1000, None, DECEMBER)) == {
        "input_tokens": Decimal("0.00025"), "audio_input_tokens": Decimal("0.006"), "output_tokens": Decimal("0.002")}
    assert isinstance(transcription_cost("gpt-4o-transcribe", None, 0, 60.0, DECEMBER), Unpriced)


def test_video_per_second_by_model_snapshot_and_size() -> None:
    assert parts(video_cost("sora-2-2025-12-08", "720x1280", 8.0, DECEMBER, BOOK)) == {"video_seconds": Decimal("0.8")}
    assert parts(video_cost("sora-2-pro", "1792x1024", 12.0, DECEMBER, BOOK)) == {"video_seconds": Decimal("6.0")}
    assert video_cost("sora-2", "1792x1024", 4.0, DECEMBER, BOOK) == Unpriced(
        "no per-second price for 'sora-2' at size '1792x1024'")


def test_batch_rate_for_its_endpoints_only() -> None:
    prices = PriceBook({})
    # gpt-4o-mini: $0.15 in, $0.075 cached, $0.60 out per 1M; batch half of each
    cost = batch_cost("gpt-4o-mini", "/v1/chat/completions", Usage(1000, 500, cached_input_tokens=200), DECEMBER,
                      prices, BOOK)
    assert parts(cost) == {"input_tokens": Decimal("0.00006"), "cached_input_tokens": Decimal("0.0000075"),
                           "output_tokens": Decimal("0.00015")}
    assert isinstance(cost, MediaCost) and cost.modifiers == "batch"
    assert batch_cost("gpt-4o-mini", "/v1/images/generations", Usage(1, 1), DECEMBER, prices, BOOK) == Unpriced(
        "no batch rate for endpoint '/v1/images/generations'")
    assert isinstance(batch_cost("gpt-4o-mini", "/v1/responses", Usage(1, 1), 1_600_000_000, prices, BOOK), Unpriced)


def test_overrides_apply_from_their_date() -> None:
    book = MediaBook({"media": {"per_second": {"sora-2": [
        {"effective_from": "2026-12-01", "prices": {"1280x720": "0.08"}, "source": "contract"}]}}})
    assert parts(video_cost("sora-2", "1280x720", 10.0, DECEMBER, book)) == {"video_seconds": Decimal("0.80")}
    assert parts(video_cost("sora-2", "1280x720", 10.0, MARCH, book)) == {"video_seconds": Decimal("1.00")}
