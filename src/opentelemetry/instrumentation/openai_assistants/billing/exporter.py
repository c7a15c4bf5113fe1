"""One pass over the Costs and Usage endpoints into the ledger, counting the reads."""

from __future__ import annotations

import logging
import time
from typing import Optional

from .. import semconv as sc
from .ledger import DAY_S, Ledger
from .metrics import BillingInstruments
from .reader import Reader

logger = logging.getLogger("openai_billing_exporter")


class KeyRefused(Exception):
    """The API refused the admin key (401, or 403 without the usage read scope)."""


class Exporter:
    """Reads every endpoint over the window into the ledger; one failed endpoint keeps its last read."""

    def __init__(self, reader: Reader, ledger: Ledger, instruments: BillingInstruments, window_days: int) -> None:
        self.reader = reader
        self.ledger = ledger
        self.instruments = instruments
        self.window_days = window_days

    def read_once(self, now: Optional[float] = None) -> bool:
        """One pass; True when every endpoint was read. Raises ``KeyRefused``."""
        import openai

        today = int(now if now is not None else time.time()) // DAY_S * DAY_S
        start, end = today - (self.window_days - 1) * DAY_S, today + DAY_S
        ok = True
        for name, read in self.reader.endpoints().items():
            try:
                days = read(start, end, self.window_days)
            except (openai.AuthenticationError, openai.PermissionDeniedError) as error:
                raise KeyRefused(f"{name}: HTTP {error.status_code}") from None
            except Exception as error:  # the SDK already retried 429 and 5xx
                status = getattr(error, "status_code", None)
                logger.warning("reading %s failed: %s%s", name, type(error).__name__,
                               f" (HTTP {status})" if status else "")
                self.instruments.reads.add(1, {sc.BILLING_ENDPOINT: name, sc.BILLING_OUTCOME: "error"})
                ok = False
                continue
            self.ledger.replace(name, days, start)
            self.instruments.reads.add(1, {sc.BILLING_ENDPOINT: name, sc.BILLING_OUTCOME: "ok"})
        return ok
