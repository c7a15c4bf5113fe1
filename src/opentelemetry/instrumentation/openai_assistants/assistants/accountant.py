"""Glue between a finished run and the accounting core: gathers what the core needs (the thread's
history, read incrementally through the SDK, only when an estimate needs it) and calls it."""

from __future__ import annotations

import logging
import random
import time
from typing import Optional

from ..accounting.account import RunAccount, account_run
from ..accounting.estimator import BaseLearner
from ..accounting.history import ThreadHistory
from ..accounting.pricing import PriceBook
from ..accounting.sessions import MemorySessionStore, SessionDecision, SessionStore
from ..accounting.tokens import TokenCounter
from ..config import Settings
from ..forking import in_child_after_fork, renew_locks
from ..model import Message, Step
from ..stores import session_store
from .fetch import Fetcher
from .state import RunState

logger = logging.getLogger(__name__)


class HistoryUnavailable(Exception):
    """The thread's earlier messages could not be read: the estimate is partial."""


class Accountant:
    def __init__(self, settings: Settings, prices: Optional[PriceBook] = None,
                 sessions: Optional[SessionStore] = None) -> None:
        self._settings = settings
        self.prices = prices or price_book(settings)
        self.sessions = sessions if sessions is not None else session_store(settings)
        self.history = ThreadHistory(max_bytes=settings.history_max_bytes)
        self.counter = TokenCounter()
        self.learner = BaseLearner()
        in_child_after_fork(self, renew_locks)  # a background thread may have held one at fork

    def remember(self, message: Message) -> None:
        """A message the app created or read: the history needs no fetch for it."""
        self.history.remember((message,))

    def __call__(self, state: RunState, fetcher: Optional[Fetcher], deadline: float,
                 cheap: bool = False) -> Optional[RunAccount]:
        run = state.run
        self.history.drain()  # texts the app read since the last run leave memory here
        if not run.id:
            return None
        steps = [s.step for s in state.ordered_steps()]
        if cheap or fetcher is None:
            return self._cheap(state, steps)
        compare = self._settings.estimate_sample_rate > 0 and random.random() < self._settings.estimate_sample_rate
        history: list[Message] = []
        missing_history = False
        unseen = not steps and run.usage is None and run.terminal and (  # estimated whole, from the thread
            run.status in ("completed", "incomplete") or bool(state.submitted_ns or state.messages))
        if unseen or (steps and (compare or any(s.usage is None for s in steps))):
            try:
                history = self._history(state, fetcher, deadline)
            except HistoryUnavailable:
                missing_history = True
        account = account_run(
            run, steps, prices=self.prices, sessions=self.sessions, messages=state.messages, history=history,
            request=state.request, counter=self.counter, overheads=self._settings.overheads,
            learner=self.learner, message_tokens=self.history.message_tokens, provider=state.provider,
            compare_estimates=compare, submitted_outputs=self._submitted(state),
        )
        if missing_history and account.usage_source != "reported":
            account.partial = True
        return account

    def _cheap(self, state: RunState, steps: list[Step]) -> RunAccount:
        """Reported figures only, with no read, tokenizer or remote session claim: fit for the caller's path."""
        run = state.run
        local = isinstance(self.sessions, MemorySessionStore)
        account = account_run(run, steps, prices=self.prices, sessions=self.sessions if local else _NotChecked(),
                              messages=state.messages, counter=self.counter, provider=state.provider,
                              estimate=False)
        if run.usage is None and ((run.terminal and not steps) or any(s.usage is None for s in steps)):
            account.partial = True
            account.unpriced_reasons.append("not estimated: background queue full")
        return account

    @staticmethod
    def _submitted(state: RunState) -> dict[str, Optional[str]]:
        """Function outputs submitted to the run, in order (their text when it was kept)."""
        order = sorted(state.submitted_ns, key=lambda call_id: state.submitted_ns[call_id])
        return {call_id: state.submitted_outputs.get(call_id) for call_id in order}

    def _history(self, state: RunState, fetcher: Fetcher, deadline: float) -> list[Message]:
        def pager(thread_id: str, after: Optional[str], limit: int) -> tuple[list[Message], bool]:
            if time.monotonic() > deadline:
                raise HistoryUnavailable("enrichment deadline passed")
            page = fetcher.messages(state.client, thread_id, after, limit)
            if page is None:
                raise HistoryUnavailable("messages could not be read")
            return page

        run = state.run
        encoder = self.counter.encoder(self.prices.resolve_model(run.model))
        return self.history.messages_before(run.thread_id, pager, until=run.created_at, exclude_run_id=run.id,
                                            encoder=encoder)


class _NotChecked:
    """A session store for the cheap path: a remote store is not asked on the caller's path."""

    def claim(self, thread_id: str, call_id: str, call_ts: int) -> SessionDecision:
        raise SessionsNotChecked("background queue full")


class SessionsNotChecked(Exception):
    pass


def price_book(settings: Settings) -> PriceBook:
    try:
        return PriceBook(settings.prices, settings.deployments)
    except (OSError, ValueError) as error:
        # The app must not fail because of a telemetry setting: say so once, use the shipped prices.
        logger.warning("openai-assistants: price overrides ignored: %s", error)
        return PriceBook({}, settings.deployments)
