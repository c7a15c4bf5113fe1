"""What a hosted-tool container owes under the billing rule in force on its start date.

OpenAI changed the container billing unit twice in 2026 (CONTEXT §7), so the rule is data
(``prices/containers.json``, dated and sourced, overridable like token prices): per container
until 2026-03-30; per 20-minute session billed whole from 2026-03-31; per started minute with a
5-minute minimum per session from 2026-06-02. The rule of the container's start (its
``created_at``, else the first response naming it) prices its whole life.

A container lives from its start to the earliest of its deletion and ``last_active_at`` plus its
idle expiry (it cannot be revived: a later deletion ends nothing more). OpenAI has not published
what a session is, what makes one "eligible", nor how a life past 20 minutes splits; we model the
life split into consecutive windows of ``session_minutes`` from its start, each a session (the
last one possibly short), and :class:`Interpretation` chooses what the life covers: ``"life"``
(default) counts the idle minutes before expiry, ``"active"`` ends the life at the last activity
or deletion. Both are interpretations, not published facts.

Plain functions over :class:`model.Container`; times are API timestamps, and "now" is always
passed in, so a replay or a fake clock gives the bill of its day.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Literal, Optional, Union

from .. import model
from .dated import in_force
from .pricing import Overrides, Unpriced, _date, _decimal, _read_json, at_datetime, load_overrides

logger = logging.getLogger(__name__)

UNIT_CONTAINER = "container"
UNIT_SESSION = "session"
UNIT_MINUTE = "minute"
_UNITS = (UNIT_CONTAINER, UNIT_SESSION, UNIT_MINUTE)


@dataclass(frozen=True)
class Interpretation:
    """How a container's life becomes sessions: our reading, since OpenAI has not published it."""

    basis: Literal["life", "active"] = "life"  # life: idle minutes before expiry count; active: they do not


DEFAULT_INTERPRETATION = Interpretation()


@dataclass(frozen=True)
class BillingRule:
    rule: str  # per_container | per_session | per_minute (or an override's name)
    unit: str  # container | session | minute
    effective_from: date
    usd_per_unit: Mapping[str, Decimal]  # by memory tier
    source: str
    session_minutes: Optional[int] = None
    minimum_minutes: int = 0


@dataclass(frozen=True)
class ContainerBill:
    """What a container owes at one moment: all of it when ``ended``, else what it has incurred."""

    container_id: str
    rule: BillingRule
    tier: str
    tier_inferred: bool  # the tier was not known: the default tier was priced
    units: int
    usd: Decimal
    life_s: int
    ended: bool
    observed: bool  # the life comes from the container's own timestamps, not from responses


def _rules(raw: Any, source: str) -> list[BillingRule]:
    rules = []
    for item in raw:
        unit = str(item["unit"])
        if unit not in _UNITS:
            raise ValueError(f"unknown container billing unit {unit!r}")
        session = item.get("session_minutes")
        rules.append(
            BillingRule(
                str(item.get("rule", f"per_{unit}")),
                unit,
                _date(item["effective_from"]),
                {str(tier): _decimal(usd) for tier, usd in dict(item["usd_per_unit"]).items()},
                str(item.get("source", source)),
                int(session) if session is not None else None,
                int(item.get("minimum_minutes", 0)),
            )
        )
    return rules


class ContainerRules:
    """The container billing rules: user overrides first, then ``prices/containers.json``.

    ``overrides``: the price override file format (a dict, a JSON file path, or None for the file
    named by ``OTEL_INSTRUMENTATION_OPENAI_ASSISTANTS_PRICES``) with a ``"containers"`` entry in
    the format of ``containers.json`` (``rules``, ``default_tier``). An override rule applies from
    its date on; earlier dates keep the built-in rules. A malformed override raises ``ValueError``.
    """

    def __init__(self, overrides: Overrides = None) -> None:
        data, source = load_overrides(overrides)
        builtin = _read_json("containers.json")
        own = dict(data.get("containers") or {})
        try:
            self._overrides = _rules(own.get("rules", []), source)
            self._builtin = _rules(builtin["rules"], "prices/containers.json")
        except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
            raise ValueError(f"invalid container price overrides ({source}): {exc}") from exc
        self.default_tier = str(own.get("default_tier", builtin.get("default_tier", "1g")))

    def rule_on(self, at: int) -> Union[BillingRule, Unpriced]:
        """The rule in force on the day of API timestamp ``at``."""
        day = at_datetime(at).date()
        rule = in_force(self._overrides, day) or in_force(self._builtin, day)
        if rule is None:
            return Unpriced(f"no container billing rule in force on {day.isoformat()}")
        return rule


