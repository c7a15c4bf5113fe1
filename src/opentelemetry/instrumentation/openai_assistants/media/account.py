"""The account of one media or batch record: its priced parts as item charges, its tokens as the leaf.

Plain functions over ``model.MediaCall``: which price applies (token rates, per image, per character,
per second, batch rate) is decided here from the record alone; ``accounting.media`` does the arithmetic.
Unit quantities (images, characters, seconds) become span attributes; whatever cannot be priced keeps
its quantities and says why, never a cost of 0.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Optional, Union

from .. import semconv as sc
from ..accounting.account import ItemCharge, RunAccount, RunLeaf
from ..accounting.media import (
    MediaBook,
    MediaCost,
    Priced,
    batch_cost,
    image_token_cost,
    per_image_cost,
    speech_cost,
    transcription_cost,
    video_cost,
)
from ..accounting.pricing import PriceBook, Unpriced
from ..accounting.tokens import TokenCounter
from ..model import MediaCall, Usage

PCM_BYTES_PER_SECOND = 48_000  # the speech API's pcm: 24 kHz, 16-bit, mono
WAV_HEADER_BYTES = 44


def price(record: MediaCall, prices: PriceBook, books: MediaBook) -> Priced:
    """What ``record`` cost, by the kind of call it is."""
    if record.error:
        return Unpriced(f"the call failed ({record.error}): nothing billed")
    at = record.created_at or 0
    model = record.model
    if not model:
        return Unpriced("the request names no model")
    if record.api == "images":
        if record.image_usage is not None:
            return image_token_cost(model, record.image_usage, at, books)
        if record.images:
            return per_image_cost(model, record.size, record.quality, record.images, at, books)
        return Unpriced("the response reports neither token usage nor images")
    if record.api == "batches":
        if record.usage is None:
            return Unpriced("the completed batch reports no usage")
        return batch_cost(model, record.batch_endpoint, record.usage, at, prices, books)
    if record.api == "videos":
        return video_cost(model, record.size, record.seconds, at, books)
    if record.endpoint == "audio/speech":
        tokens = record.usage
        return speech_cost(model, record.characters, tokens.input_tokens if tokens else None,
                           tokens.output_tokens if tokens else None, at)
    return transcription_cost(model, record.usage, record.audio_input_tokens, record.seconds, at)


def estimate_speech(record: MediaCall, books: MediaBook, counter: Optional[TokenCounter]) -> None:
    """Speech by a token-billed model reports no usage: its text input is counted with the tokenizer
    and its audio output estimated from the audio the app read (pcm and wav only: their length is
    exact), both marked estimated. Off the caller's path (the tokenizer loads slowly)."""
    if record.endpoint != "audio/speech" or record.usage is not None or counter is None or not record.model:
        return
    rate = books.audio_tokens_per_second(record.model, record.created_at or 0)
    seconds = _audio_seconds(record.audio_bytes, record.audio_format)
    if rate is None or seconds is None:
        return
    record.seconds = seconds
    record.usage = Usage(counter.count(record.text, record.model), round(rate * Decimal(str(seconds))),
                         source="estimated")


def _audio_seconds(length: Optional[int], audio_format: Optional[str]) -> Optional[float]:
    if length is None:
        return None
    if audio_format == "pcm":
        return length / PCM_BYTES_PER_SECOND
    if audio_format == "wav" and length >= WAV_HEADER_BYTES:
        return (length - WAV_HEADER_BYTES) / PCM_BYTES_PER_SECOND
    return None


def account(record: MediaCall, priced: Priced, provider: str) -> RunAccount:
    """The record's account: one item charge per priced part (on the call's span), tokens as its leaf."""
    acct = RunAccount(run_id=record.id, thread_id="", model=record.model, priced_model=None, provider=provider)
    tokens = _tokens(record)
    reason = priced.reason if isinstance(priced, Unpriced) else None
    if tokens is not None:
        acct.usage, acct.usage_source, acct.usage_scope = tokens, tokens.source, "run"
        acct.input_tokens, acct.output_tokens = tokens.input_tokens, tokens.output_tokens
        acct.run_leaf = RunLeaf(tokens, None, None, reason)
    if isinstance(priced, Unpriced):
        if not record.error:
            acct.unpriced_reasons.append(priced.reason)
        return acct
    acct.priced_model, acct.price_effective_from, acct.price_modifiers = priced.model, priced.effective_from, \
        priced.modifiers
    for part in priced.parts:
        acct.charges.append(ItemCharge(record.id, part.kind, part.usd, None, priced.effective_from,
                                       {sc.PRICE_SOURCE: priced.source}))
        acct.cost_usd[part.kind] = acct.cost_usd.get(part.kind, Decimal(0)) + part.usd
    return acct


def _tokens(record: MediaCall) -> Optional[Usage]:
    if record.image_usage is not None:
        image = record.image_usage
        return Usage(image.input_tokens, image.output_tokens, cached_input_tokens=image.cached_tokens)
    return record.usage


def unit_attributes(record: MediaCall, priced: Union[MediaCost, Unpriced]) -> dict[str, Any]:
    """Quantities priced per unit (images, characters, seconds), on the call's span."""
    attrs: dict[str, Any] = {sc.MEDIA_IMAGES: record.images or None, sc.MEDIA_SIZE: record.size,
                             sc.MEDIA_QUALITY: record.quality,
                             sc.MEDIA_CHARACTERS: record.characters or None,
                             sc.MEDIA_SECONDS: record.seconds, sc.MEDIA_BATCH_ENDPOINT: record.batch_endpoint}
    if record.api == "batches" or record.api == "videos":
        attrs[sc.MEDIA_OBJECT_ID] = record.id
    if record.image_usage is not None:
        image = record.image_usage
        attrs.update({sc.MEDIA_INPUT_IMAGE_TOKENS: image.input_image_tokens,
                      sc.MEDIA_OUTPUT_IMAGE_TOKENS: image.output_image_tokens})
    if record.audio_input_tokens:
        attrs[sc.MEDIA_INPUT_AUDIO_TOKENS] = record.audio_input_tokens
    if isinstance(priced, MediaCost):
        attrs[sc.ROLLUP_COST_TOTAL] = float(priced.total_usd)
    return attrs
