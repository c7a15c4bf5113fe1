"""The front end of the one-request APIs: Chat Completions (with stored completions), legacy
Completions, Embeddings and Moderations. One folder for the four: each call is created by one
request and ends with what it returns, so they share the tracker, the stream watcher, the finisher
and the reporter; only the readers tell them apart (``openai.api.type``)."""

from __future__ import annotations

from ..accounting.pricing import PriceBook
from ..accounting.tokens import TokenCounter
from ..background import Background
from ..config import Settings
from ..telemetry import Telemetry
from .pipeline import ChatFinisher
from .tracker import ChatTracker

__all__ = ["ChatFrontEnd"]


class ChatFrontEnd:
    """Wires the parts; the tracker is what the hooks talk to."""

    def __init__(self, settings: Settings, telemetry: Telemetry, background: Background, prices: PriceBook,
                 counter: TokenCounter) -> None:
        self.finisher = ChatFinisher(settings, background, telemetry, prices, counter)
        self.tracker = ChatTracker(settings, finish=self.finisher)
