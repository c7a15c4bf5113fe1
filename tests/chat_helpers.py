"""Shared pieces of the chat, completions and embeddings tests: an independent hand price table and
metric sums."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

# A chat model priced only by this override (per 1M tokens), so every dollar figure can be worked by hand.
MODEL = "gpt-hand"
PRICES = {"models": {MODEL: {"input_per_1m": "2", "output_per_1m": "8", "cached_input_per_1m": "0.5",
                            "cache_write_per_1m": "2.5"}}}
# Public figures (OpenAI's price list), typed here by hand: never read from the price book under test.
HAND = {
    MODEL: {"input": Decimal(2), "output": Decimal(8), "cached": Decimal("0.5"), "write": Decimal("2.5")},
    "gpt-4o-audio-preview": {"input": Decimal("2.5"), "output": Decimal(10), "cached": Decimal("2.5"),
                             "audio_in": Decimal(40), "audio_out": Decimal(80)},
    "text-embedding-3-small": {"input": Decimal("0.02")},
    "text-embedding-3-large": {"input": Decimal("0.13")},
    "gpt-3.5-turbo-instruct": {"input": Decimal("1.5"), "output": Decimal(2)},
    "gpt-4o-search-preview": {"input": Decimal("2.5"), "output": Decimal(10), "call": Decimal("0.025")},
}


def usd(model: str, rate: str, tokens: int) -> Decimal:
    return HAND[model][rate] * tokens / Decimal(1_000_000)


def chat_cost(model: str, u: Any, tier_factor: Decimal = Decimal(1)) -> Decimal:
    """The hand price of a reported ``CompletionUsage``: ordinary input, cached, audio in; text out,
    audio out (reasoning and predictions are inside completion tokens, never priced again)."""
    p, c = u.prompt_tokens_details, u.completion_tokens_details
    cached = (p.cached_tokens or 0) if p else 0
    audio_in = (p.audio_tokens or 0) if p else 0
    audio_out = (c.audio_tokens or 0) if c else 0
    total = (usd(model, "input", u.prompt_tokens - cached - audio_in)
             + usd(model, "output", u.completion_tokens - audio_out)
             + (usd(model, "cached", cached) if cached else 0) + (usd(model, "audio_in", audio_in) if audio_in else 0)
             + (usd(model, "audio_out", audio_out) if audio_out else 0))
    return total * tier_factor


def points(otel: Any, metric: str, **labels: Any) -> list[Any]:
    return [p for p in otel.metrics().get(metric, []) if all(p.attributes.get(k) == v for k, v in labels.items())]


def spend(otel: Any, api: str, kind: str | None = None) -> float:
    return sum(p.value for p in points(otel, "openai_cost.spend", **{"openai.api.type": api})
               if kind is None or p.attributes["openai_cost.kind"] == kind)


def tokens(otel: Any, api: str) -> dict[str, int]:
    found: dict[str, int] = {}
    for p in points(otel, "gen_ai.client.token.usage", **{"openai.api.type": api}):
        kind = p.attributes["gen_ai.token.type"]
        found[kind] = found.get(kind, 0) + int(p.sum)
    return found


def drain(api: Any, stream: Any) -> list[Any]:
    """Read a raw SSE stream (sync or async) to its end."""
    if api.kind == "sync":
        return list(stream)

    async def read() -> list[Any]:
        return [event async for event in stream]

    return api.wait(read())
