"""Prices of the media and batch APIs: image tokens, images, speech, transcription, video seconds, batches.

Token and per-character/per-hour rates come from genai-prices (the rates it lists for gpt-image-*,
tts, transcribe and whisper models); per-image (DALL-E), per-second (Sora) and the batch discount
come from ``prices/media.json``, dated and sourced, overridable through the price override file's
``"media"`` entry. A model past its retirement date in our data is never priced at its old rates.
Every function returns a ``MediaCost`` (parts, each a cost kind with its quantity and USD) or
``Unpriced`` with a reason, never a cost of 0 for something unknown, and never raises.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Callable, Optional, Union

from ..model import ImageGenUsage, Usage
from .dated import in_force
from .pricing import MILLION, Overrides, PriceBook, Unpriced, _date, _decimal, _read_json, at_datetime, load_overrides

logger = logging.getLogger(__name__)

# Cost kinds (openai_cost.kind) of the media APIs, besides input_tokens / output_tokens / cached_input_tokens.
KIND_IMAGE_INPUT = "image_input_tokens"
KIND_CACHED_IMAGE_INPUT = "cached_image_input_tokens"
KIND_IMAGE_OUTPUT = "image_output_tokens"
KIND_AUDIO_INPUT = "audio_input_tokens"
KIND_AUDIO_OUTPUT = "audio_output_tokens"
KIND_IMAGES = "images"
KIND_CHARACTERS = "characters"
KIND_AUDIO_SECONDS = "audio_seconds"
KIND_VIDEO_SECONDS = "video_seconds"
KIND_INPUT = "input_tokens"
KIND_OUTPUT = "output_tokens"
KIND_CACHED_INPUT = "cached_input_tokens"

HOUR = Decimal(3600)


@dataclass(frozen=True)
class Part:
    """One priced quantity: ``quantity`` units of ``kind`` for ``usd``."""

    kind: str
    quantity: Union[int, float]
    usd: Decimal


@dataclass(frozen=True)
class MediaCost:
    parts: tuple[Part, ...]
    model: str
    effective_from: Optional[date]
    source: str
    modifiers: str = ""  # e.g. "batch"

    @property
    def total_usd(self) -> Decimal:
        return sum((p.usd for p in self.parts), Decimal(0))


Priced = Union[MediaCost, Unpriced]


@dataclass(frozen=True)
class _Entry:
    effective_from: date
    data: Mapping[str, Any]
    source: str


def _entries(raw: Any, source: str) -> list[_Entry]:
    return [_Entry(_date(i["effective_from"]), dict(i), str(i.get("source", source))) for i in raw or []]


class MediaBook:
    """Unit prices by model and date: overrides first, then ``prices/media.json``. Lookups never raise."""

    def __init__(self, overrides: Overrides = None) -> None:
        data, source = load_overrides(overrides)
        own = dict(data.get("media") or {})
        builtin = _read_json("media.json")
        try:
            self._tables = {table: self._table(dict(own.get(table) or {}), dict(builtin.get(table) or {}), source)
                            for table in ("per_image", "per_second", "speech_audio_tokens")}
            self._batch = _entries(builtin["batch"], "prices/media.json") + _entries(own.get("batch"), source)
            retired = {**dict(builtin.get("retired") or {}), **dict(own.get("retired") or {})}
            self._retired = {name.lower(): (_date(v["from"]), str(v.get("source", source)))
                             for name, v in retired.items()}
        except (KeyError, TypeError, ValueError, ArithmeticError, AttributeError) as exc:
            raise ValueError(f"invalid media price overrides ({source}): {exc}") from exc

    @staticmethod
    def _table(own: dict[str, Any], builtin: dict[str, Any], source: str) -> dict[str, list[_Entry]]:
        """Entries by model: the user's and the shipped ones (an override entry wins from its date on)."""
        return {name.lower(): _entries(builtin.get(name), "prices/media.json") + _entries(own.get(name), source)
                for name in {**builtin, **own}}

    def entry(self, table: str, model_name: str, day: date) -> Optional[_Entry]:
        return in_force(self._tables[table].get(model_name.lower(), []), day)

    def audio_tokens_per_second(self, model_name: str, at: int) -> Optional[Decimal]:
        """Audio output tokens per second of speech (estimates only), None: unknown."""
        day = _day(at)
        entry = self.entry("speech_audio_tokens", model_name, day) or \
            self.entry("speech_audio_tokens", _base_model(model_name), day)
        return _decimal(entry.data["per_minute"]) / 60 if entry is not None else None

    def batch(self, day: date) -> Optional[_Entry]:
        return in_force(self._batch, day)

    def retired(self, model_name: str, day: date) -> Optional[str]:
        """Why ``model_name`` has no rates on ``day`` (it was retired before), else None."""
        found = self._retired.get(model_name.lower())
        if found is None or day < found[0]:
            return None
        return f"model {model_name!r} was retired on {found[0].isoformat()}: no rates after it"


