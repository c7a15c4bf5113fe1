"""Hosted-tool money of the Responses API: containers and per-call fees, wired to the front end.

On the caller's path nothing but handing container objects (``containers.*`` calls) to the
background happens; their facts (tier, timestamps) are learnt there, not billed: a container's
first charge belongs to the tool span of the first response that uses it. When a response ends,
its finisher asks for its charges: each container its tool calls ran in (one
``containers.retrieve`` in the background for an id first seen here, for its tier and timestamps),
the fees of its searches and images, and an auto container it enabled but did not name. They
become item charges of the response's account, so they sit on the tool span that incurred them,
roll up on the response span and reach the spend counter once. Containers that end later
(deleted, or expired by the injectable clock) are settled by the deletion's background task or
the sweep, as counter increments. A deletion of a container not known yet is kept by the ledger.

The charge path goes one way: the response's records and request are read once into
``HostedFacts`` (observe), the facts are accounted (ledger, fees), and the outcomes are written to
the account and the recorder (telemetry). When the background queue is full the same path runs on
the caller's thread with ``local_only``: fees and containers an in-memory ledger already knows are
counted there; what needs a read or a remote claim waits for the sweep to hand it to the background.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Callable, Optional

from .. import semconv as sc
from ..accounting.account import ItemCharge, RunAccount
from ..accounting.container_claims import ContainerClaimStore, MemoryContainerClaims
from ..accounting.container_ledger import ContainerCharge, ContainerLedger, Outcome, UnpricedContainer
from ..accounting.containers import ContainerRules, Interpretation
from ..accounting.fees import Fee, FeeBook, FeeOutcome, input_pricer, tool_fees
from ..accounting.pricing import PriceBook
from ..background import Background
from ..config import Settings
from ..fields import get, provider_of, text
from ..frontends import Call
from ..hosted_telemetry import HostedToolsRecorder, container_attributes, fee_attributes
from ..model import Container
from .hosted_observe import HostedFacts, container_from_object, hosted_facts
from .state import ResponseState

logger = logging.getLogger(__name__)

Clock = Callable[[], float]
Retrieve = Callable[[Any, str], Any]  # (app client, container id) -> container object or None
MAX_LABELS = 10_000
_COST_KEYS = {sc.COST_CONTAINER, sc.COST_WEB_SEARCH, sc.COST_FILE_SEARCH, sc.COST_IMAGE_GENERATION,
              sc.COST_UNPRICED_REASON}


class HostedTools:
    """Containers and fees of responses; see the module docstring. Never raises into its callers."""

    def __init__(self, settings: Settings, background: Background, recorder: HostedToolsRecorder,
                 prices: PriceBook, store: Any = None, retrieve: Optional[Retrieve] = None,
                 clock: Clock = time.time) -> None:
        self.settings = settings
        self.background = background
        self.recorder = recorder
        self.prices = prices
        self.clock = clock
        self.retrieve = retrieve
        rules, self.fees = _books(settings)
        claims: ContainerClaimStore = store if hasattr(store, "claim_container") else MemoryContainerClaims()
        interpretation = Interpretation("active") if settings.container_sessions == "active" else Interpretation()
        self.ledger = ContainerLedger(rules, claims, interpretation)
        self._lock = threading.Lock()
        self._labels: OrderedDict[str, dict[str, Any]] = OrderedDict()  # container id -> its last labels
        # container charges of responses accounted on the caller's path, for the background (bounded)
        self._deferred: deque[tuple[Any, HostedFacts, dict[str, Any]]] = deque(maxlen=MAX_LABELS)

    # --- the caller's path: container calls ------------------------------------------------------

    def container_seen(self, call: Call, obj: Any) -> None:
        """A container object a ``containers.*`` call returned (deleted ones too): read off the path."""
        self.background.submit(self._container_call, call.method, call.client, obj)

    def _container_call(self, method: str, client: Any, obj: Any) -> None:
        labels = {sc.GEN_AI_PROVIDER_NAME: provider_of(client), sc.OPENAI_API_TYPE: sc.API_RESPONSES}
        if get(obj, "object") == "container.deleted" or (method == "delete" and get(obj, "deleted") is True):
            ident = text(get(obj, "id"))
            if ident:  # kept even when the container is not known yet: applied once it is
                self._record(self.ledger.deleted(ident, int(self.clock())), labels)
            return
        container = container_from_object(obj)
        if container is not None:  # its money goes on the tool span of the first response using it
            self.ledger.learn(container)
            self._labels_of(container.id, labels)

    def _record(self, outcomes: list[Outcome], labels: Mapping[str, Any]) -> None:
        for outcome in outcomes:
            self.recorder.container(outcome, self._labels_of(outcome.container_id, labels))

    # --- off the path: a finished response's charges ---------------------------------------------

    def charge(self, state: ResponseState, account: RunAccount, labels: Mapping[str, Any],
               local_only: bool = False) -> None:
        """Add the response's container, fee and assumed-container charges to its account.

        Observe, account, record: the response's facts are read once (``hosted_facts``), accounted,
        and only then written. ``local_only`` (the caller's path, the background queue full): no read
        and no remote claim; fees are counted, and so are containers already known to an in-memory
        ledger; the rest is deferred to the background, whose sweep settles it as counter increments.
        """
        try:
            facts = hosted_facts(state.response, get(state.body, "tools"), state.request.model or state.response.model)
            if facts is None:
                return
            if facts.auto_without_call:
                self.recorder.auto_container_without_call(labels)
            if local_only and not self._local(facts):
                self._defer(state.client, facts, labels)
            else:
                for call_id, outcome in self._container_outcomes(state.client, facts, labels):
                    self._add(account, call_id, outcome)
                    self.recorder.container(outcome, self._labels_of(outcome.container_id, labels), spend=False)
            prices = input_pricer(self.prices, state.provider)
            for fee in tool_fees(facts.usage, facts.model, facts.created_at, self.fees, prices):
                self._add_fee(account, facts.fee_calls.get(fee.kind, ""), fee)
        except Exception:
            logger.debug("hosted tool charges of %s failed", state.response.id, exc_info=True)

    def _container_outcomes(self, client: Any, facts: HostedFacts,
                            labels: Mapping[str, Any]) -> list[tuple[str, Outcome]]:
        """Each container's charge as the response brings it to light (one read of a container first
        seen here), and the assumed auto container when asked for."""
        found: list[tuple[str, Outcome]] = []
        for used in facts.containers:
            ident = used.update.id
            outcomes = []
            if self.ledger.known(ident) is None:
                fetched = self._fetch(client, ident)
                if fetched is not None:
                    outcomes = self.ledger.observe(fetched, fetched.last_active_at or facts.at, active=False)
            self._labels_of(ident, labels)
            found += [(used.call_id, o) for o in _merged(outcomes + self.ledger.observe(used.update, facts.at))]
        if facts.auto_without_call and self.settings.assume_auto_container:
            assumed = self.ledger.assume(facts.response_id, facts.created_at, facts.auto_memory_limit)
            if assumed is not None:
                found.append(("", assumed))
        return found

    def _local(self, facts: HostedFacts) -> bool:
        """Whether the containers' charges need neither a read nor a remote claim."""
        if not isinstance(self.ledger.store, MemoryContainerClaims):
            return not facts.containers and not (facts.auto_without_call and self.settings.assume_auto_container)
        return all(self.ledger.known(used.update.id) is not None for used in facts.containers)

    def _defer(self, client: Any, facts: HostedFacts, labels: Mapping[str, Any]) -> None:
        if facts.containers or (facts.auto_without_call and self.settings.assume_auto_container):
            self._deferred.append((client, facts, dict(labels)))

    def _settle_deferred(self, client: Any, facts: HostedFacts, labels: Mapping[str, Any]) -> None:
        """Container charges of a response accounted on the caller's path: counter increments now."""
        for _, outcome in self._container_outcomes(client, facts, labels):
            self.recorder.container(outcome, self._labels_of(outcome.container_id, labels))

    def _fetch(self, client: Any, container_id: str) -> Optional[Container]:
        """One read of a container first seen in a response (we are on a background thread)."""
        if self.retrieve is None or client is None:
            return None
        try:
            return container_from_object(self.retrieve(client, container_id))
        except Exception:
            logger.debug("container %s not retrieved", container_id, exc_info=True)
            return None

    def _add(self, account: RunAccount, call_id: str, outcome: Outcome) -> None:
        if isinstance(outcome, UnpricedContainer):
            account.charges.append(ItemCharge(call_id, sc.KIND_CONTAINER, None, outcome.reason))
            account.unpriced_reasons.append(outcome.reason)
            return
        account.charges.append(_container_charge(call_id, outcome))

    def _add_fee(self, account: RunAccount, call_id: str, fee: FeeOutcome) -> None:
        attrs = {k: v for k, v in fee_attributes(fee).items() if k not in _COST_KEYS and v is not None}
        if isinstance(fee, Fee):
            account.charges.append(ItemCharge(call_id, fee.kind, fee.usd, None, fee.effective_from, attrs))
        else:
            account.charges.append(ItemCharge(call_id, fee.kind, None, fee.reason))
            account.unpriced_reasons.append(fee.reason)

    # --- the sweep: containers that ended since ---------------------------------------------------

    def sweep(self, now: Optional[float] = None) -> None:
        """Settle containers that have ended by ``now`` (the injectable clock by default)."""
        try:
            while self._deferred and self.background.submit(self._settle_deferred, *self._deferred[0]):
                self._deferred.popleft()
            for outcome in self.ledger.sweep(int(self.clock() if now is None else now)):
                self.recorder.container(outcome, self._labels_of(outcome.container_id, {}))
        except Exception:
            logger.debug("container sweep failed", exc_info=True)

    def _labels_of(self, container_id: str, labels: Mapping[str, Any]) -> dict[str, Any]:
        """The labels of the latest response or call that used a container (kept for its settlement)."""
        with self._lock:
            if labels:
                self._labels[container_id] = dict(labels)
                self._labels.move_to_end(container_id)
                while len(self._labels) > MAX_LABELS:
                    self._labels.popitem(last=False)
            return dict(self._labels.get(container_id, {}))


