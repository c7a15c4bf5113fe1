"""The front ends of the images, audio, videos and batches APIs over the shared hooks.

Each call (or object, for batches and videos) is read into a ``MediaCall`` on the caller's path
(field reads only), then accounted and written off it: one CLIENT span per call with its money and
unit quantities, the spend counter by cost kind. Batches and videos are billed when seen completed,
once: the first reader claims the object in the session store (shared by processes with Redis),
so later reads, lists and other processes count nothing again.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any, Callable, Optional

from opentelemetry.trace import SpanKind

from .. import semconv as sc
from ..accounting.media import MediaBook, MediaCost
from ..accounting.pricing import PriceBook
from ..accounting.tokens import TokenCounter
from ..background import Background
from ..config import Settings
from ..eventroutes import RoutedWatcher
from ..fields import project_of, provider_of, server_of
from ..frontends import Call, StreamWatcher
from ..invocation import Invocation, SpanRecord, server_labels
from ..model import MediaCall
from ..telemetry import Telemetry
from . import readers
from .account import account, estimate_speech, price, unit_attributes

logger = logging.getLogger(__name__)

_IMAGE_PATHS = ("images/generations", "images/edits", "images/variations")
_TRANSCRIPTION_PATHS = ("audio/transcriptions", "audio/translations")


class MediaFinisher:
    """Accounts a record and hands its span and metrics to telemetry (off the caller's path when it can)."""

    def __init__(self, telemetry: Telemetry, background: Background, prices: PriceBook, books: MediaBook,
                 store: Any, counter: Optional[TokenCounter]) -> None:
        self._telemetry, self._background = telemetry, background
        self._prices, self._books, self._store, self._counter = prices, books, store, counter

    def __call__(self, record: MediaCall, call: Call) -> None:
        if not self._background.submit(self._finish, record, call, True):
            self._finish(record, call, False)  # queue full: account now, without the tokenizer

    def _finish(self, record: MediaCall, call: Call, may_estimate: bool) -> None:
        try:
            if may_estimate:
                estimate_speech(record, self._books, self._counter)
            priced = price(record, self._prices, self._books)
            if record.claim is not None and not self._claimed(record, priced):
                return  # billed before, by this process or another
            provider = provider_of(call.client)
            self._telemetry.invocation_ended(self._invocation(record, call, priced, provider),
                                             account(record, priced, provider))
        except Exception:
            logger.debug("openai-assistants: accounting a %s call failed", record.api, exc_info=True)

    def _claimed(self, record: MediaCall, priced: Any) -> bool:
        total = priced.total_usd if isinstance(priced, MediaCost) else Decimal(0)
        assert record.claim is not None
        return bool(self._store.claim_container(record.claim, total, True).settled_now)

    @staticmethod
    def _invocation(record: MediaCall, call: Call, priced: Any, provider: str) -> Invocation:
        operation = sc.OP_BATCH if record.api == sc.API_BATCHES else sc.OP_GENERATE_CONTENT
        address, port = server_of(call.client)
        attributes = {sc.GEN_AI_OPERATION_NAME: operation, sc.GEN_AI_PROVIDER_NAME: provider,
                      sc.GEN_AI_REQUEST_MODEL: record.model, sc.OPENAI_API_TYPE: record.api,
                      sc.SERVER_ADDRESS: address, sc.SERVER_PORT: port, **unit_attributes(record, priced)}
        name = f"{operation} {record.model}" if record.model else operation
        root = SpanRecord(operation, name, SpanKind.CLIENT, record.started_ns, record.ended_ns, attributes,
                          error=record.error, tool_call_id=record.id, timed=record.claim is None)
        return Invocation(record.api, provider, record.model, None, call.context, root,
                          status="failed" if record.error else "completed", project=project_of(call.client),
                          server=server_labels(address, port), token_operation=operation)


class _Watcher(RoutedWatcher):
    """A streamed image generation or transcription: its events add up to one record, written at close.
    Every event is watched (``RoutedWatcher``'s default): such streams are short."""

    def __init__(self, record: MediaCall, call: Call, add: Callable[[MediaCall, Any], None],
                 finish: MediaFinisher) -> None:
        super().__init__()
        self.record, self.call, self.add, self.finish = record, call, add, finish

    def event(self, event: Any) -> None:
        self.add(self.record, event)  # no arrival time to take: nothing is kept

    def closed(self, error: Optional[BaseException]) -> None:
        import time

        self.record.ended_ns = time.time_ns()
        if error is not None and self.record.image_usage is None and self.record.usage is None:
            self.record.error = type(error).__qualname__
        self.finish(self.record, self.call)


class MediaFrontEnd:
    """One API family (``api``): the request paths it claims and how its objects are read."""

    enabled = True

    def __init__(self, api: str, prefixes: tuple[str, ...], finish: MediaFinisher) -> None:
        self.api, self._prefixes, self._finish = api, prefixes, finish

    def claims(self, path: str) -> bool:
        return path.startswith(self._prefixes)

    def call_started(self, call: Call) -> None:
        pass

    def call_ended(self, call: Call, error: Optional[BaseException]) -> None:
        if not self.enabled or call.state.get("done"):
            return
        if call.path == "audio/speech" and error is None:
            # Speech is binary: priced by its request (and the audio the SDK read, if it did), never by
            # reading a body the app has not read.
            call.state["done"] = True
            self._finish(readers.speech_call(call), call)
        elif error is not None and call.method == "post" and not readers.object_path(call.path):
            call.state["done"] = True
            record = readers._new(call, self.api, _model(call))
            record.error = type(error).__qualname__
            self._finish(record, call)

    def observe(self, call: Call, parsed: Any) -> None:
        if not self.enabled:
            return
        path = call.path
        if path == "audio/speech":
            call.state["audio_bytes"] = readers.audio_bytes_read(parsed)
            return
        if path in _IMAGE_PATHS:
            records = [readers.images_call(call, parsed)]
        elif path in _TRANSCRIPTION_PATHS:
            records = [readers.transcription_call(call, parsed)]
        elif self.api == sc.API_BATCHES:
            records = [r for r in (readers.batch_record(call, o) for o in readers.objects(parsed)) if r]
        elif self.api == sc.API_VIDEOS:
            records = [r for r in (readers.video_record(call, o) for o in readers.objects(parsed)) if r]
        else:
            return
        if path in _IMAGE_PATHS or path in _TRANSCRIPTION_PATHS:
            call.state["done"] = True
        for record in records:
            self._finish(record, call)

    def stream_opened(self, call: Call) -> Optional[StreamWatcher]:
        if not self.enabled:
            return None
        call.state["done"] = True
        if call.path in _IMAGE_PATHS:
            record = readers._new(call, self.api, _model(call))
            record.streamed = True
            return _Watcher(record, call, readers.add_image_event, self._finish)
        if call.path in _TRANSCRIPTION_PATHS:
            record = readers._new(call, self.api, _model(call))
            record.streamed = True
            return _Watcher(record, call, readers.add_transcription_event, self._finish)
        return None


def _model(call: Call) -> Optional[str]:
    model = call.body.get("model")
    return model if isinstance(model, str) else None


class MediaFrontEnds:
    """Wires the images, audio, videos and batches front ends to one finisher."""

    def __init__(self, settings: Settings, telemetry: Telemetry, background: Background, prices: PriceBook,
                 store: Any, counter: Optional[TokenCounter]) -> None:
        from ..accounting.media import media_book

        self.finisher = MediaFinisher(telemetry, background, prices, media_book(settings.prices), store, counter)
        self.front_ends = (
            MediaFrontEnd(sc.API_IMAGES, ("images/",), self.finisher),
            MediaFrontEnd(sc.API_AUDIO, ("audio/speech", "audio/transcriptions", "audio/translations"),
                          self.finisher),
            MediaFrontEnd(sc.API_BATCHES, ("batches",), self.finisher),
            MediaFrontEnd(sc.API_VIDEOS, ("videos",), self.finisher),
        )