def _day(at: Union[int, float, datetime, None]) -> date:
    return at_datetime(at).date()


def _usd(rate_per_unit: Decimal, quantity: Union[int, float, Decimal], per: Decimal = MILLION) -> Decimal:
    return rate_per_unit * Decimal(str(quantity)) / per


def _model_price(model_name: str, at: Union[int, float, datetime, None]) -> Optional[tuple[Any, str, str]]:
    """genai-prices' price of a model on a date: (model price, model id, source); None: not listed."""
    import genai_prices

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            calc = genai_prices.calc_price(genai_prices.Usage(input_tokens=0), model_ref=model_name,
                                           provider_id="openai", genai_request_timestamp=at_datetime(at))
    except LookupError:
        return None
    except Exception:
        logger.debug("genai-prices failed on %s", model_name, exc_info=True)
        return None
    version = getattr(genai_prices, "__version__", "?")
    return calc.model_price, calc.model.id, f"genai-prices {version} (openai/{calc.model.id})"


def _rate(price: Any, *names: str) -> Optional[Decimal]:
    for name in names:
        value = getattr(price, name, None)
        if isinstance(value, Decimal):
            return value
    return None


# --- image tokens: the Images API and the Responses image_generation tool share this ----------

OwnImageRates = Callable[[str, int], Optional[Any]]  # (model, API time) -> entry with .data, .effective_from, .source


def image_token_cost(image_model: str, usage: ImageGenUsage, at: int, books: Optional[MediaBook] = None,
                     own: Optional[OwnImageRates] = None) -> Priced:
    """Image model tokens, each kind at its own rate: text input, image input, cached text and image
    input, text output and image output (``output_image_tokens``; unreported: all output is image).

    Rates: genai-prices, else ``own`` (the tool fee data's per-model table). A retired model: unpriced.
    """
    retired = books.retired(image_model, _day(at)) if books is not None else None
    if retired:
        return Unpriced(retired)
    rates = _image_rates(image_model, at, own)
    if rates is None:
        return Unpriced(f"no price for image model {image_model!r}")
    table, effective, source = rates
    cached_image = max(0, usage.cached_image_tokens)
    cached_text = max(0, usage.cached_tokens - cached_image)
    image_in = max(0, usage.input_image_tokens - cached_image)
    text_in = max(0, usage.input_tokens - usage.input_image_tokens - cached_text)
    image_out = usage.output_tokens if usage.output_image_tokens is None else max(0, usage.output_image_tokens)
    text_out = max(0, usage.output_tokens - image_out)
    wanted = ((KIND_INPUT, text_in, "text_input"), (KIND_IMAGE_INPUT, image_in, "image_input"),
              (KIND_CACHED_INPUT, cached_text, "cached_text_input"),
              (KIND_CACHED_IMAGE_INPUT, cached_image, "cached_image_input"),
              (KIND_OUTPUT, text_out, "text_output"), (KIND_IMAGE_OUTPUT, image_out, "image_output"))
    parts = []
    for kind, tokens, rate_name in wanted:
        if not tokens:
            continue
        rate = table.get(rate_name)
        if rate is None:
            return Unpriced(f"no {rate_name.replace('_', ' ')} rate for image model {image_model!r}")
        parts.append(Part(kind, tokens, _usd(rate, tokens)))
    return MediaCost(tuple(parts), image_model, effective, source)


