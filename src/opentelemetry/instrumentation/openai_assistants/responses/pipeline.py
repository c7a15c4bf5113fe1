"""What happens to a response once it has ended: off the caller's path, its usage (reported, else
estimated from what was observed), its account, its links and its records, handed to telemetry.

With ``trace_observed_runs`` every response is claimed once in the session store before it counts:
one already billed, by this process or by another sharing the store, is not billed (nor traced)
again, whatever the bounded list of ended ids remembers.
"""

from __future__ import annotations

import logging
from typing import Any, Optional

from .. import semconv as sc
from ..accounting.account import RunAccount
from ..accounting.container_claims import MemoryContainerClaims
from ..accounting.inference import account_inference
from ..accounting.pricing import PriceBook
from ..accounting.terms import response_terms
from ..accounting.tokens import TokenCounter
from ..background import Background
from ..config import Settings
from ..links import WAIT_S, CallLinks
from ..model import Usage
from ..telemetry import Telemetry
from . import observe
from .hosted import HostedTools
from .report import ResponseReporter
from .state import ResponseState

logger = logging.getLogger(__name__)


class ResponseFinisher:
    def __init__(self, settings: Settings, background: Background, telemetry: Telemetry, prices: PriceBook,
                 counter: TokenCounter, hosted: Optional[HostedTools] = None, claims: Any = None) -> None:
        self._settings = settings
        self._hosted = hosted
        self._claims = claims
        self._background = background
        self._telemetry = telemetry
        self._prices = prices
        self._counter = counter
        self._report = ResponseReporter(settings)
        self.links = CallLinks()

    def __call__(self, state: ResponseState) -> None:
        calls = state.function_calls()
        if self._settings.responses_spans:
            self.links.expect(calls)
        if not self._background.submit(self._complete, state):
            self._telemetry.fetch_outcome("response", "dropped")
            observe.read_returned(state)
            if isinstance(self._claims, MemoryContainerClaims) and not self._claimed(state):
                self.links.abandon(calls)  # in-memory claim: no read; a remote one is not asked here
                return
            self._emit(state, self._account(state, estimate=False), wait=False)

    def _claimed(self, state: ResponseState) -> bool:
        """Whether this response is ours to count: always, unless ``trace_observed_runs`` (then its first
        claim in the store wins). A store that fails leaves it counted: money is never dropped on a guess."""
        claim = getattr(self._claims, "claim_response", None)
        if not self._settings.trace_observed_runs or not state.response.id or not callable(claim):
            return True
        try:
            return bool(claim(state.response.id))
        except Exception:
            logger.debug("openai-assistants: claim of response %s failed", state.response.id, exc_info=True)
            return True

    def _complete(self, state: ResponseState) -> None:
        observe.read_returned(state)
        if not self._claimed(state):  # billed and traced already, here or elsewhere
            self.links.abandon(state.function_calls())
            return
        account = None
        try:
            account = self._account(state, estimate=True)
        except Exception:
            logger.debug("openai-assistants: accounting for response %s failed", state.response.id, exc_info=True)
        self._emit(state, account)

    def _account(self, state: ResponseState, estimate: bool) -> Optional[RunAccount]:
        response, request = state.response, state.request
        if state.end_reason == "request_failed":
            return None  # refused: nothing billed
        usage = response.usage or (self.estimate(state) if estimate else None)
        terms = response_terms(request, response, state.server_address, self._prices.regional_hosts,
                               self._settings.regional_processing)
        model = request.model or response.model
        account = account_inference(response.id, model, usage, prices=self._prices,
                                    created_at=response.created_at, provider=state.provider, terms=terms,
                                    conversation_id=request.conversation_id or response.conversation_id or "")
        if self._hosted is not None:  # on the caller's path (no estimate): from memory only, no reads
            labels = {sc.GEN_AI_PROVIDER_NAME: state.provider, sc.GEN_AI_REQUEST_MODEL: model,
                      sc.OPENAI_API_TYPE: sc.API_RESPONSES}
            self._hosted.charge(state, account, {k: v for k, v in labels.items() if v}, local_only=not estimate)
        return account

    def estimate(self, state: ResponseState) -> Usage:
        """Tokens of what was observed: the request's instructions and input, the output so far.

        Earlier turns of a conversation or ``previous_response_id`` chain are not counted: ``partial``.
        """
        response, request = state.response, state.request
        model = request.model or response.model
        encoder = self._counter.encoder(model)
        streamed = "".join(state.streamed_text)
        written = response.output_text + "".join(c.arguments or "" for c in response.tool_calls)
        tokens_in = encoder.count(observe.input_text(state.body) or response.instructions or "")
        tokens_out = encoder.count(written if len(written) >= len(streamed) else streamed)
        earlier = bool(request.conversation_id or request.previous_response_id or response.conversation_id)
        return Usage(max(tokens_in, 1), tokens_out, "estimated", partial=earlier or not state.body,
                     degraded=encoder.degraded)

    def _emit(self, state: ResponseState, account: Optional[RunAccount], wait: bool = True) -> None:
        """``wait``: a link to a function call whose span is on its way may be waited for (background
        only: the caller's thread never waits)."""
        calls = state.function_calls()
        try:
            links = [self.links.get(call_id, WAIT_S if wait else 0.0) for call_id in state.request.tool_outputs]
            written = self._telemetry.invocation_ended(self._report.response(state, links), account)
            self.links.written(written)
        except Exception:
            logger.debug("openai-assistants: emitting response %s failed", state.response.id, exc_info=True)
        finally:
            self.links.abandon(calls)
