"""An independent hand table of the media and batch prices the tests expect (USD per unit, written from
OpenAI's pricing page, not read from the price book under test), and metric readers."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

MARCH = int(datetime(2026, 3, 2, 12, 0, tzinfo=UTC).timestamp())  # DALL-E still served
DECEMBER = int(datetime(2026, 12, 2, 12, 0, tzinfo=UTC).timestamp())
M = Decimal(1_000_000)

# per 1M tokens, or per unit as named
HAND = {
    "gpt-image-1.5": {"text_in": Decimal(5), "image_in": Decimal(8), "text_out": Decimal(10), "image_out": Decimal(32)},
    "tts-1": {"char": Decimal(15) / M},
    "tts-1-hd": {"char": Decimal(30) / M},
    "gpt-4o-mini-tts": {"text_in": Decimal("0.60"), "audio_out": Decimal(12)},
    "whisper-1": {"second": Decimal("0.006") / 60},
    "gpt-4o-transcribe": {"text_in": Decimal("2.50"), "audio_in": Decimal(6), "out": Decimal(10)},
    "gpt-4o-mini-transcribe": {"text_in": Decimal("1.25"), "audio_in": Decimal(3), "out": Decimal(5)},
    "gpt-4o-mini": {"in": Decimal("0.15"), "cached": Decimal("0.075"), "out": Decimal("0.60")},
    "sora-2": {"1280x720": Decimal("0.10")},
    "sora-2-pro": {"1792x1024": Decimal("0.50")},
    "dall-e-3": {"hd/1792x1024": Decimal("0.12"), "standard/1024x1024": Decimal("0.04")},
    "dall-e-2": {"standard/512x512": Decimal("0.018")},
}
BATCH_FACTOR = Decimal("0.5")


def tokens_usd(rate_per_1m: Decimal, tokens: int) -> Decimal:
    return rate_per_1m * tokens / M


def spend(otel: Any, **labels: Any) -> dict[str, float]:
    """The spend counter by cost kind, for points matching ``labels``."""
    out: dict[str, float] = {}
    for point in otel.metrics().get("openai_cost.spend", []):
        if all(point.attributes.get(k) == v for k, v in labels.items()):
            kind = point.attributes["openai_cost.kind"]
            out[kind] = out.get(kind, 0.0) + point.value
    return out


def token_sums(otel: Any, api: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for point in otel.metrics().get("gen_ai.client.token.usage", []):
        if point.attributes.get("openai.api.type") == api:
            kind = point.attributes["gen_ai.token.type"]
            out[kind] = out.get(kind, 0) + int(point.sum)
    return out