def _image_rates(image_model: str, at: int, own: Optional[OwnImageRates]
                 ) -> Optional[tuple[dict[str, Decimal], Optional[date], str]]:
    found = _model_price(image_model, at)
    if found is not None:
        price, _, source = found
        table = {
            "text_input": _rate(price, "input_mtok"),
            "image_input": _rate(price, "input_image_mtok"),
            "cached_text_input": _rate(price, "cache_read_mtok", "input_mtok"),
            "cached_image_input": _rate(price, "cache_image_read_mtok", "input_image_mtok"),
            "text_output": _rate(price, "output_mtok"),
            "image_output": _rate(price, "output_image_mtok", "output_mtok"),
        }
        return {k: v for k, v in table.items() if v is not None}, None, source
    entry = own(image_model, at) if own is not None else None
    if entry is None:
        return None
    data = {k: _decimal(v) for k, v in entry.data.items() if k.endswith("_per_1m")}
    text_in, image_in, out = data.get("text_input_per_1m"), data.get("image_input_per_1m"), data.get("output_per_1m")
    table = {
        "text_input": text_in,
        "image_input": image_in,
        "cached_text_input": data.get("cached_text_input_per_1m", text_in),
        "cached_image_input": data.get("cached_image_input_per_1m", image_in),
        "text_output": data.get("text_output_per_1m", out),
        "image_output": data.get("image_output_per_1m", out),
    }
    return {k: v for k, v in table.items() if v is not None}, entry.effective_from, entry.source


def per_image_cost(image_model: str, size: Optional[str], quality: Optional[str], count: int, at: int,
                   books: MediaBook) -> Priced:
    """DALL-E style per-image prices by quality and size (quality ``standard`` when not given)."""
    day = _day(at)
    retired = books.retired(image_model, day)
    if retired:
        return Unpriced(retired)
    entry = books.entry("per_image", image_model, day)
    if entry is None:
        return Unpriced(f"no per-image price for image model {image_model!r} on {day.isoformat()}")
    key = f"{quality or 'standard'}/{size or '1024x1024'}"
    price = dict(entry.data.get("prices") or {}).get(key)
    if price is None:
        return Unpriced(f"no per-image price for {image_model!r} at {key}")
    return MediaCost((Part(KIND_IMAGES, count, _decimal(price) * count),), image_model, entry.effective_from,
                     entry.source)


# --- audio -------------------------------------------------------------------------------------


def speech_cost(model_name: str, characters: int, text_tokens: Optional[int], audio_tokens: Optional[int],
                at: int) -> Priced:
    """Text to speech: per character (tts-1 family) or per token (text in, audio out) by the model's rates."""
    found = _model_price(model_name, at)
    if found is None:
        return Unpriced(f"no price for speech model {model_name!r}")
    price, _, source = found
    per_char = _rate(price, "input_mchars")
    if per_char is not None:
        return MediaCost((Part(KIND_CHARACTERS, characters, _usd(per_char, characters)),), model_name, None, source)
    text_rate, audio_rate = _rate(price, "input_mtok"), _rate(price, "output_audio_mtok", "output_mtok")
    if text_tokens is None or audio_tokens is None:
        return Unpriced(f"speech model {model_name!r} bills tokens and they are unknown")
    if text_rate is None or audio_rate is None:
        return Unpriced(f"no token rates for speech model {model_name!r}")
    parts = tuple(p for p in (Part(KIND_INPUT, text_tokens, _usd(text_rate, text_tokens)),
                              Part(KIND_AUDIO_OUTPUT, audio_tokens, _usd(audio_rate, audio_tokens))) if p.quantity)
    return MediaCost(parts, model_name, None, source)


