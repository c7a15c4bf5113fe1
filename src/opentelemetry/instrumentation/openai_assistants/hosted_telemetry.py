"""Hosted-tool money as telemetry: container charges and per-call fees on the tool span that
incurred them, summed on the response span, and counted in the spend counter under their kind.

Fed by the accounting core (``accounting/container_ledger.py``, ``accounting/fees.py``), blind to
the API front end. Metric labels stay low-cardinality: tier, rule, observed or inferred, never ids.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any, Optional, Union

from opentelemetry.trace import Span

from . import semconv as sc
from .accounting.container_ledger import ContainerCharge, Outcome, UnpricedContainer
from .accounting.fees import Fee, FeeOutcome, UnpricedFee
from .metrics import Instruments

logger = logging.getLogger(__name__)

Attrs = dict[str, Any]
Money = Union[Outcome, FeeOutcome]

FEE_ATTRIBUTES = {
    sc.KIND_WEB_SEARCH: sc.COST_WEB_SEARCH,
    sc.KIND_FILE_SEARCH: sc.COST_FILE_SEARCH,
    sc.KIND_IMAGE_GENERATION: sc.COST_IMAGE_GENERATION,
}
_LIVE_LABELS = (sc.GEN_AI_PROVIDER_NAME, sc.OPENAI_API_TYPE)
ROLLUPS = {
    sc.KIND_CONTAINER: sc.ROLLUP_COST_CONTAINER,
    sc.KIND_WEB_SEARCH: sc.ROLLUP_COST_WEB_SEARCH,
    sc.KIND_FILE_SEARCH: sc.ROLLUP_COST_FILE_SEARCH,
    sc.KIND_IMAGE_GENERATION: sc.ROLLUP_COST_IMAGE_GENERATION,
}


def life(charge: ContainerCharge) -> str:
    return sc.LIFE_OBSERVED if charge.observed else sc.LIFE_INFERRED


def container_attributes(outcome: Outcome) -> Attrs:
    """The tool span's view of one container charge: the money, the rule that priced it, how known."""
    if isinstance(outcome, UnpricedContainer):
        return {sc.CONTAINER_ID: outcome.container_id, sc.COST_UNPRICED_REASON: outcome.reason}
    return {
        sc.CONTAINER_ID: outcome.container_id,
        sc.COST_CONTAINER: float(outcome.usd),
        sc.CONTAINER_TOTAL: float(outcome.total_usd),
        sc.CONTAINER_CHARGE: outcome.phase,
        sc.CONTAINER_RULE: outcome.rule,
        sc.CONTAINER_UNITS: outcome.units,
        sc.CONTAINER_TIER: outcome.tier,
        sc.CONTAINER_TIER_INFERRED: True if outcome.tier_inferred else None,
        sc.CONTAINER_LIFE: life(outcome),
        sc.PRICE_EFFECTIVE_DATE: outcome.effective_from.isoformat(),
    }


def fee_attributes(outcome: FeeOutcome) -> Attrs:
    if isinstance(outcome, UnpricedFee):
        return {sc.COST_UNPRICED_REASON: outcome.reason}
    attrs: Attrs = {FEE_ATTRIBUTES[outcome.kind]: float(outcome.usd)}
    if outcome.kind == sc.KIND_WEB_SEARCH:
        attrs[sc.WEB_SEARCH_BILLED_CALLS] = outcome.count
        attrs[sc.WEB_SEARCH_CONTENT_TOKENS] = outcome.content_tokens or None
    if outcome.effective_from is not None:
        attrs[sc.PRICE_EFFECTIVE_DATE] = outcome.effective_from.isoformat()
    return attrs


def rollup_attributes(outcomes: Iterable[Money]) -> Attrs:
    """Sums by kind for the response span: roll-ups only, never added to the leaf figures."""
    sums: dict[str, Decimal] = {}
    for outcome in outcomes:
        if isinstance(outcome, ContainerCharge):
            sums[sc.KIND_CONTAINER] = sums.get(sc.KIND_CONTAINER, Decimal(0)) + outcome.usd
        elif isinstance(outcome, Fee):
            sums[outcome.kind] = sums.get(outcome.kind, Decimal(0)) + outcome.usd
    return {ROLLUPS[kind]: float(total) for kind, total in sums.items()}


def _set(span: Optional[Span], attrs: Attrs) -> None:
    if span is not None and span.is_recording():
        span.set_attributes({k: v for k, v in attrs.items() if v is not None})


class HostedToolsRecorder:
    """Writes hosted-tool money to spans and metrics. Never raises."""

    def __init__(self, instruments: Instruments) -> None:
        self.instruments = instruments

    def container(
        self, outcome: Outcome, labels: Mapping[str, Any], span: Optional[Span] = None, *, spend: bool = True
    ) -> None:
        """One container outcome: ``labels`` are the response's model, agent, provider and API labels.

        ``spend=False``: the money is written elsewhere (a response's account); count containers only.
        """
        try:
            _set(span, container_attributes(outcome))
            if isinstance(outcome, UnpricedContainer):
                return
            tier = {sc.CONTAINER_TIER: outcome.tier}
            if spend and outcome.usd:
                self.instruments.cost.add(
                    float(outcome.usd),
                    {**labels, sc.COST_KIND: sc.KIND_CONTAINER, **tier, sc.CONTAINER_RULE: outcome.rule},
                )
            live = {k: v for k, v in labels.items() if k in _LIVE_LABELS}  # the same on opening and end
            if not outcome.previous_usd and outcome.phase in ("opening", "settlement"):  # its first charge
                self.instruments.containers.add(
                    1, {**labels, **tier, sc.CONTAINER_RULE: outcome.rule, sc.CONTAINER_LIFE: life(outcome)}
                )
            if outcome.phase == "opening":
                self.instruments.containers_live.add(1, {**live, **tier})
            elif outcome.phase == "settlement" and outcome.previous_usd:  # opened before: it was counted live
                self.instruments.containers_live.add(-1, {**live, **tier})
        except Exception:
            logger.debug("container telemetry failed", exc_info=True)

    def fee(self, outcome: FeeOutcome, labels: Mapping[str, Any], span: Optional[Span] = None) -> None:
        try:
            _set(span, fee_attributes(outcome))
            if isinstance(outcome, Fee) and outcome.usd:
                self.instruments.cost.add(float(outcome.usd), {**labels, sc.COST_KIND: outcome.kind})
        except Exception:
            logger.debug("tool fee telemetry failed", exc_info=True)

    def auto_container_without_call(self, labels: Mapping[str, Any]) -> None:
        try:
            self.instruments.auto_containers_without_call.add(1, dict(labels))
        except Exception:
            logger.debug("auto container telemetry failed", exc_info=True)
