"""What happens to a call once it has ended: its usage (reported, else estimated with tiktoken off the
caller's path, marked), its account (tokens, audio parts, a search model's call fee), its links and
its records, handed to telemetry. When another instrumentation's span is still open around the call
and the usage was reported, the account is made at once (a few multiplications) so that span gets
our cost attributes before it ends."""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Optional

from .. import semconv as sc
from ..accounting.account import RunAccount
from ..accounting.chat_fees import KIND_WEB_SEARCH, search_fee
from ..accounting.inference import account_inference
from ..accounting.pricing import PriceBook, Unpriced
from ..accounting.tokens import TokenCounter
from ..background import Background
from ..config import Settings
from ..links import CallLinks
from ..model import PriceTerms, Usage
from ..telemetry import Telemetry
from . import coexist, observe
from .report import ChatReporter
from .state import CallState

logger = logging.getLogger(__name__)

MESSAGE_OVERHEAD = 3  # tokens each chat message adds around its content (and 3 to prime the reply)


class ChatFinisher:
    def __init__(self, settings: Settings, background: Background, telemetry: Telemetry, prices: PriceBook,
                 counter: TokenCounter) -> None:
        self._settings = settings
        self._background = background
        self._telemetry = telemetry
        self._prices = prices
        self._counter = counter
        self._report = ChatReporter(settings)
        self.links = CallLinks()

    def __call__(self, state: CallState) -> None:
        if self._report.makes_spans(state):
            self.links.expect(state.call_ids())
        if state.completion is not None and state.completion.usage is not None and coexist.still_open(
                state.foreign_span):
            try:  # reported usage: priced now, while the other instrumentation's span is open
                state.account = self._account(state, estimate=False)
                self._telemetry.annotate(state.foreign_span, state.account)
            except Exception:
                logger.debug("openai-assistants: annotating another span failed", exc_info=True)
        if not self._background.submit(self._complete, state):
            self._telemetry.fetch_outcome(state.kind, "dropped")
            observe.read_unread(state)
            self._emit(state, state.account or self._account(state, estimate=False))

    def _complete(self, state: CallState) -> None:
        observe.read_unread(state)
        account = state.account
        try:
            account = account or self._account(state, estimate=True)
        except Exception:
            logger.debug("openai-assistants: accounting for a %s call failed", state.kind, exc_info=True)
        self._emit(state, account)

    def _account(self, state: CallState, estimate: bool) -> Optional[RunAccount]:
        if state.end_reason == "request_failed" or state.kind == sc.API_MODERATIONS:
            return None  # refused: nothing billed; moderations: free (counted, no money)
        completion = state.completion
        usage = completion.usage if completion is not None else None
        usage = usage or (self.estimate(state) if estimate else None)
        model = state.request.model or (completion.model if completion is not None else None)
        created = completion.created_at if completion is not None else None
        terms = PriceTerms(service_tier=completion.service_tier if completion is not None else None)
        account = account_inference(completion.id if completion is not None else "", model, usage,
                                    prices=self._prices, created_at=created, provider=state.provider, terms=terms)
        if account.run_leaf is not None:
            self._search_fee(account, model, created)
        return account

    @staticmethod
    def _search_fee(account: RunAccount, model: Optional[str], created: Optional[int]) -> None:
        """A search model's request is one billed search call, beside its tokens."""
        fee = search_fee(model, created)
        if fee is None or account.run_leaf is None:
            return
        if isinstance(fee, Unpriced):
            account.unpriced_reasons.append(fee.reason)
            return
        account.run_leaf.parts_usd[KIND_WEB_SEARCH] = fee.usd_per_call
        account.cost_usd[KIND_WEB_SEARCH] = account.cost_usd.get(KIND_WEB_SEARCH, Decimal(0)) + fee.usd_per_call

    def estimate(self, state: CallState) -> Usage:
        """Tokens of what was observed: the request's messages or input, the output streamed or returned."""
        completion = state.completion
        model = state.request.model or (completion.model if completion is not None else None)
        encoder = self._counter.encoder(model)
        texts, uncounted = observe.input_texts(state.kind, state.body)
        tokens_in = sum(encoder.count(t) for t in texts)
        if state.kind == sc.API_CHAT_COMPLETIONS:
            tokens_in += MESSAGE_OVERHEAD * (len(texts) + 1)
        written = "".join(state.streamed_text)
        if completion is not None:
            returned = completion.output_text + "".join(c.arguments or "" for c in completion.tool_calls)
            written = returned if len(returned) >= len(written) else written
        return Usage(max(tokens_in, 1), encoder.count(written) if written else 0, "estimated",
                     partial=uncounted or not state.body, degraded=encoder.degraded)

    def _emit(self, state: CallState, account: Optional[RunAccount]) -> None:
        calls = state.call_ids()
        try:
            links = [self.links.get(call_id) for call_id in state.request.tool_outputs]
            written = self._telemetry.invocation_ended(self._report.invocation(state, links), account)
            self.links.written(written)
        except Exception:
            logger.debug("openai-assistants: emitting a %s call failed", state.kind, exc_info=True)
        finally:
            self.links.abandon(calls)
