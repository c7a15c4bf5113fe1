"""A run's account: per-step usage and cost, per-call Code Interpreter sessions, and run roll-ups.

Reported usage is the truth and passes through exactly; the estimate fills in steps the API reported
nothing for (and, opt-in, sits beside reported figures so its error can be measured). Prices are those
in force at the run's ``created_at``. Whatever cannot be priced gets no cost and a reason, never 0.

Run totals are the run's reported usage when the API gave one, else the sum of the steps. Money is
counted at leaves, once: a step's reported usage, and, when a run reports usage its seen steps don't
add up to, the remainder (or the whole, when no step reported any) at run level. A step without
reported usage inside a run with reported usage keeps its estimate for comparison only: the API's
figure already covers it. A finished run with neither reported usage nor readable steps, known to
have run inferences, is estimated at run level from what was observed (its messages, the outputs
submitted to it), marked partial.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, Literal, Optional, Union

from ..model import Message, Run, RunRequest, Step, ToolCall, Usage
from .estimator import (
    CODE_TYPES,
    BaseLearner,
    MessageTokens,
    Overheads,
    RunContext,
    StepEstimate,
    estimate_run,
    estimate_unseen_run,
    ordered_steps,
    tool_types,
)
from .pricing import PriceBook, SessionCost, TokenCost
from .sessions import MemorySessionStore, SessionStore, claim_order
from .tokens import Encoder, TokenCounter, default_counter

logger = logging.getLogger(__name__)

COST_INPUT = "input_tokens"
COST_OUTPUT = "output_tokens"
COST_SESSION = "code_interpreter_session"

RunUsageSource = Literal["reported", "estimated", "mixed"]
UsageScope = Literal["steps", "run", "mixed"]  # where a run's counted figures sit: steps, run span, both


@dataclass
class StepAccount:
    """One step: ``usage`` is reported when the API gave it, else ``estimate``; costs None when unpriced."""

    step_id: str
    usage: Usage
    estimate: Optional[Usage]
    input_usd: Optional[Decimal]
    output_usd: Optional[Decimal]
    unpriced_reason: Optional[str] = None
    price_effective_from: Optional[date] = None
    price_source: Optional[str] = None
    leaf: bool = True  # False: an estimate inside a run whose reported usage already counts it


@dataclass
class RunLeaf:
    """Usage counted on the run span: the run's reported usage not covered by step leaves (all of it
    when no step reported any), or a run-level estimate when nothing else is known."""

    usage: Usage
    input_usd: Optional[Decimal]  # ordinary input (cached and cache-write parts priced apart)
    output_usd: Optional[Decimal]
    unpriced_reason: Optional[str] = None
    cached_input_usd: Optional[Decimal] = None  # Responses: cached reads, when there are any
    cache_write_usd: Optional[Decimal] = None  # Responses: cache writes, when there are any
    parts_usd: dict[str, Decimal] = field(default_factory=dict)  # other priced parts by kind (audio tokens)


@dataclass
class CallAccount:
    """One Code Interpreter call: whether it opened a (billed) session; ``inferred``: the API does not say."""

    call_id: str
    step_id: str
    session_opened: bool
    late: bool
    session_usd: Optional[Decimal]
    session_started_at: Optional[int] = None
    inferred: bool = True
    unpriced_reason: Optional[str] = None


@dataclass
class ItemCharge:
    """Money one tool-call item cost besides tokens (a container, a search fee): a leaf on its tool span."""

    call_id: str
    kind: str  # openai_cost.kind: container | web_search | file_search | image_generation | ...
    usd: Optional[Decimal]  # None: could not be priced (see unpriced_reason), never 0 for that
    unpriced_reason: Optional[str] = None
    effective_from: Optional[date] = None
    attributes: dict[str, Any] = field(default_factory=dict)  # what priced it (rule, tier...), on its span
    labels: dict[str, str] = field(default_factory=dict)  # low-cardinality spend labels (tier, rule)


@dataclass
class RunAccount:
    run_id: str
    thread_id: str
    model: Optional[str]  # as the run names it (maybe a deployment)
    priced_model: Optional[str]  # the model or snapshot priced
    provider: str
    steps: list[StepAccount] = field(default_factory=list)
    calls: list[CallAccount] = field(default_factory=list)
    input_tokens: int = 0
    output_tokens: int = 0
    usage_source: Optional[RunUsageSource] = None  # None: nothing known (no usage, no steps)
    partial: bool = False
    degraded: bool = False
    estimate: Optional[Usage] = None  # the estimated roll-up, when computed
    cost_usd: dict[str, Decimal] = field(default_factory=dict)  # priced kinds only
    unpriced_reasons: list[str] = field(default_factory=list)
    unpriced_input_tokens: int = 0
    unpriced_output_tokens: int = 0
    price_effective_from: Optional[date] = None
    usage: Optional[Usage] = None  # one inference's usage with its parts (Responses), when accounted whole
    price_modifiers: str = ""  # what changed the table rates (flex, priority, window:2h, ...)
    charges: list[ItemCharge] = field(default_factory=list)  # per tool-call item, besides tokens
    run_leaf: Optional[RunLeaf] = None
    usage_scope: Optional[UsageScope] = None

    @property
    def total_usd(self) -> Optional[Decimal]:
        """Sum of the priced kinds; None when nothing could be priced."""
        return sum(self.cost_usd.values(), Decimal(0)) if self.cost_usd else None

    @property
    def sessions_opened(self) -> int:
        return sum(1 for c in self.calls if c.session_opened)


_default_sessions = MemorySessionStore()


def account_run(
    run: Run,
    steps: Sequence[Step] = (),
    *,
    prices: PriceBook,
    sessions: Optional[SessionStore] = None,
    messages: Optional[Mapping[str, Message]] = None,
    history: Sequence[Message] = (),
    request: Optional[RunRequest] = None,
    counter: Union[TokenCounter, Encoder, None] = None,
    overheads: Optional[Overheads] = None,
    learner: Optional[BaseLearner] = None,
    message_tokens: Optional[MessageTokens] = None,
    provider: str = "openai",
    compare_estimates: bool = False,
    submitted_outputs: Optional[Mapping[str, Optional[str]]] = None,
    estimate: bool = True,
) -> RunAccount:
    """Account one run. Never raises: a failure yields an account naming it in ``unpriced_reasons``.

    ``sessions``: where session decisions live (default: one in-process store for all runs).
    ``compare_estimates``: also estimate steps with reported usage, kept in ``StepAccount.estimate``
    (and fed to ``learner``, which learns hidden bases from the reported first steps).
    ``submitted_outputs``: function outputs submitted to the run (call id -> text or None), for the
    run-level estimate of a finished run without steps or reported usage.
    ``estimate``: False counts reported figures only (no tokenizer, no estimate): the cheap path.
    """
    priced_model = prices.resolve_model(run.model)
    account = RunAccount(run.id, run.thread_id, run.model, priced_model, provider)
    try:
        _account(
            account,
            run,
            steps,
            prices,
            sessions if sessions is not None else _default_sessions,
            messages or {},
            history,
            request,
            counter or default_counter(),
            overheads,
            learner,
            message_tokens,
            compare_estimates,
            submitted_outputs or {},
            estimate,
        )
    except Exception as exc:
        logger.debug("accounting run %s failed", run.id, exc_info=True)
        account.unpriced_reasons.append(f"accounting failed: {type(exc).__name__}")
    return account


def _account(
    account: RunAccount,
    run: Run,
    steps: Sequence[Step],
    prices: PriceBook,
    sessions: SessionStore,
    messages: Mapping[str, Message],
    history: Sequence[Message],
    request: Optional[RunRequest],
    counter: Union[TokenCounter, Encoder],
    overheads: Optional[Overheads],
    learner: Optional[BaseLearner],
    message_tokens: Optional[MessageTokens],
    compare: bool,
    submitted: Mapping[str, Optional[str]],
    estimate: bool,
) -> None:
    ordered = ordered_steps(steps)
    estimates: dict[str, StepEstimate] = {}
    run_estimate: Optional[Usage] = None
    if estimate and ordered and (compare or any(s.usage is None for s in ordered)):
        ctx = RunContext(run, ordered, messages, history, request, account.priced_model)
        for found in estimate_run(ctx, counter, overheads, learner=learner, message_tokens=message_tokens):
            estimates[found.step_id] = found
        first = ordered[0]
        if learner is not None and first.usage is not None and first.id in estimates:
            tools = tool_types(run.tools)
            learner.observe(account.priced_model, tools, estimates[first.id], first.usage.input_tokens)
    elif estimate and not ordered and run.usage is None and _produced(run, messages, submitted):
        ctx = RunContext(run, (), messages, history, request, account.priced_model)
        run_estimate = estimate_unseen_run(ctx, submitted, counter, overheads, learner=learner,
                                           message_tokens=message_tokens)

    at = run.created_at
    for step in ordered:
        est = estimates.get(step.id)
        usage = step.usage if step.usage is not None else est.usage if est else None
        if usage is None:
            continue
        cost = prices.token_cost(account.priced_model, usage, at, account.provider)
        if isinstance(cost, TokenCost):
            account.steps.append(
                StepAccount(
                    step.id,
                    usage,
                    est.usage if est else None,
                    cost.input_usd,
                    cost.output_usd,
                    None,
                    cost.effective_from,
                    cost.source,
                )
            )
        else:
            account.steps.append(
                StepAccount(step.id, usage, est.usage if est else None, None, None, cost.reason)
            )

    _roll_up(account, run, prices, run_estimate)
    _sessions(account, run, ordered, prices, sessions)


def _produced(run: Run, messages: Mapping[str, Message], submitted: Mapping[str, Optional[str]]) -> bool:
    """A finished run known to have run inferences: it completed (or was cut off), or it wrote a
    message or asked for a function call. A run that failed with nothing seen may have cost nothing."""
    if not run.terminal:
        return False
    return run.status in ("completed", "incomplete") or bool(submitted or run.function_calls) or any(
        m.role == "assistant" for m in messages.values())


def _roll_up(account: RunAccount, run: Run, prices: PriceBook, run_estimate: Optional[Usage]) -> None:
    estimated = [s.estimate for s in account.steps if s.estimate is not None]
    if estimated:
        account.estimate = Usage(
            sum(u.input_tokens for u in estimated),
            sum(u.output_tokens for u in estimated),
            source="estimated",
            partial=any(u.partial for u in estimated),
            degraded=any(u.degraded for u in estimated),
        )
    step_usages = [s.usage for s in account.steps]
    if run.usage is not None:
        total = run.usage
        account.usage_source = "reported"
        _reported_leaves(account, run, prices)
    elif step_usages:
        sources = {u.source for u in step_usages}
        if len(sources) > 1:
            account.usage_source = "mixed"
        else:
            account.usage_source = "reported" if sources == {"reported"} else "estimated"
        total = Usage(sum(u.input_tokens for u in step_usages), sum(u.output_tokens for u in step_usages))
        account.usage_scope = "steps"
    elif run_estimate is not None:
        total = run_estimate
        account.usage_source = "estimated"
        account.estimate = run_estimate
        account.run_leaf = _run_leaf(account, run, prices, run_estimate)
        account.usage_scope = "run"
    else:
        return
    account.input_tokens = total.input_tokens
    account.output_tokens = total.output_tokens
    if account.usage_source != "reported":
        account.partial = total.partial or any(u.partial for u in step_usages)
        account.degraded = total.degraded or any(u.degraded for u in step_usages)
    cost = prices.token_cost(account.priced_model, total, run.created_at, account.provider)
    if isinstance(cost, TokenCost):
        account.cost_usd[COST_INPUT] = cost.input_usd
        account.cost_usd[COST_OUTPUT] = cost.output_usd
        account.price_effective_from = cost.effective_from
    else:
        _note(account, cost.reason)
        account.unpriced_input_tokens = total.input_tokens
        account.unpriced_output_tokens = total.output_tokens


def _reported_leaves(account: RunAccount, run: Run, prices: PriceBook) -> None:
    """Count the run's reported usage once: at the steps that reported theirs, and the rest at run level.

    Steps without reported usage stay estimates for comparison. If the steps claim more than the run,
    the run's figure wins and is counted whole at run level.
    """
    assert run.usage is not None
    reported = [s for s in account.steps if s.usage.source == "reported"]
    rest_in = run.usage.input_tokens - sum(s.usage.input_tokens for s in reported)
    rest_out = run.usage.output_tokens - sum(s.usage.output_tokens for s in reported)
    if rest_in < 0 or rest_out < 0:
        reported, rest_in, rest_out = [], run.usage.input_tokens, run.usage.output_tokens
    for step in account.steps:
        step.leaf = step in reported
    if reported and not rest_in and not rest_out:
        account.usage_scope = "steps"
        return
    account.usage_scope = "mixed" if reported else "run"
    account.run_leaf = _run_leaf(account, run, prices, Usage(rest_in, rest_out))


def _run_leaf(account: RunAccount, run: Run, prices: PriceBook, usage: Usage) -> RunLeaf:
    cost = prices.token_cost(account.priced_model, usage, run.created_at, account.provider)
    if isinstance(cost, TokenCost):
        return RunLeaf(usage, cost.input_usd, cost.output_usd)
    return RunLeaf(usage, None, None, cost.reason)


def _sessions(
    account: RunAccount, run: Run, ordered: Sequence[Step], prices: PriceBook, store: SessionStore
) -> None:
    session_total = Decimal(0)
    priced_any = False
    for step, call, ts in _code_calls(run, ordered):
        if ts is None:
            account.calls.append(
                CallAccount(call.id, step.id, False, False, None, unpriced_reason="no timestamp")
            )
            continue
        try:
            decision = store.claim(run.thread_id, call.id, int(ts))
        except Exception as exc:  # a store outage must not fail the run's account
            logger.debug("session claim for %s failed", call.id, exc_info=True)
            failure = f"session store error: {type(exc).__name__}"
            account.calls.append(
                CallAccount(call.id, step.id, False, False, None, unpriced_reason=failure)
            )
            _note(account, failure)
            continue
        usd: Optional[Decimal] = None
        reason: Optional[str] = None
        if decision.opened:
            price = prices.session_cost(account.provider, run.created_at)
            if isinstance(price, SessionCost):
                usd = price.usd
                session_total += usd
                priced_any = True
            else:
                reason = price.reason
                _note(account, reason)
        account.calls.append(
            CallAccount(
                call.id,
                step.id,
                decision.opened,
                decision.late,
                usd,
                decision.session_started_at,
                unpriced_reason=reason,
            )
        )
    if priced_any:
        account.cost_usd[COST_SESSION] = session_total


def _code_calls(run: Run, ordered: Sequence[Step]) -> list[tuple[Step, ToolCall, Optional[int]]]:
    """A run's Code Interpreter calls in claim order: API second, then call id (the same in every
    process, however the steps were observed)."""
    found: list[tuple[Step, ToolCall, Optional[int]]] = []
    for step in ordered:
        ts = step.created_at if step.created_at is not None else run.started_at or run.created_at
        found.extend((step, call, ts) for call in step.tool_calls if call.type in CODE_TYPES)
    return sorted(found, key=lambda c: claim_order(c[2] if c[2] is not None else -1, c[1].id))


def _note(account: RunAccount, reason: str) -> None:
    if reason not in account.unpriced_reasons:
        account.unpriced_reasons.append(reason)
