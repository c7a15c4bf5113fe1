"""gunicorn settings that give each worker its own OTLP telemetry: ``gunicorn -c examples/gunicorn.conf.py app:app``.

Telemetry is set up in ``post_fork``, in the worker, so every worker has its own exporters and its own
``service.instance.id`` (see ``otlp_setup.py``). This works with ``--preload`` too, as long as the app does
not record telemetry while it is imported in the master.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))

workers = 2
_providers: Optional[tuple[Any, Any]] = None


def post_fork(server: Any, worker: Any) -> None:
    """In the new worker: its own providers, exporters and instance id."""
    global _providers
    from otlp_setup import setup_telemetry

    _providers = setup_telemetry("assistants-app")
    server.log.info("worker %s: OpenTelemetry OTLP export set up", worker.pid)


def worker_exit(server: Any, worker: Any) -> None:
    """In the leaving worker: export what it still holds (``atexit`` would too, but not after ``os._exit``)."""
    if _providers is not None:
        from otlp_setup import flush_telemetry

        flush_telemetry(*_providers)