def expiry_s(container: model.Container) -> int:
    return max(0, int(container.expires_after_minutes)) * 60


def last_activity(container: model.Container) -> Optional[int]:
    """The latest moment the container is known to have been used (its start at least)."""
    known = [t for t in (container.last_active_at, container.first_seen_at, container.started_at) if t is not None]
    return max(known) if known else None


def has_ended(container: model.Container, now: int) -> bool:
    """Deleted, or expired by ``now`` (an API timestamp) without activity since."""
    if container.deleted_at is not None:
        return True
    last = last_activity(container)
    return last is not None and now >= last + expiry_s(container)


def life_end(container: model.Container, now: int, interpretation: Interpretation) -> int:
    """Where the life counted so far ends: its end if it has ended, else ``now`` or its last activity.

    A container ends at the earliest of its deletion and its idle expiry (``last_active_at`` plus
    its expiry): a clean-up job deleting an expired container later does not lengthen its life,
    whichever of the deletion and the expiry sweep is handled first."""
    last = last_activity(container)
    expiry = last + expiry_s(container) if last is not None else None
    if container.deleted_at is not None:
        return min(container.deleted_at, expiry) if expiry is not None else container.deleted_at
    last = last if last is not None else now
    if interpretation.basis == "active":
        return last
    if has_ended(container, now):
        return last + expiry_s(container)
    return max(now, last)


def session_lengths(life_s: int, session_minutes: Optional[int]) -> list[int]:
    """The life split into consecutive sessions of ``session_minutes`` (the last one possibly short)."""
    if not session_minutes:
        return [life_s]
    window = session_minutes * 60
    full, rest = divmod(max(0, life_s), window)
    sessions = [window] * full
    if rest or not sessions:
        sessions.append(rest)
    return sessions


def units_owed(rule: BillingRule, life_s: int) -> int:
    """Billed units for a life of ``life_s`` seconds: never fewer for a longer life."""
    if rule.unit == UNIT_CONTAINER:
        return 1
    sessions = session_lengths(life_s, rule.session_minutes)
    if rule.unit == UNIT_SESSION:
        return len(sessions)
    return sum(max(math.ceil(s / 60), rule.minimum_minutes) for s in sessions)


def bill_at(
    container: model.Container, now: int, rules: ContainerRules, interpretation: Interpretation = DEFAULT_INTERPRETATION
) -> Union[ContainerBill, Unpriced]:
    """What ``container`` owes as known at ``now``: its final figure once it has ended."""
    start = container.started_at
    if start is None:
        return Unpriced(f"container {container.id}: start unknown")
    rule = rules.rule_on(start)
    if isinstance(rule, Unpriced):
        return rule
    tier = container.memory_limit or rules.default_tier
    rate = rule.usd_per_unit.get(tier)
    if rate is None:
        return Unpriced(f"no price for container memory tier {tier!r} under rule {rule.rule}")
    life_s = max(0, life_end(container, now, interpretation) - start)
    units = units_owed(rule, life_s)
    return ContainerBill(
        container.id,
        rule,
        tier,
        container.memory_limit is None,
        units,
        rate * units,
        life_s,
        has_ended(container, now),
        container.observed,
    )


def minimum_bill(
    key: str, at: int, rules: ContainerRules, tier: Optional[str] = None
) -> Union[ContainerBill, Unpriced]:
    """The least a container started at ``at`` owes (an assumed auto container: life unseen, inferred)."""
    assumed = model.Container(key, memory_limit=tier, first_seen_at=at, deleted_at=at)
    return bill_at(assumed, at, rules)
