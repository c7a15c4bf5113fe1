"""The images, audio, videos and batches endpoints of the fake API, as request -> reply functions.

Bodies are validated with the SDK's own models before they are sent (JSON, SSE, and binary speech);
``report_usage`` off (the server's switch) leaves usage out, as some models and old servers do.
Token figures follow the real API's shapes: image models report text and image input tokens and
image (and, except gpt-image-1, text) output tokens; gpt-4o-*-transcribe models report tokens,
whisper-1 a duration. Batches and videos advance one status per read and complete on the second.
"""

from __future__ import annotations

import base64
import json
import math
import re
from decimal import Decimal
from typing import Any, Callable, Dict, List, Optional, Tuple

from openai.types import Batch, ImageEditStreamEvent, ImageGenStreamEvent, ImagesResponse, Video
from openai.types.audio import Transcription, TranscriptionStreamEvent, TranscriptionVerbose, Translation
from pydantic import TypeAdapter

from .api import Handler
from .billing import Charge
from .responses_api import RawReply
from .state import NotFound, Obj, World, new_id, page

#: Output tokens of one image by quality (the 1024x1024 figures of OpenAI's image guide).
IMAGE_TOKENS = {"low": 272, "medium": 1056, "high": 4160, "auto": 1056}
INPUT_IMAGE_TOKENS = 323  # one input image of an edit
TEXT_OUTPUT_TOKENS = 20  # reasoning text of the newer image models (gpt-image-1 reports no output details)
SPEECH_SECONDS_PER_WORD = 0.4
PCM_BYTES_PER_SECOND = 48_000
UPLOAD_BYTES_PER_SECOND = 32_000  # the uploaded audio: 16 kHz, 16-bit mono
AUDIO_TOKENS_PER_SECOND = 10
DEFAULT_BATCH_MODEL = "gpt-4o-mini"
M = Decimal(1_000_000)
#: The fake bill's list prices (USD per token, character, second or image): OpenAI's published prices.
BILL_RATES: Dict[str, Dict[str, Decimal]] = {
    "gpt-image-1.5": {"input": Decimal(5) / M, "image input": Decimal(8) / M, "output": Decimal(10) / M,
                      "image output": Decimal(32) / M},
    "dall-e-3": {"standard/1024x1024": Decimal("0.04"), "hd/1792x1024": Decimal("0.12")},
    "tts-1": {"characters": Decimal(15) / M},
    "tts-1-hd": {"characters": Decimal(30) / M},
    "whisper-1": {"audio seconds": Decimal("0.0001")},
    "gpt-4o-transcribe": {"input": Decimal("2.5") / M, "audio input": Decimal(6) / M, "output": Decimal(10) / M},
    "gpt-4o-mini-transcribe": {"input": Decimal("1.25") / M, "audio input": Decimal(3) / M,
                               "output": Decimal(5) / M},
    "gpt-4o-mini": {"batch input": Decimal("0.075") / M, "batch cached input": Decimal("0.0375") / M,
                    "batch output": Decimal("0.3") / M},
    "sora-2": {"video seconds": Decimal("0.10")},
}
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n fake image").decode()

_VALIDATORS: Dict[str, TypeAdapter[Any]] = {
    "images": TypeAdapter(ImagesResponse),
    "image_gen_event": TypeAdapter(ImageGenStreamEvent),
    "image_edit_event": TypeAdapter(ImageEditStreamEvent),
    "transcription": TypeAdapter(Transcription),
    "verbose": TypeAdapter(TranscriptionVerbose),
    "translation": TypeAdapter(Translation),
    "transcription_event": TypeAdapter(TranscriptionStreamEvent),
    "batch": TypeAdapter(Batch),
    "video": TypeAdapter(Video),
}


def _checked(kind: str, payload: Obj) -> Obj:
    """Raises (the server then records a validation error) when the SDK's model rejects ``payload``."""
    _VALIDATORS[kind].validate_python(payload, strict=False)
    return payload