def transcription_cost(model_name: str, usage: Optional[Usage], audio_input_tokens: int, seconds: Optional[float],
                       at: int) -> Priced:
    """Speech to text: the reported token usage (text and audio input, output) of token-billed models, else
    the audio's duration at the model's per-hour rate."""
    found = _model_price(model_name, at)
    if found is None:
        return Unpriced(f"no price for transcription model {model_name!r}")
    price, _, source = found
    if usage is not None:
        text_rate, audio_rate = _rate(price, "input_mtok"), _rate(price, "input_audio_mtok", "input_mtok")
        out_rate = _rate(price, "output_mtok")
        if text_rate is None or audio_rate is None or out_rate is None:
            return Unpriced(f"no token rates for transcription model {model_name!r}")
        text_in = max(0, usage.input_tokens - audio_input_tokens)
        parts = tuple(p for p in (Part(KIND_INPUT, text_in, _usd(text_rate, text_in)),
                                  Part(KIND_AUDIO_INPUT, audio_input_tokens, _usd(audio_rate, audio_input_tokens)),
                                  Part(KIND_OUTPUT, usage.output_tokens, _usd(out_rate, usage.output_tokens)))
                      if p.quantity)
        return MediaCost(parts, model_name, None, source)
    hourly = _rate(price, "input_audio_hours", "audio_hours")
    if hourly is None:
        return Unpriced(f"transcription model {model_name!r} bills tokens and none were reported")
    if seconds is None:
        return Unpriced("the audio's duration is unknown (no usage and no duration in the response)")
    return MediaCost((Part(KIND_AUDIO_SECONDS, seconds, _usd(hourly, seconds, HOUR)),), model_name, None, source)


# --- videos and batches -----------------------------------------------------------------------


def video_cost(model_name: str, size: Optional[str], seconds: Optional[float], at: int, books: MediaBook) -> Priced:
    day = _day(at)
    entry = books.entry("per_second", model_name, day) or books.entry("per_second", _base_model(model_name), day)
    if entry is None:
        return Unpriced(f"no per-second price for video model {model_name!r} on {day.isoformat()}")
    price = dict(entry.data.get("prices") or {}).get(size or "")
    if price is None:
        return Unpriced(f"no per-second price for {model_name!r} at size {size!r}")
    if seconds is None:
        return Unpriced("the video's length is unknown")
    return MediaCost((Part(KIND_VIDEO_SECONDS, seconds, _decimal(price) * Decimal(str(seconds))),), model_name,
                     entry.effective_from, entry.source)


def _base_model(model_name: str) -> str:
    """A dated snapshot's model (``sora-2-2025-12-08`` -> ``sora-2``)."""
    parts = model_name.rsplit("-", 3)
    return parts[0] if len(parts) == 4 and all(p.isdigit() for p in parts[1:]) else model_name


def batch_cost(model_name: Optional[str], endpoint: Optional[str], usage: Usage, at: int, prices: PriceBook,
               books: MediaBook) -> Priced:
    """A completed batch's reported tokens at the batch rate: the model's standard rates times the
    batch factor in force on the batch's creation date, for the endpoints it applies to."""
    day = _day(at)
    entry = books.batch(day)
    if entry is None:
        return Unpriced(f"no batch rate in force on {day.isoformat()}")
    endpoints = [str(e) for e in entry.data.get("endpoints") or ()]
    if endpoint not in endpoints:
        return Unpriced(f"no batch rate for endpoint {endpoint!r}")
    cost = prices.token_cost(model_name, usage, at)
    if isinstance(cost, Unpriced):
        return cost
    factor = _decimal(entry.data["factor"])
    parts = tuple(Part(kind, tokens, usd * factor) for kind, tokens, usd in (
        (KIND_INPUT, usage.input_tokens - usage.cached_input_tokens - usage.cache_write_tokens, cost.input_usd),
        (KIND_CACHED_INPUT, usage.cached_input_tokens, cost.cached_input_usd),
        (KIND_OUTPUT, usage.output_tokens, cost.output_usd)) if tokens)
    source = f"{cost.source}; batch factor {entry.data['factor']} ({entry.source})"
    return MediaCost(parts, cost.model, max(d for d in (cost.effective_from, entry.effective_from) if d), source,
                     "batch")


def media_book(overrides: Overrides) -> MediaBook:
    """The media prices with the user's overrides, or (when those are unreadable) the shipped ones."""
    try:
        return MediaBook(overrides)
    except (OSError, ValueError) as error:
        logger.warning("openai-assistants: media price overrides ignored: %s", error)
        return MediaBook({})
