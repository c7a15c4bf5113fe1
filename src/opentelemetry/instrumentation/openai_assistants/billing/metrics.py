"""The ledger as OTel gauges: one series per day and labels, observed at each collection.

Gauges, not counters: a day's billed value is a level that a later read may revise; Prometheus
keeps each day's latest value, and a day leaving the window stops being reported.
"""

from __future__ import annotations

from collections.abc import Iterable

from opentelemetry.metrics import CallbackOptions, Counter, Meter, Observation

from .. import semconv as sc
from .ledger import Ledger, day_label
from .reader import QUANTITY, SPEND, TOKENS


class BillingInstruments:
    def __init__(self, meter: Meter, ledger: Ledger) -> None:
        self.ledger = ledger
        meter.create_observable_gauge(sc.METRIC_BILLED_SPEND, [self._observe(SPEND)], unit="USD",
                                      description="Billed USD of one UTC day by cost kind, line item and project")
        meter.create_observable_gauge(sc.METRIC_BILLED_TOKENS, [self._observe(TOKENS)], unit="{token}",
                                      description="Billed tokens of one UTC day by model, token type and project")
        meter.create_observable_gauge(sc.METRIC_BILLED_QUANTITY, [self._observe(QUANTITY)], unit="{item}",
                                      description="Billed sessions and tool calls of one UTC day by kind")
        meter.create_observable_gauge(sc.METRIC_BILLED_DAY, [self._days], unit="s",
                                      description="Unix start of each UTC day in the window, to select a day by time")
        self.reads: Counter = meter.create_counter(sc.METRIC_BILLING_READS, unit="{request}",
                                                   description="Reads of the Costs and Usage API by outcome")

    def _observe(self, metric: str):  # type: ignore[no-untyped-def]
        def callback(options: CallbackOptions) -> Iterable[Observation]:
            for day, figure in self.ledger.figures(metric):
                yield Observation(float(figure.value), {**dict(figure.labels), sc.BILLING_DAY: day_label(day)})

        return callback

    def _days(self, options: CallbackOptions) -> Iterable[Observation]:
        for day in self.ledger.days():
            yield Observation(day, {sc.BILLING_DAY: day_label(day)})
