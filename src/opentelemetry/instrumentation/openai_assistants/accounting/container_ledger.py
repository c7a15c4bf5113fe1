"""The containers this process has seen, and the charges known at each moment.

Every observation of a container (a response naming it, a ``containers.*`` call, a retrieve)
merges into what is known of it and claims what it owes so far (``containers.bill_at``) from the
claim store, so the charges come out as they become known: the first session or the minimum at
opening, later sessions or minutes on the call that incurred them, and the final settlement once,
when the container is deleted or a sweep finds it expired. Claims are keyed by container id and
idempotent: several calls, workers or a late retrieve never bill one container twice.

A deletion is a fact kept even when the container is not known here yet (the delete and the first
response naming it handled by different workers, or the container known to another process): it
is kept (bounded) and noted in the claim store, and applied when the container becomes known here,
and by the process that knows it when its sweep settles it.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Literal, Optional, Union

from .. import model
from .container_claims import ContainerClaimStore
from .containers import (
    DEFAULT_INTERPRETATION,
    ContainerBill,
    ContainerRules,
    Interpretation,
    bill_at,
    has_ended,
    minimum_bill,
)
from .pricing import Unpriced

logger = logging.getLogger(__name__)

Phase = Literal["opening", "incurred", "settlement"]
AUTO_PREFIX = "auto:"  # claim key of an assumed auto container: the response id follows


@dataclass(frozen=True)
class ContainerCharge:
    """Money a container owes that this observation brought to light, with what priced it."""

    container_id: str
    usd: Decimal  # new money: add it to the spend counter (0 when another caller billed it)
    previous_usd: Decimal  # billed for the container before, by every caller
    phase: Phase
    rule: str
    unit: str
    units: int  # units owed so far
    tier: str
    tier_inferred: bool
    observed: bool  # the life comes from the container's own timestamps
    effective_from: date
    source: str

    @property
    def total_usd(self) -> Decimal:
        return self.previous_usd + self.usd


@dataclass(frozen=True)
class UnpricedContainer:
    container_id: str
    reason: str


Outcome = Union[ContainerCharge, UnpricedContainer]


def merge(known: Optional[model.Container], update: model.Container) -> model.Container:
    """What is known of a container after ``update``: the object's own facts win, times only grow."""
    if known is None:
        return dataclasses.replace(update)
    actives = [t for t in (known.last_active_at, update.last_active_at) if t is not None]
    seen = [t for t in (known.first_seen_at, update.first_seen_at) if t is not None]
    return model.Container(
        known.id,
        memory_limit=update.memory_limit or known.memory_limit,
        created_at=update.created_at if update.created_at is not None else known.created_at,
        last_active_at=max(actives) if actives else None,
        deleted_at=update.deleted_at if update.deleted_at is not None else known.deleted_at,
        expires_after_minutes=update.expires_after_minutes if update.observed else known.expires_after_minutes,
        observed=known.observed or update.observed,
        first_seen_at=min(seen) if seen else None,
    )