def _merged(outcomes: list[Outcome]) -> list[Outcome]:
    """One charge per container and call: the money of each step summed, the latest facts kept."""
    charges = [o for o in outcomes if isinstance(o, ContainerCharge)]
    if len(charges) < 2:
        return outcomes
    first, last = charges[0], charges[-1]
    total = sum((c.usd for c in charges), Decimal(0))
    phase = "settlement" if last.phase == "settlement" else first.phase
    merged = dataclasses.replace(last, usd=total, previous_usd=first.previous_usd, phase=phase)
    return [o for o in outcomes if not isinstance(o, ContainerCharge)] + [merged]


def _books(settings: Settings) -> tuple[ContainerRules, FeeBook]:
    try:
        return ContainerRules(settings.prices), FeeBook(settings.prices)
    except (OSError, ValueError) as error:
        logger.warning("openai-assistants: hosted tool price overrides ignored: %s", error)
        return ContainerRules({}), FeeBook({})


def _container_charge(call_id: str, charge: ContainerCharge) -> ItemCharge:
    attrs = {k: v for k, v in container_attributes(charge).items() if k not in _COST_KEYS and v is not None}
    labels = {sc.CONTAINER_TIER: charge.tier, sc.CONTAINER_RULE: charge.rule}
    return ItemCharge(call_id, sc.KIND_CONTAINER, charge.usd, None, charge.effective_from, attrs, labels)