def _json(payload: Obj) -> RawReply:
    return RawReply(200, json.dumps(payload).encode(), "application/json")


def _sse(events: List[Tuple[str, Obj]]) -> RawReply:
    data = b"".join(f"event: {name}\ndata: {json.dumps(body)}\n\n".encode() for name, body in events)
    return RawReply(200, data + b"data: [DONE]\n\n", "text/event-stream; charset=utf-8")


def _words(value: Any) -> int:
    return len(str(value or "").split())


def _true(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


class MediaApi:
    """The routes; ``report_usage()`` is the server's switch for reported usage."""

    def __init__(self, world: World, report_usage: Callable[[], bool]) -> None:
        self.world = world
        self.report_usage = report_usage
        self.batches: Dict[str, Obj] = {}
        self.videos: Dict[str, Obj] = {}
        self.batch_usage: Obj = {"input_tokens": 1000, "cached_tokens": 200, "output_tokens": 500,
                                 "reasoning_tokens": 0}
        self.bill: Optional[Callable[[Charge], None]] = None  # the fake admin billing API's ledger
        r = r"([A-Za-z0-9_\-]+)"
        self.routes: List[Tuple[str, re.Pattern[str], Handler]] = [
            ("POST", re.compile(r"/images/generations"), self.generate),
            ("POST", re.compile(r"/images/edits"), self.edit),
            ("POST", re.compile(r"/images/variations"), self.variation),
            ("POST", re.compile(r"/audio/speech"), self.speech),
            ("POST", re.compile(r"/audio/transcriptions"), self.transcribe),
            ("POST", re.compile(r"/audio/translations"), self.translate),
            ("POST", re.compile(r"/batches"), self.create_batch),
            ("GET", re.compile(r"/batches"), self.list_batches),
            ("GET", re.compile(rf"/batches/{r}"), self.retrieve_batch),
            ("POST", re.compile(rf"/batches/{r}/cancel"), self.cancel_batch),
            ("POST", re.compile(r"/videos"), self.create_video),
            ("GET", re.compile(r"/videos"), self.list_videos),
            ("GET", re.compile(rf"/videos/{r}"), self.retrieve_video),
            ("GET", re.compile(rf"/videos/{r}/content"), self.video_content),
            ("DELETE", re.compile(rf"/videos/{r}"), self.delete_video),
        ]

    # --- the bill -----------------------------------------------------------------------------
    def _charge(self, model: str, parts: List[Tuple[str, float]], usage: Optional[str] = None,
                quantity: float = 0, tokens: Tuple[int, int, int] = (0, 0, 0)) -> None:
        """Bill ``parts`` ((line item part, quantity)) of ``model``; the first carries the usage row."""
        rates = BILL_RATES.get(model)
        if self.bill is None or rates is None:
            return
        now = self.world.clock.now()
        first = True
        for part, count in parts:
            if part not in rates or not count:
                continue
            self.bill(Charge(now, model, f"{model}, {part}", part, rates[part] * Decimal(str(count)), count,
                             usage if first else None, tokens if first else (0, 0, 0), quantity))
            first = False
        if first and usage is not None and self.bill is not None:  # nothing priced: the usage still counts
            self.bill(Charge(now, model, f"{model}, {usage}", usage, Decimal(0), quantity, usage, tokens))

    def _bill_images(self, model: str, usage: Optional[Obj], n: int, quality: str, size: str) -> None:
        if usage is not None:
            details = usage.get("output_tokens_details") or {}
            image_out = details.get("image_tokens", usage["output_tokens"])
            image_in = usage["input_tokens_details"]["image_tokens"]
            self._charge(model, [("image output", image_out), ("output", usage["output_tokens"] - image_out),
                                 ("input", usage["input_tokens"] - image_in), ("image input", image_in)],
                         "images", n)
        else:
            self._charge(model, [(f"{quality}/{size}", n)], "images", n)

    # --- images -------------------------------------------------------------------------------
    def _image_usage(self, model: str, prompt: Any, quality: str, n: int, input_images: int) -> Optional[Obj]:
        if not model.startswith(("gpt-image", "chatgpt-image")) or not self.report_usage():
            return None
        text_in = _words(prompt) + 6
        image_in = INPUT_IMAGE_TOKENS * input_images
        image_out = IMAGE_TOKENS.get(quality, IMAGE_TOKENS["auto"]) * n
        text_out = 0 if model == "gpt-image-1" else TEXT_OUTPUT_TOKENS * n
        usage: Obj = {"input_tokens": text_in + image_in, "output_tokens": image_out + text_out,
                      "total_tokens": text_in + image_in + image_out + text_out,
                      "input_tokens_details": {"image_tokens": image_in, "text_tokens": text_in}}
        if model != "gpt-image-1":
            usage["output_tokens_details"] = {"image_tokens": image_out, "text_tokens": text_out}
        return usage

    def _images(self, body: Obj, input_images: int, edit: bool) -> RawReply:
        model = str(body.get("model") or "dall-e-2")
        n = int(body.get("n") or 1)
        quality = str(body.get("quality") or ("standard" if model.startswith("dall-e") else "auto"))
        size = str(body.get("size") or "1024x1024")
        now = self.world.clock.now()
        if _true(body.get("stream")):
            return self._image_stream(body, model, n, quality, size, input_images, edit, now)
        reply: Obj = {"created": now, "data": [{"b64_json": PNG} for _ in range(n)], "size": size}
        if not model.startswith("dall-e"):
            reply.update({"quality": quality if quality in ("low", "medium", "high") else "medium",
                          "output_format": "png", "background": "opaque"})
        usage = self._image_usage(model, body.get("prompt"), quality, n, input_images)
        if usage is not None:
            reply["usage"] = usage
        self._bill_images(model, usage, n, quality, size)
        return _json(_checked("images", reply))

    def _image_stream(self, body: Obj, model: str, n: int, quality: str, size: str, input_images: int,
                      edit: bool, now: int) -> RawReply:
        prefix, kind = ("image_edit", "image_edit_event") if edit else ("image_generation", "image_gen_event")
        common = {"b64_json": PNG, "background": "opaque", "created_at": now, "output_format": "png",
                  "quality": quality if quality in ("low", "medium", "high") else "medium", "size": size}
        events: List[Tuple[str, Obj]] = []
        for _ in range(n):
            for index in range(int(body.get("partial_images") or 0)):
                event = {"type": f"{prefix}.partial_image", "partial_image_index": index, **common}
                events.append((event["type"], _checked(kind, event)))
            usage = self._image_usage(model, body.get("prompt"), quality, 1, input_images)
            done: Obj = {"type": f"{prefix}.completed", **common,
                         "usage": usage or {"input_tokens": 0, "output_tokens": 0, "total_tokens": 0,
                                            "input_tokens_details": {"image_tokens": 0, "text_tokens": 0}}}
            if usage is None:
                del done["usage"]  # an absent usage: the SDK's model requires it, so this is a fault shape
            else:
                _checked(kind, done)
            self._bill_images(model, usage, 1, quality, size)
            events.append((done["type"], done))
        return _sse(events)

    def generate(self, query: Dict[str, Any], body: Obj) -> RawReply:
        return self._images(body, 0, edit=False)

    def edit(self, query: Dict[str, Any], body: Obj) -> RawReply:
        images = sum(1 for key in body if key.startswith("image") and not key.endswith(".filename"))
        return self._images(body, max(1, images), edit=True)

    def variation(self, query: Dict[str, Any], body: Obj) -> RawReply:
        return self._images({**body, "prompt": ""}, 0, edit=False)

    # --- audio --------------------------------------------------------------------------------
    def speech(self, query: Dict[str, Any], body: Obj) -> RawReply:
        seconds = max(1, _words(body.get("input"))) * SPEECH_SECONDS_PER_WORD
        audio_format = str(body.get("response_format") or "mp3")
        pcm = b"\x00\x01" * int(seconds * PCM_BYTES_PER_SECOND / 2)
        data = (b"RIFF" + b"\x00" * 40 + pcm) if audio_format == "wav" else pcm
        characters = len(str(body.get("input") or ""))
        self._charge(str(body.get("model")), [("characters", characters)], "audio_speeches", characters)
        types = {"mp3": "audio/mpeg", "wav": "audio/wav", "pcm": "audio/pcm", "opus": "audio/ogg",
                 "aac": "audio/aac", "flac": "audio/flac"}
        return RawReply(200, data, types.get(audio_format, "application/octet-stream"))

    def _audio_seconds(self, body: Obj) -> float:
        upload = body.get("file")
        return len(upload) / UPLOAD_BYTES_PER_SECOND if isinstance(upload, (bytes, bytearray)) else 1.0

    def transcribe(self, query: Dict[str, Any], body: Obj, translate: bool = False) -> RawReply:
        model = str(body.get("model") or "whisper-1")
        seconds = self._audio_seconds(body)
        text = "the quick brown fox jumps over the lazy dog"
        fmt = str(body.get("response_format") or "json")
        tokens = model != "whisper-1"
        audio_tokens = math.ceil(seconds * AUDIO_TOKENS_PER_SECOND)
        prompt_tokens = _words(body.get("prompt"))
        usage: Optional[Obj] = None
        if self.report_usage():
            usage = ({"type": "tokens", "input_tokens": audio_tokens + prompt_tokens, "output_tokens": _words(text),
                      "total_tokens": audio_tokens + prompt_tokens + _words(text),
                      "input_token_details": {"audio_tokens": audio_tokens, "text_tokens": prompt_tokens}}
                     if tokens else {"type": "duration", "seconds": math.ceil(seconds)})
        if usage is not None and usage["type"] == "tokens":
            self._charge(model, [("audio input", audio_tokens), ("input", prompt_tokens), ("output", _words(text))],
                         "audio_transcriptions", math.ceil(seconds))
        else:
            self._charge(model, [("audio seconds", math.ceil(seconds))], "audio_transcriptions", math.ceil(seconds))
        if _true(body.get("stream")) and tokens:
            events: List[Tuple[str, Obj]] = []
            for word in text.split():
                delta = {"type": "transcript.text.delta", "delta": word + " "}
                events.append((delta["type"], _checked("transcription_event", delta)))
            done: Obj = {"type": "transcript.text.done", "text": text}
            if usage is not None:
                done["usage"] = usage
            events.append((done["type"], _checked("transcription_event", done)))
            return _sse(events)
        if fmt == "text":
            return RawReply(200, text.encode(), "text/plain; charset=utf-8")
        if fmt == "verbose_json":
            reply: Obj = {"text": text, "language": "english", "duration": seconds}
            if usage is not None and not translate:
                reply["usage"] = usage
            return _json(_checked("translation" if translate else "verbose", reply))
        reply = {"text": text}
        if usage is not None and not translate:
            reply["usage"] = usage
        return _json(_checked("translation" if translate else "transcription", reply))

    def translate(self, query: Dict[str, Any], body: Obj) -> RawReply:
        return self.transcribe(query, body, translate=True)

    # --- batches ------------------------------------------------------------------------------
    def create_batch(self, query: Dict[str, Any], body: Obj) -> RawReply:
        now = self.world.clock.now()
        metadata = body.get("metadata") if isinstance(body.get("metadata"), dict) else None
        batch: Obj = {"id": new_id("batch"), "object": "batch", "endpoint": str(body.get("endpoint")),
                      "input_file_id": str(body.get("input_file_id")), "completion_window": "24h",
                      "status": "validating", "created_at": now, "expires_at": now + 86_400,
                      "model": (metadata or {}).get("model", DEFAULT_BATCH_MODEL), "metadata": metadata,
                      "request_counts": {"total": 0, "completed": 0, "failed": 0}}
        self.batches[batch["id"]] = batch
        return _json(_checked("batch", batch))

    def _advance_batch(self, batch: Obj) -> Obj:
        now = self.world.clock.now()
        if batch["status"] == "validating":
            batch.update(status="in_progress", in_progress_at=now)
        elif batch["status"] == "in_progress":
            batch.update(status="completed", finalizing_at=now, completed_at=now,
                         output_file_id=new_id("file"), request_counts={"total": 2, "completed": 2, "failed": 0})
            if self.report_usage():
                u = self.batch_usage
                batch["usage"] = {
                    "input_tokens": u["input_tokens"], "output_tokens": u["output_tokens"],
                    "total_tokens": u["input_tokens"] + u["output_tokens"],
                    "input_tokens_details": {"cached_tokens": u["cached_tokens"]},
                    "output_tokens_details": {"reasoning_tokens": u["reasoning_tokens"]}}
                self._charge(batch["model"], [("batch input", u["input_tokens"] - u["cached_tokens"]),
                                              ("batch cached input", u["cached_tokens"]),
                                              ("batch output", u["output_tokens"])], "completions",
                             tokens=(u["input_tokens"], u["cached_tokens"], u["output_tokens"]))
        return batch

    def _batch(self, batch_id: str) -> Obj:
        if batch_id not in self.batches:
            raise NotFound("batch", batch_id, f"No batch found with id '{batch_id}'.")
        return self.batches[batch_id]

    def retrieve_batch(self, batch_id: str, query: Dict[str, Any], body: Obj) -> RawReply:
        return _json(_checked("batch", self._advance_batch(self._batch(batch_id))))

    def cancel_batch(self, batch_id: str, query: Dict[str, Any], body: Obj) -> RawReply:
        batch = self._batch(batch_id)
        if batch["status"] != "completed":
            batch.update(status="cancelled", cancelled_at=self.world.clock.now())
        return _json(_checked("batch", batch))

    def list_batches(self, query: Dict[str, Any], body: Obj) -> RawReply:
        return _json(page([_checked("batch", b) for b in self.batches.values()], query))

    # --- videos -------------------------------------------------------------------------------
    def create_video(self, query: Dict[str, Any], body: Obj) -> RawReply:
        video: Obj = {"id": new_id("video"), "object": "video", "model": str(body.get("model") or "sora-2"),
                      "status": "queued", "progress": 0, "created_at": self.world.clock.now(),
                      "seconds": str(body.get("seconds") or "4"), "size": str(body.get("size") or "720x1280"),
                      "prompt": body.get("prompt")}
        self.videos[video["id"]] = video
        return _json(_checked("video", video))

    def _video(self, video_id: str) -> Obj:
        if video_id not in self.videos:
            raise NotFound("video", video_id, f"No video found with id '{video_id}'.")
        return self.videos[video_id]

    def retrieve_video(self, video_id: str, query: Dict[str, Any], body: Obj) -> RawReply:
        video = self._video(video_id)
        if video["status"] == "queued":
            video.update(status="in_progress", progress=50)
        elif video["status"] == "in_progress":
            video.update(status="completed", progress=100, completed_at=self.world.clock.now())
            self._charge(video["model"], [("video seconds", float(video["seconds"]))])
        return _json(_checked("video", video))

    def list_videos(self, query: Dict[str, Any], body: Obj) -> RawReply:
        return _json(page([_checked("video", v) for v in self.videos.values()], query))

    def video_content(self, video_id: str, query: Dict[str, Any], body: Obj) -> RawReply:
        self._video(video_id)
        return RawReply(200, b"\x00\x00\x00\x18ftypmp42 fake video", "video/mp4")

    def delete_video(self, video_id: str, query: Dict[str, Any], body: Obj) -> RawReply:
        self.videos.pop(video_id, None)
        return _json({"id": video_id, "object": "video.deleted", "deleted": True})
