"""What happens to a run once it has ended: enrich it off the caller's path, account for it, emit it.

Enrichment refines a run's figures; it never decides whether its money counts. A run the background
queue has no room for is still accounted, from what is in memory (its reported usage), on a cheap
path with no reads; a run about to end unseen is read once so it ends with what the API says.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Optional, Protocol

from ..background import Background
from ..config import Settings
from ..forking import in_child_after_fork, renew_locks
from ..telemetry import Telemetry
from . import observe
from .fetch import Fetcher
from .report import RunReporter
from .state import RunState
from .tracker import BoundedDict, ended_at

logger = logging.getLogger(__name__)



class Accountant(Protocol):
    def __call__(self, state: RunState, fetcher: Optional[Fetcher], deadline: float, cheap: bool = False) -> Any:
        """The run's account or None; ``cheap``: reported figures only, no reads, no tokenizer."""


class RunFinisher:
    def __init__(self, settings: Settings, background: Background, fetcher: Fetcher, telemetry: Telemetry,
                 assistants: BoundedDict, accountant: Optional[Accountant]) -> None:
        self._settings = settings
        self._background = background
        self._fetcher = fetcher
        self._telemetry = telemetry
        self._assistants = assistants
        self._accountant = accountant
        in_child_after_fork(fetcher, renew_locks)
        self._report = RunReporter(settings)

    def __call__(self, state: RunState) -> None:
        # a thread's runs are accounted in the order they ended (which run opened a session)
        if not self._background.submit(self._complete, state, key=state.run.thread_id or None):
            self._telemetry.fetch_outcome("run", "dropped")
            observe.read_deferred(state)
            state.accounted = "queue_full"
            self._emit(state, self._cheap_account(state))

    def _cheap_account(self, state: RunState) -> Any:
        if self._accountant is None:
            return None
        try:
            return self._accountant(state, None, 0.0, cheap=True)
        except Exception:
            logger.debug("openai-assistants: accounting run %s failed", state.run.id, exc_info=True)
            return None

    def _complete(self, state: RunState) -> None:
        deadline = time.monotonic() + self._settings.enrichment_timeout_s
        observe.read_deferred(state)
        account = None
        try:
            if state.end_reason == "unobserved":
                self._read_unobserved(state)
            self._enrich(state, deadline)
        except Exception:  # enrichment refines figures; its failure must not lose them
            logger.debug("openai-assistants: enriching run %s failed", state.run.id, exc_info=True)
        try:
            if self._accountant is not None:
                account = self._accountant(state, self._fetcher, deadline)
        except Exception:
            logger.debug("openai-assistants: accounting run %s failed", state.run.id, exc_info=True)
            account = self._cheap_account(state)
        self._emit(state, account)

    def _enrich(self, state: RunState, deadline: float) -> None:
        run = state.run
        if not run.id or state.end_reason == "request_failed":
            return
        if self._settings.fetch_steps and state.steps_wanted() and time.monotonic() < deadline:
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

    def _read_unobserved(self, state: RunState) -> None:
        """A run never seen to finish here (maybe polled to its end by another process): read it once
        and, when the API says it ended, end it as observed at the API's end time."""
        run = self._fetcher.run(state.client, state.run.thread_id, state.run.id)
        if run is None:
            return
        state.run = run
        if run.terminal:
            state.end_reason = "observed"
            end_s = ended_at(run)
            if end_s:
                state.ended_ns = max(state.started_ns, int(end_s * 1e9))

    def _needs_messages(self, state: RunState) -> bool:
        """The run's messages are read only when content is captured or their tokens must be estimated
        (also a finished run with neither steps nor reported usage: its answer is estimated)."""
        if not state.steps:
            return state.run.usage is None and state.run.terminal
        wanted = [s.step.message_id for s in state.steps.values() if s.step.message_id]
        if not any(m not in state.messages for m in wanted):
            return False
        return self._settings.capture_content or any(s.step.usage is None for s in state.steps.values())

    def _emit(self, state: RunState, account: Any) -> None:
        try:
            self._telemetry.invocation_ended(self._report.run(state), account)
        except Exception:
            logger.debug("openai-assistants: emitting run %s failed", state.run.id, exc_info=True)
