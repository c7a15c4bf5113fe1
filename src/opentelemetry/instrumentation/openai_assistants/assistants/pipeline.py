"""What happens to a run once it has ended: enrich it off the caller's path, account for it, emit it."""

from __future__ import annotations

import logging
import time
from typing import Any, Callable, Optional

from ..background import Background
from ..config import Settings
from ..telemetry import Telemetry
from .fetch import Fetcher
from .report import RunReporter
from .state import RunState
from .tracker import BoundedDict

logger = logging.getLogger(__name__)

Accountant = Callable[[RunState, Fetcher, float], Any]  # (state, fetcher, deadline) -> account or None


class RunFinisher:
    def __init__(self, settings: Settings, background: Background, fetcher: Fetcher, telemetry: Telemetry,
                 assistants: BoundedDict, accountant: Optional[Accountant]) -> None:
        self._settings = settings
        self._background = background
        self._fetcher = fetcher
        self._telemetry = telemetry
        self._assistants = assistants
        self._accountant = accountant
        self._report = RunReporter(settings)

    def __call__(self, state: RunState) -> None:
        if not self._background.submit(self._complete, state):
            self._telemetry.fetch_outcome("run", "dropped")
            self._emit(state, None)

    def _complete(self, state: RunState) -> None:
        deadline = time.monotonic() + self._settings.enrichment_timeout_s
        account = None
        try:
            self._enrich(state, deadline)
            if self._accountant is not None:
                account = self._accountant(state, self._fetcher, deadline)
        except Exception:
            logger.debug("openai-assistants: enriching run %s failed", state.run.id, exc_info=True)
        self._emit(state, account)

    def _enrich(self, state: RunState, deadline: float) -> None:
        run = state.run
        if not run.id or state.end_reason == "request_failed":
            return
        if self._settings.fetch_steps and not state.streamed_steps and time.monotonic() < deadline:
            for step in self._fetcher.steps(state.client, run.thread_id, run.id) or ():
                state.step(step)
        if self._needs_messages(state) and time.monotonic() < deadline:
            found = self._fetcher.messages(state.client, run.thread_id, None, 100, run_id=run.id)
            for message in found[0] if found else ():
                state.messages.setdefault(message.id, message)
        if state.assistant_name is None and run.assistant_id:
            assistant = self._assistants.get(run.assistant_id)
            if assistant is None and time.monotonic() < deadline:
                assistant = self._fetcher.assistant(state.client, run.assistant_id)
                if assistant is not None:
                    self._assistants.put(assistant.id, assistant)
            state.assistant_name = assistant.name if assistant else None

    def _needs_messages(self, state: RunState) -> bool:
        """The run's messages are read only when content is captured or their tokens must be estimated."""
        wanted = [s.step.message_id for s in state.steps.values() if s.step.message_id]
        if not any(m not in state.messages for m in wanted):
            return False
        return self._settings.capture_content or any(s.step.usage is None for s in state.steps.values())

    def _emit(self, state: RunState, account: Any) -> None:
        try:
            self._telemetry.invocation_ended(self._report.run(state), account)
        except Exception:
            logger.debug("openai-assistants: emitting run %s failed", state.run.id, exc_info=True)
