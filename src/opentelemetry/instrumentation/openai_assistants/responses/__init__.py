"""The Responses API front end (with Conversations and Containers): readers of its objects, the
response tracker, the stream watcher, and the finisher that accounts for a response and hands its
records to telemetry."""

from __future__ import annotations

from ..accounting.pricing import PriceBook
from ..accounting.tokens import TokenCounter
from ..background import Background
from ..config import Settings
from ..telemetry import Telemetry
from .pipeline import ResponseFinisher
from .tracker import ResponseTracker

__all__ = ["ResponsesFrontEnd"]


class ResponsesFrontEnd:
    """Wires the parts; the tracker is what the hooks talk to."""

    def __init__(self, settings: Settings, telemetry: Telemetry, background: Background, prices: PriceBook,
                 counter: TokenCounter) -> None:
        self.finisher = ResponseFinisher(settings, background, telemetry, prices, counter)
        self.tracker = ResponseTracker(settings, finish=self.finisher)
        self.tracker.on_track = background.ensure_ticking
