"""``openai-billing-exporter``: read the trailing window every interval, export it, until stopped.

Options fall back to environment variables (``OPENAI_BILLING_*``); the admin key comes only from
``OPENAI_ADMIN_KEY`` or a file (never a command-line argument, which other users can list). Metrics
leave as ``OTEL_METRICS_EXPORTER`` says (``otlp``, the default, under the standard ``OTEL_EXPORTER_OTLP_*``
variables; ``console``; ``prometheus``, an endpoint; ``none``). Exit codes: 0 after a ``--once`` whose
reads and export succeeded, 1 when one failed, 2 for a refused or missing key, bad options or a
missing ``billing`` extra (said in one line). Logs name endpoints, status codes and exception types,
never keys or figures' owners.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Optional

from .exporter import Exporter, KeyRefused
from .ledger import Ledger
from .lineitems import load
from .metrics import BillingInstruments
from .otel import ExportWatch, UnknownExporter, meter_provider
from .reader import Reader

logger = logging.getLogger("openai_billing_exporter")
PROG = "openai-billing-exporter"
MAX_WINDOW_DAYS = 31  # the usage endpoints' limit for daily buckets
EXTRA = "opentelemetry-instrumentation-openai-assistants[billing]"


@dataclass(frozen=True)
class Options:
    interval_s: float
    window_days: int
    projects: tuple[str, ...]
    once: bool
    max_retries: int
    line_items: Optional[str]
    admin_key_file: Optional[str]


def parse(argv: Optional[Sequence[str]]) -> Options:
    env = os.environ.get
    parser = argparse.ArgumentParser(prog=PROG, description="Export OpenAI's billed costs and usage as OTel metrics.")
    parser.add_argument("--interval", type=float, default=float(env("OPENAI_BILLING_INTERVAL", "900")),
                        help="seconds between reads (OPENAI_BILLING_INTERVAL, default 900)")
    parser.add_argument("--window-days", type=int, default=int(env("OPENAI_BILLING_WINDOW_DAYS", "7")),
                        help="trailing UTC days re-read each time, today included (OPENAI_BILLING_WINDOW_DAYS, 7)")
    parser.add_argument("--project", action="append", default=None,
                        help="a project id to read (repeatable; OPENAI_BILLING_PROJECTS, comma-separated); "
                             "default: the whole organization")
    parser.add_argument("--once", action="store_true", help="read once, export, exit")
    parser.add_argument("--max-retries", type=int, default=int(env("OPENAI_BILLING_MAX_RETRIES", "5")),
                        help="retries of a read on 429 and 5xx, with the SDK's backoff (default 5)")
    parser.add_argument("--line-items", default=env("OPENAI_BILLING_LINE_ITEMS"),
                        help="JSON mapping of line items to cost kinds (default: the packaged one)")
    parser.add_argument("--admin-key-file", default=env("OPENAI_ADMIN_KEY_FILE"),
                        help="file holding the admin key (OPENAI_ADMIN_KEY_FILE); else OPENAI_ADMIN_KEY")
    args = parser.parse_args(argv)
    projects = args.project or [p for p in env("OPENAI_BILLING_PROJECTS", "").split(",") if p.strip()]
    if not 1 <= args.window_days <= MAX_WINDOW_DAYS:
        parser.error(f"--window-days must be between 1 and {MAX_WINDOW_DAYS}")
    if args.interval <= 0:
        parser.error("--interval must be positive")
    return Options(args.interval, args.window_days, tuple(p.strip() for p in projects), args.once,
                   args.max_retries, args.line_items, args.admin_key_file)


def admin_key(options: Options) -> Optional[str]:
    if options.admin_key_file:
        with open(options.admin_key_file) as f:
            return f.read().strip() or None
    return os.environ.get("OPENAI_ADMIN_KEY") or None


def main(argv: Optional[Sequence[str]] = None) -> int:
    logging.basicConfig(level=os.environ.get("OPENAI_BILLING_LOG_LEVEL", "INFO"), format=f"{PROG}: %(message)s")
    logging.getLogger("openai").setLevel(logging.WARNING)
    logging.getLogger("httpx2").setLevel(logging.WARNING)
    options = parse(argv)
    key = admin_key(options)
    if not key:
        print(f"{PROG}: no admin key: set OPENAI_ADMIN_KEY or --admin-key-file", file=sys.stderr)
        return 2
    watch = ExportWatch()
    try:
        import openai

        provider = meter_provider(watch)
    except ImportError as missing:
        print(f"{PROG}: {missing.name or 'a dependency'} is not installed: pip install '{EXTRA}'", file=sys.stderr)
        return 2
    except UnknownExporter as unknown:
        print(f"{PROG}: {unknown}", file=sys.stderr)
        return 2
    client = openai.OpenAI(admin_api_key=key, max_retries=options.max_retries)
    ledger = Ledger()
    instruments = BillingInstruments(provider.get_meter("opentelemetry.instrumentation.openai_assistants.billing"),
                                     ledger)
    exporter = Exporter(Reader(client, load(options.line_items), options.projects), ledger, instruments,
                        options.window_days)
    try:
        return _loop(exporter, options, provider, watch)
    except KeyRefused as refused:
        print(f"{PROG}: the admin key was refused ({refused}): use an organization admin key "
              "with read access to usage and costs", file=sys.stderr)
        return 2
    finally:
        provider.shutdown()


def _loop(exporter: Exporter, options: Options, provider: Any, watch: ExportWatch) -> int:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    failures = 0
    while True:
        ok = exporter.read_once()
        if options.once:
            return _once(ok, provider, watch)
        failures = 0 if ok else failures + 1
        wait = options.interval_s if ok else min(options.interval_s, 5.0 * 2 ** min(failures, 10))
        logger.info("read %s; next in %.0f s", "done" if ok else "incomplete", wait)
        try:
            if stop.wait(wait):
                return 0
        except KeyboardInterrupt:
            return 0


def _once(read_ok: bool, provider: Any, watch: ExportWatch) -> int:
    """Export what was read now; 1 when a read or the export failed (a cron job must see it)."""
    provider.force_flush()
    if watch.failures:
        print(f"{PROG}: exporting the metrics failed ({watch.failures} of {watch.exports} exports)",
              file=sys.stderr)
    if not read_ok:
        print(f"{PROG}: some reads failed; their days were not exported", file=sys.stderr)
    return 1 if watch.failures or not read_ok else 0


if __name__ == "__main__":
    sys.exit(main())
