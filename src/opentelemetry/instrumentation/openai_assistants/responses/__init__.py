"""The Responses API front end (with Conversations and Containers): readers of its objects, the
response tracker, the stream watcher, and the finisher that accounts for a response and hands its
records to telemetry."""

from __future__ import annotations

import time
from typing import Any, Optional

from ..accounting.pricing import PriceBook
from ..accounting.tokens import TokenCounter
from ..background import Background
from ..config import Settings
from ..ended import EndedIds
from ..hosted_telemetry import HostedToolsRecorder
from ..telemetry import Telemetry
from .hosted import HostedTools, Retrieve
from .pipeline import ResponseFinisher
from .tracker import ResponseTracker

__all__ = ["ResponsesFrontEnd"]


class ResponsesFrontEnd:
    """Wires the parts; the tracker is what the hooks talk to. ``ended``: the responses already traced,
    kept by the instrumentor across restarts so none is traced twice; ``store``: the instrumentor's
    session and claim store (``stores.session_store``), shared with the other front ends."""

    def __init__(self, settings: Settings, telemetry: Telemetry, background: Background, prices: PriceBook,
                 counter: TokenCounter, retrieve: Optional[Retrieve] = None,
                 ended: Optional[EndedIds] = None, store: Any = None) -> None:
        self.hosted = HostedTools(settings, background, HostedToolsRecorder(telemetry.instruments), prices,
                                  store, retrieve, settings.container_clock or time.time)
        self.finisher = ResponseFinisher(settings, background, telemetry, prices, counter, self.hosted,
                                         claims=self.hosted.ledger.store)
        self.tracker = ResponseTracker(settings, finish=self.finisher, on_container=self.hosted.container_seen,
                                       ended=ended)
        self.tracker.on_track = background.ensure_ticking
