"""The Assistants API front end: readers of its objects, the run tracker, the stream watcher, the
background reads of steps, messages and assistants, and the finisher that accounts for a run and
hands its records to telemetry."""

from __future__ import annotations

from typing import Optional

from ..accounting.pricing import PriceBook
from ..accounting.sessions import SessionStore
from ..background import Background
from ..config import Settings
from ..ended import EndedIds
from ..frontends import Call
from ..model import Assistant
from ..telemetry import Telemetry
from .accountant import Accountant
from .fetch import Fetcher
from .pipeline import RunFinisher
from .report import RunReporter
from .tracker import RunTracker

__all__ = ["AssistantsFrontEnd"]


class AssistantsFrontEnd:
    """Wires the parts; the tracker is what the hooks talk to."""

    def __init__(self, settings: Settings, telemetry: Telemetry, background: Background,
                 prices: Optional[PriceBook] = None, ended: Optional[EndedIds] = None,
                 sessions: Optional[SessionStore] = None) -> None:
        accountant = Accountant(settings, prices, sessions)
        reporter = RunReporter(settings)
        self.fetcher = Fetcher(settings.fetch_timeout_s, telemetry.fetch_outcome)

        def assistant_call(call: Call, assistant: Optional[Assistant], error: Optional[BaseException]) -> None:
            telemetry.invocation_ended(reporter.assistant_created(call, assistant, error), None)

        self.tracker = RunTracker(settings, finish=lambda state: finisher(state), on_assistant_call=assistant_call,
                                  on_message=accountant.remember, ended=ended)
        finisher = RunFinisher(settings, background, self.fetcher, telemetry, self.tracker.assistants, accountant)
        self.tracker.on_track = background.ensure_ticking
