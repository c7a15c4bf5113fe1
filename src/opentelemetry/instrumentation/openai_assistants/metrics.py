"""The metric instruments: names, units, descriptions and bucket advice, created once per meter.

Counters cost nothing per call: each is a ``Sums`` that adds up its amounts per label set in the
process (one dict update under a lock) and hands the totals to the SDK through an observable
instrument when a reader collects. The SDK then exports the same metric (name, unit, description,
labels, monotonicity) as a synchronous counter would, in cumulative or delta temporality, without
its per-measurement work. Only the histograms stay synchronous: a distribution cannot be summed
ahead of time. The totals of a meter are shared by every ``Instruments`` made on it, as the SDK
shares a synchronous instrument registered twice (an ``uninstrument()``/``instrument()`` cycle
keeps counting from where it was).
"""

from __future__ import annotations

import threading
import weakref
from typing import Any, Iterable, Mapping, Optional, Union

from opentelemetry.metrics import CallbackOptions, Histogram, Meter, Observation

from . import semconv as sc
from .forking import in_child_after_fork

Amount = Union[int, float]
LabelKey = tuple[tuple[str, Any], ...]


class Sums:
    """A counter's totals per label set, read at collection time; ``add`` has a synchronous counter's
    signature. A monotonic one ignores negative amounts, as the SDK's ``Counter`` does."""

    def __init__(self, name: str, monotonic: bool = True) -> None:
        self.name = name
        self.monotonic = monotonic
        self._lock = threading.Lock()
        self._totals: dict[LabelKey, Amount] = {}
        in_child_after_fork(self, Sums._after_fork_in_child)

    def _after_fork_in_child(self) -> None:
        """The totals stay (the SDK's own synchronous state is copied the same way); the lock may
        have been held by a thread that does not exist in the child."""
        self._lock = threading.Lock()

    def add(self, amount: Amount, attributes: Optional[Mapping[str, Any]] = None, *args: Any, **kwargs: Any) -> None:
        if self.monotonic and amount < 0:
            return
        key: LabelKey = tuple(attributes.items()) if attributes else ()
        try:
            hash(key)
        except TypeError:  # a sequence-valued label (allowed by the API): held as a tuple
            key = tuple((k, tuple(v) if isinstance(v, list) else v) for k, v in key)
        with self._lock:
            totals = self._totals
            totals[key] = totals.get(key, 0) + amount

    def totals(self) -> dict[frozenset[tuple[str, Any]], Amount]:
        """Totals by label set (label order does not matter)."""
        with self._lock:
            items = list(self._totals.items())
        merged: dict[frozenset[tuple[str, Any]], Amount] = {}
        for key, total in items:
            labels = frozenset(key)
            merged[labels] = merged.get(labels, 0) + total
        return merged

    def observe(self, options: CallbackOptions) -> Iterable[Observation]:
        return [Observation(total, dict(labels)) for labels, total in self.totals().items()]


_SHARED: weakref.WeakKeyDictionary[Any, dict[str, Sums]] = weakref.WeakKeyDictionary()
_SHARED_LOCK = threading.Lock()


def _sums_of(meter: Meter) -> dict[str, Sums]:
    """The totals already registered on this meter (its observable instruments read them)."""
    with _SHARED_LOCK:
        try:
            return _SHARED.setdefault(meter, {})
        except TypeError:  # a meter that cannot be weakly referenced: its own totals each time
            return {}


class Instruments:
    def __init__(self, meter: Meter) -> None:
        self._meter = meter
        self._sums = _sums_of(meter)
        self.token_usage: Histogram = meter.create_histogram(
            sc.METRIC_TOKEN_USAGE, unit="{token}", description="Tokens used per run step (one inference)",
            explicit_bucket_boundaries_advisory=list(sc.TOKEN_BUCKETS),
        )
        self.duration: Histogram = meter.create_histogram(
            sc.METRIC_OPERATION_DURATION, unit="s",
            description="Duration of runs (invoke_agent), run steps (chat) and tool calls (execute_tool)",
            explicit_bucket_boundaries_advisory=list(sc.DURATION_BUCKETS),
        )
        self.cost = self._counter(
            sc.METRIC_COST, unit="USD", description="Spend by cost kind, at the price in force on the run's date",
        )
        self.run_cost: Histogram = meter.create_histogram(
            sc.METRIC_RUN_COST, unit="USD", description="Cost of one run, when every part of it was priced",
            explicit_bucket_boundaries_advisory=list(sc.COST_BUCKETS),
        )
        self.sessions = self._counter(
            sc.METRIC_SESSIONS, unit="{session}", description="Code Interpreter sessions opened (inferred)",
        )
        self.runs = self._counter(
            sc.METRIC_RUNS, unit="{run}", description="Runs ended, by final status",
        )
        self.tool_calls = self._counter(
            sc.METRIC_TOOL_CALLS, unit="{call}", description="Tool calls, by tool type and name",
        )
        self.usage_steps = self._counter(
            sc.METRIC_USAGE_STEPS, unit="{inference}",
            description="Inferences (run steps, responses) by where their tokens come from",
        )
        self.estimate_error: Histogram = meter.create_histogram(
            sc.METRIC_ESTIMATE_ERROR, unit="1",
            description="Relative error of the token estimate where the API also reported usage",
            explicit_bucket_boundaries_advisory=[0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0],
        )
        self.unpriced_tokens = self._counter(
            sc.METRIC_UNPRICED_TOKENS, unit="{token}", description="Tokens that could not be priced",
        )
        self.unpriced_runs = self._counter(
            sc.METRIC_UNPRICED_RUNS, unit="{run}", description="Runs with at least one part that could not be priced",
        )
        self.fetches = self._counter(
            sc.METRIC_FETCHES, unit="{request}", description="The instrumentor's own background API reads",
        )
        self.containers = self._counter(
            sc.METRIC_CONTAINERS, unit="{container}",
            description="Hosted-tool containers opened (first billed), by memory tier, billing rule and observed or "
                        "inferred life",
        )
        self.containers_live = self._counter(
            sc.METRIC_CONTAINERS_LIVE, unit="{container}",
            description="Hosted-tool containers opened and not yet settled (deleted or expired)", monotonic=False,
        )
        self.auto_containers_without_call = self._counter(
            sc.METRIC_AUTO_CONTAINERS_WITHOUT_CALL, unit="{response}",
            description="Responses that enabled Code Interpreter in auto mode and named no container",
        )
        self.session_evictions = self._counter(
            sc.METRIC_SESSION_EVICTIONS, unit="{thread}",
            description="Threads dropped from the in-memory session store while their session could still get "
                        "calls (a later call may be billed a second session)",
        )

    def _counter(self, name: str, unit: str, description: str, monotonic: bool = True) -> Sums:
        """The meter's totals for ``name``, registered with an observable instrument on first use."""
        with _SHARED_LOCK:
            sums = self._sums.get(name)
            if sums is not None:
                return sums
            sums = self._sums[name] = Sums(name, monotonic)
        create = self._meter.create_observable_counter if monotonic else self._meter.create_observable_up_down_counter
        create(name, callbacks=[sums.observe], unit=unit, description=description)
        return sums
