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
from ..accounting.sessions import MemorySessionStore, RedisSessionStore, SessionStore
from ..accounting.tokens import TokenCounter
from ..config import Settings
from ..model import Message
from .fetch import Fetcher
from .state import RunState

logger = logging.getLogger(__name__)


class HistoryUnavailable(Exception):
    """The thread's earlier messages could not be read: the estimate is partial."""


class Accountant:
    def __init__(self, settings: Settings, prices: Optional[PriceBook] = None) -> None:
        self._settings = settings
        self.prices = prices or price_book(settings)
        self.sessions = _session_store(settings)
        self.history = ThreadHistory()
        self.counter = TokenCounter()
        self.learner = BaseLearner()

    def remember(self, message: Message) -> None:
        """A message the app created or read: the history needs no fetch for it."""
        self.history.remember((message,))

    def __call__(self, state: RunState, fetcher: Fetcher, deadline: float) -> Optional[RunAccount]:
        run = state.run
        if not run.id:
            return None
        steps = [s.step for s in state.ordered_steps()]
        compare = self._settings.estimate_sample_rate > 0 and random.random() < self._settings.estimate_sample_rate
        history: list[Message] = []
        missing_history = False
        if steps and (compare or any(s.usage is None for s in steps)):
            try:
                history = self._history(state, fetcher, deadline)
            except HistoryUnavailable:
                missing_history = True
        account = account_run(
            run, steps, prices=self.prices, sessions=self.sessions, messages=state.messages, history=history,
            request=state.request, counter=self.counter, overheads=self._settings.overheads,
            learner=self.learner, message_tokens=self.history.message_tokens, provider=state.provider,
            compare_estimates=compare,
        )
        if missing_history and account.usage_source != "reported":
            account.partial = True
        return account

    def _history(self, state: RunState, fetcher: Fetcher, deadline: float) -> list[Message]:
        def pager(thread_id: str, after: Optional[str], limit: int) -> tuple[list[Message], bool]:
            if time.monotonic() > deadline:
                raise HistoryUnavailable("enrichment deadline passed")
            page = fetcher.messages(state.client, thread_id, after, limit)
            if page is None:
                raise HistoryUnavailable("messages could not be read")
            return page

        run = state.run
        return self.history.messages_before(run.thread_id, pager, until=run.created_at, exclude_run_id=run.id)


def price_book(settings: Settings) -> PriceBook:
    try:
        return PriceBook(settings.prices, settings.deployments)
    except (OSError, ValueError) as error:
        # The app must not fail because of a telemetry setting: say so once, use the shipped prices.
        logger.warning("openai-assistants: price overrides ignored: %s", error)
        return PriceBook({}, settings.deployments)


def _session_store(settings: Settings) -> SessionStore:
    if settings.session_store is not None:
        return settings.session_store  # type: ignore[no-any-return]
    window = int(settings.session_window_s)
    idle = int(settings.session_idle_s) if settings.session_idle_s else None
    if settings.redis_url:
        try:
            return RedisSessionStore(url=settings.redis_url, window_s=window, idle_s=idle)
        except Exception as error:
            logger.warning("openai-assistants: Redis session store unavailable, using memory: %s", error)
    return MemorySessionStore(window_s=window, idle_s=idle)