class ContainerLedger:
    """Known containers (bounded, LRU) and their claims. Thread-safe; never raises."""

    def __init__(
        self,
        rules: ContainerRules,
        store: ContainerClaimStore,
        interpretation: Interpretation = DEFAULT_INTERPRETATION,
        *,
        max_containers: int = 10_000,
    ) -> None:
        self.rules = rules
        self.store = store
        self.interpretation = interpretation
        self._max = max_containers
        self._lock = threading.Lock()
        self._known: OrderedDict[str, model.Container] = OrderedDict()
        self._deletions: OrderedDict[str, int] = OrderedDict()  # deletions of containers not known here yet

    def deleted(self, container_id: str, at: int) -> list[Outcome]:
        """A deletion seen at API time ``at``: settles a known container, else is kept until it is known."""
        try:
            self._share_deletion(container_id, at)
            with self._lock:
                known = container_id in self._known
                if not known:
                    earlier = self._deletions.pop(container_id, at)
                    self._deletions[container_id] = min(earlier, at)
                    while len(self._deletions) > self._max:
                        self._deletions.popitem(last=False)
            if not known:
                return []
            return self.observe(model.Container(container_id, deleted_at=at), at, active=False)
        except Exception:
            logger.debug("deletion of container %s not kept", container_id, exc_info=True)
            return []

    def observe(self, update: model.Container, at: int, *, active: bool = True) -> list[Outcome]:
        """Merge what a call at API time ``at`` showed of a container and claim what it owes now.

        ``active``: the call used the container (a tool call, a file operation), which moves its
        ``last_active_at`` to ``at``; a mere read (retrieve, list) passes False.
        """
        try:
            activity = model.Container(update.id, last_active_at=at if active else None, first_seen_at=at)
            deletion = self._deletion_unless_known(update.id)
            with self._lock:
                container = merge(merge(merge(self._known.get(update.id), update), activity), deletion)
                self._known[update.id] = container
                self._known.move_to_end(update.id)
                while len(self._known) > self._max:
                    self._known.popitem(last=False)
            outcome = self._claim(container, at)
            if container.deleted_at is not None:
                self._forget(update.id)
            return [outcome] if outcome is not None else []
        except Exception:
            logger.debug("container %s not accounted", update.id, exc_info=True)
            return []

    def learn(self, update: model.Container) -> None:
        """Merge facts (tier, timestamps) without claiming: the money goes to the call that uses it."""
        try:
            deletion = self._deletion_unless_known(update.id)
            with self._lock:
                self._known[update.id] = merge(merge(self._known.get(update.id), update), deletion)
                self._known.move_to_end(update.id)
                while len(self._known) > self._max:
                    self._known.popitem(last=False)
        except Exception:
            logger.debug("container %s not learned", update.id, exc_info=True)

    def sweep(self, now: int) -> list[Outcome]:
        """Settle every known container that has ended by ``now`` (an API timestamp) and forget it."""
        with self._lock:
            ended = [c for c in self._known.values() if has_ended(c, now)]
        outcomes = []
        for container in ended:
            try:
                if container.deleted_at is None:  # deleted elsewhere before its expiry?
                    container = merge(container, self._shared_deletion(container.id))
                outcome = self._claim(container, now)
            except Exception:
                logger.debug("container %s not settled", container.id, exc_info=True)
                continue
            self._forget(container.id)
            if outcome is not None:
                outcomes.append(outcome)
        return outcomes

    def assume(self, response_id: str, at: int, tier: Optional[str] = None) -> Optional[Outcome]:
        """Charge the minimum for an auto container a response implies but does not name (inferred)."""
        key = AUTO_PREFIX + response_id
        try:
            bill = minimum_bill(key, at, self.rules, tier)
            if isinstance(bill, Unpriced):
                return UnpricedContainer(key, bill.reason)
            claim = self.store.claim_container(key, bill.usd, True)
            return self._charge(bill, claim.usd, claim.previous_usd, "settlement" if claim.settled_now else "incurred")
        except Exception:
            logger.debug("assumed container of %s not accounted", response_id, exc_info=True)
            return None

    def known(self, container_id: str) -> Optional[model.Container]:
        with self._lock:
            return self._known.get(container_id)

    def _deletion_unless_known(self, container_id: str) -> model.Container:
        """A container first known here: the deletion seen of it before (here, or in the claim store)."""
        with self._lock:
            if container_id in self._known:
                return model.Container(container_id)
            at: Optional[int] = self._deletions.pop(container_id, None)
        if at is None:
            return self._shared_deletion(container_id)
        return model.Container(container_id, deleted_at=at)

    def _shared_deletion(self, container_id: str) -> model.Container:
        lookup = getattr(self.store, "deletion_of", None)
        at = lookup(container_id) if callable(lookup) else None
        return model.Container(container_id, deleted_at=at if isinstance(at, int) else None)

    def _share_deletion(self, container_id: str, at: int) -> None:
        note = getattr(self.store, "note_deletion", None)
        if callable(note):
            note(container_id, at)

    def _forget(self, container_id: str) -> None:
        with self._lock:
            self._known.pop(container_id, None)

    def _claim(self, container: model.Container, now: int) -> Optional[Outcome]:
        bill = bill_at(container, now, self.rules, self.interpretation)
        if isinstance(bill, Unpriced):
            return UnpricedContainer(container.id, bill.reason)
        claim = self.store.claim_container(container.id, bill.usd, bill.ended)
        if bill.ended and not claim.settled_now and not claim.usd:
            return None  # settled before, by this or another process: nothing new
        phase: Phase = "settlement" if claim.settled_now else "opening" if not claim.previous_usd else "incurred"
        return self._charge(bill, claim.usd, claim.previous_usd, phase)

    @staticmethod
    def _charge(bill: ContainerBill, usd: Decimal, previous: Decimal, phase: Phase) -> ContainerCharge:
        return ContainerCharge(
            bill.container_id,
            usd,
            previous,
            phase,
            bill.rule.rule,
            bill.rule.unit,
            bill.units,
            bill.tier,
            bill.tier_inferred,
            bill.observed and not bill.container_id.startswith(AUTO_PREFIX),
            bill.rule.effective_from,
            bill.rule.source,
        )
