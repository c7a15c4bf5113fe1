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
the sweep, as counter increments.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections import OrderedDict
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
from ..model import Container, ToolCall, ToolUsage
from .hosted_observe import container_from_object, request_tools
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

    def charge(self, state: ResponseState, account: RunAccount, labels: Mapping[str, Any]) -> None:
        """Add the response's container, fee and assumed-container charges to its account."""
        try:
            response = state.response
            at = response.completed_at or response.created_at
            if at is None:
                return
            tools = request_tools(get(state.body, "tools"))
            self._containers(state, account, labels, tools.auto_memory_limit, tools.explicit_containers, at)
            named = any(c.container_id for c in response.tool_calls)
            if tools.auto_container and not named and response.terminal:
                self.recorder.auto_container_without_call(labels)
                if self.settings.assume_auto_container:
                    assumed = self.ledger.assume(response.id, response.created_at or at, tools.auto_memory_limit)
                    if assumed is not None:
                        self._add(account, "", assumed)
                        self.recorder.container(assumed, labels, spend=False)
            usage = _usage(response.tool_calls, response.tool_usage, tools.web_search_tool, tools.image_model)
            model = state.request.model or response.model
            created = response.created_at or at
            for fee in tool_fees(usage, model, created, self.fees, input_pricer(self.prices, state.provider)):
                self._add_fee(account, response.tool_calls, fee)
        except Exception:
            logger.debug("hosted tool charges of %s failed", state.response.id, exc_info=True)

    def _containers(self, state: ResponseState, account: RunAccount, labels: Mapping[str, Any],
                    auto_limit: Optional[str], explicit: tuple[str, ...], at: int) -> None:
        seen: set[str] = set()
        for call in state.response.tool_calls:
            ident = call.container_id
            if not ident or ident in seen:
                continue
            seen.add(ident)
            update = Container(ident, memory_limit=None if ident in explicit else auto_limit,
                               first_seen_at=state.response.created_at or at)
            outcomes = []
            if self.ledger.known(ident) is None:
                fetched = self._fetch(state.client, ident)
                if fetched is not None:
                    outcomes = self.ledger.observe(fetched, fetched.last_active_at or at, active=False)
            for outcome in _merged(outcomes + self.ledger.observe(update, at)):
                self._add(account, call.id, outcome)
                self.recorder.container(outcome, self._labels_of(ident, labels), spend=False)

    def _fetch(self, client: Any, container_id: str) -> Optional[Container]:
        """One retrieve of a container first seen in a response (we are on a background thread)."""
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

    def _add_fee(self, account: RunAccount, calls: list[ToolCall], fee: FeeOutcome) -> None:
        call_id = _fee_call(calls, fee.kind)
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


def _usage(calls: list[ToolCall], reported: Optional[ToolUsage], search_tool: Optional[str],
           image_model: Optional[str]) -> ToolUsage:
    usage = ToolUsage(web_search_requests=reported.web_search_requests if reported else None,
                      web_search_tool=search_tool or "web_search",
                      image_gen=reported.image_gen if reported else None, image_model=image_model)
    for call in calls:
        if call.type == "web_search":
            action = call.action or "unknown"
            usage.web_search_actions[action] = usage.web_search_actions.get(action, 0) + 1
        elif call.type == "file_search":
            usage.file_search_calls += 1
        else:
            kind = call.type if call.type == "mcp_list_tools" else f"{call.type}_call"  # the item type
            usage.other_calls[kind] = usage.other_calls.get(kind, 0) + 1
    return usage


def _fee_call(calls: list[ToolCall], kind: str) -> str:
    """The tool call whose span carries a fee: the first of its kind (a search action first)."""
    tool = {"image_generation": "image_generation"}.get(kind, kind)
    matching = [c for c in calls if c.type == tool]
    searches = [c for c in matching if c.action == "search"]
    chosen = searches or matching
    return chosen[0].id if chosen else ""
