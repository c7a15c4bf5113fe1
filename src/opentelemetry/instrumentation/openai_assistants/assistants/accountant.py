"""Glue between a finished run and the accounting core: gathers what the core needs (the thread's
history, read incrementally through the SDK, only when an estimate needs it) and calls it."""

from __future__ import annotations

import logging
import random
import time
from typing import Callable, Optional

from ..accounting.account import RunAccount, account_run
from ..accounting.estimator import BaseLearner
from ..accounting.history import ThreadHistory
from ..accounting.pricing import PriceBook
from ..accounting.sessions import MemorySessionStore, RedisSessionStore, SessionDecision, SessionStore
from ..accounting.tokens import TokenCounter
from ..config import Settings
from ..forking import in_child_after_fork, renew_locks
from ..model import Message, Step
from .fetch import Fetcher
from .state import RunState

logger = logging.getLogger(__name__)


class HistoryUnavailable(Exception):
    """The thread's earlier messages could not be read: the estimate is partial."""


class Accountant:
    def __init__(self, settings: Settings, prices: Optional[PriceBook] = None,
                 on_session_eviction: Optional[Callable[[], None]] = None) -> None:
        self._settings = settings
        self.prices = prices or price_book(settings)
        self.sessions = _session_store(settings, on_session_eviction)
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


def _session_store(settings: Settings, on_eviction: Optional[Callable[[], None]] = None) -> SessionStore:
    """The configured store: an object with ``claim``, or a name (``memory``, ``redis``) as the
    environment spells it; anything else is ignored for the in-memory default."""
    chosen = settings.session_store
    if chosen is not None and not isinstance(chosen, str):
        if callable(getattr(chosen, "claim", None)):
            return chosen  # type: ignore[no-any-return]
        logger.debug("openai-assistants: session_store %r has no claim(), using memory", type(chosen).__name__)
    name = chosen.strip().lower() if isinstance(chosen, str) else ""
    if name not in ("", "memory", "redis"):
        logger.debug("openai-assistants: unknown session_store %r, using memory", chosen)
    window = int(settings.session_window_s)
    idle = int(settings.session_idle_s) if settings.session_idle_s else None
    if settings.redis_url or name == "redis":
        try:
            return RedisSessionStore(url=settings.redis_url, window_s=window, idle_s=idle,
                                     connect_timeout_s=settings.redis_connect_timeout_s,
                                     timeout_s=settings.redis_timeout_s)
        except Exception as error:
            logger.warning("openai-assistants: Redis session store unavailable, using memory: %s", error)
    return MemorySessionStore(window_s=window, idle_s=idle, lateness_s=int(settings.session_lateness_s),
                              max_threads=settings.session_max_threads, on_live_eviction=on_eviction)
