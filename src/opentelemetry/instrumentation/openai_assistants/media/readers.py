"""Readers of the media and batch APIs' objects into ``model.MediaCall`` records: read once, total
(any field may be missing or of another type), never raising, never reading a body the app did not read."""

from __future__ import annotations

import re
import time
from typing import Any, Optional

from ..fields import get, integer, items, page_items, text
from ..frontends import Call
from ..model import ImageGenUsage, MediaCall, Usage

_ID = re.compile(r"^(batches|videos)/([^/]+)")


def _new(call: Call, api: str, model: Optional[str], created_at: Optional[int] = None) -> MediaCall:
    return MediaCall(id=f"{api}:{call.started_ns}:{id(call)}", api=api, endpoint=call.path, model=model,
                     created_at=created_at if created_at is not None else int(call.started_ns // 1_000_000_000),
                     started_ns=call.started_ns, ended_ns=time.time_ns())


def _number(value: Any) -> Optional[float]:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


# --- images -----------------------------------------------------------------------------------

def image_usage(raw: Any) -> Optional[ImageGenUsage]:
    """``usage`` of an image response or completed event (token-priced image models); None: absent."""
    input_tokens, output_tokens = integer(get(raw, "input_tokens")), integer(get(raw, "output_tokens"))
    if input_tokens is None or output_tokens is None:
        return None
    details = get(raw, "input_tokens_details")
    cached = get(raw, "cached_tokens_details")
    return ImageGenUsage(input_tokens, output_tokens,
                         input_image_tokens=integer(get(details, "image_tokens")) or 0,
                         cached_tokens=integer(get(raw, "cached_tokens")) or 0,
                         cached_image_tokens=integer(get(cached, "cached_image_tokens")) or 0,
                         output_image_tokens=integer(get(get(raw, "output_tokens_details"), "image_tokens")))


def images_call(call: Call, parsed: Any) -> MediaCall:
    body = call.body
    record = _new(call, "images", text(body.get("model")),
                  integer(get(parsed, "created")))
    record.images = len(items(get(parsed, "data")))
    record.size = text(get(parsed, "size")) or text(body.get("size"))
    record.quality = text(get(parsed, "quality")) or text(body.get("quality"))
    record.image_usage = image_usage(get(parsed, "usage"))
    return record


def add_image_event(record: MediaCall, event: Any) -> None:
    """A streamed image event: completed images carry the image's usage (summed over images)."""
    kind = text(get(event, "type")) or ""
    if not kind.endswith(".completed"):
        return
    record.images += 1
    record.size = record.size or text(get(event, "size"))
    record.quality = record.quality or text(get(event, "quality"))
    usage = image_usage(get(event, "usage"))
    if usage is None:
        return
    seen = record.image_usage
    if seen is None:
        record.image_usage = usage
        return
    seen.input_tokens += usage.input_tokens
    seen.output_tokens += usage.output_tokens
    seen.input_image_tokens += usage.input_image_tokens
    seen.cached_tokens += usage.cached_tokens
    seen.cached_image_tokens += usage.cached_image_tokens
    if seen.output_image_tokens is not None and usage.output_image_tokens is not None:
        seen.output_image_tokens += usage.output_image_tokens
    else:
        seen.output_image_tokens = None


# --- audio ------------------------------------------------------------------------------------

def speech_call(call: Call) -> MediaCall:
    body = call.body
    record = _new(call, "audio", text(body.get("model")))
    record.text = text(body.get("input")) or ""
    record.characters = len(record.text)
    record.audio_format = text(body.get("response_format")) or "mp3"
    read = call.state.get("audio_bytes")
    record.audio_bytes = read if isinstance(read, int) else None
    return record


def audio_bytes_read(parsed: Any) -> Optional[int]:
    """The length of a binary body the SDK has already read (never reads one itself)."""
    response = getattr(parsed, "response", None)
    content = getattr(response, "_content", None)
    return len(content) if isinstance(content, (bytes, bytearray)) else None


def transcription_usage(raw: Any) -> tuple[Optional[Usage], int, Optional[float]]:
    """(token usage, its audio input tokens, duration seconds) of a transcription's ``usage``."""
    if raw is None:
        return None, 0, None
    if get(raw, "type") == "duration":
        return None, 0, _number(get(raw, "seconds"))
    input_tokens, output_tokens = integer(get(raw, "input_tokens")), integer(get(raw, "output_tokens"))
    if input_tokens is None or output_tokens is None:
        return None, 0, None
    audio = integer(get(get(raw, "input_token_details"), "audio_tokens")) or 0
    return Usage(input_tokens, output_tokens), audio, None


def transcription_call(call: Call, parsed: Any) -> MediaCall:
    record = _new(call, "audio", text(call.body.get("model")))
    record.usage, record.audio_input_tokens, seconds = transcription_usage(get(parsed, "usage"))
    record.seconds = seconds if seconds is not None else _number(get(parsed, "duration"))
    return record


def add_transcription_event(record: MediaCall, event: Any) -> None:
    if get(event, "type") == "transcript.text.done":
        record.usage, record.audio_input_tokens, seconds = transcription_usage(get(event, "usage"))
        record.seconds = seconds if seconds is not None else record.seconds


# --- batches and videos: objects billed once, when seen completed -------------------------------

def batch_record(call: Call, batch: Any) -> Optional[MediaCall]:
    """A batch seen completed with its usage: what it cost; None for anything else."""
    batch_id = text(get(batch, "id"))
    if get(batch, "object") != "batch" or get(batch, "status") != "completed" or not batch_id:
        return None
    raw = get(batch, "usage")
    input_tokens, output_tokens = integer(get(raw, "input_tokens")), integer(get(raw, "output_tokens"))
    record = _new(call, "batches", text(get(batch, "model")), integer(get(batch, "created_at")))
    record.id, record.claim = batch_id, f"batch:{batch_id}"
    record.batch_endpoint = text(get(batch, "endpoint"))
    _api_window(record, integer(get(batch, "created_at")), integer(get(batch, "completed_at")))
    if input_tokens is not None and output_tokens is not None:
        cached = integer(get(get(raw, "input_tokens_details"), "cached_tokens")) or 0
        reasoning = integer(get(get(raw, "output_tokens_details"), "reasoning_tokens")) or 0
        record.usage = Usage(input_tokens, output_tokens, cached_input_tokens=cached, reasoning_tokens=reasoning)
    return record


def video_record(call: Call, video: Any) -> Optional[MediaCall]:
    video_id = text(get(video, "id"))
    if get(video, "object") != "video" or get(video, "status") != "completed" or not video_id:
        return None
    record = _new(call, "videos", text(get(video, "model")), integer(get(video, "created_at")))
    record.id, record.claim = video_id, f"video:{video_id}"
    record.size = text(get(video, "size"))
    record.seconds = _number(get(video, "seconds"))
    _api_window(record, integer(get(video, "created_at")), integer(get(video, "completed_at")))
    return record


def _api_window(record: MediaCall, start: Optional[int], end: Optional[int]) -> None:
    if start is not None:
        record.started_ns = start * 1_000_000_000
        record.ended_ns = max(record.started_ns, (end or start) * 1_000_000_000)


def objects(parsed: Any) -> list[Any]:
    """The object, or the objects of a page."""
    listed = list(page_items(parsed))
    return listed if listed else [parsed]


def object_path(path: str) -> bool:
    return bool(_ID.match(path)) or path in ("batches", "videos")
