"""OpenTelemetry instrumentation for the OpenAI Assistants API.

Usage::

    from opentelemetry.instrumentation.openai_assistants import AssistantsInstrumentor

    AssistantsInstrumentor().instrument()

Every run the app creates becomes an ``invoke_agent`` span with a ``chat`` child per run step and
an ``execute_tool`` child per tool call, carrying tokens (reported or estimated) and cost.
"""

from __future__ import annotations

import atexit
import importlib
import logging
from typing import Any, Collection, Optional

from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]
from opentelemetry.instrumentation.utils import unwrap
from opentelemetry.metrics import get_meter
from opentelemetry.trace import get_tracer
from wrapt import wrap_function_wrapper

from . import hooks
from .accountant import Accountant
from .background import Background
from .config import Settings
from .fetch import Fetcher
from .metrics import Instruments
from .package import _instruments
from .pipeline import RunFinisher
from .semconv import SEMCONV_VERSION
from .telemetry import Telemetry
from .tracker import RunTracker
from .version import __version__

__all__ = ["AssistantsInstrumentor"]

logger = logging.getLogger(__name__)

_SCHEMA_URL = f"https://opentelemetry.io/schemas/{SEMCONV_VERSION}"
_PATCHES = (
    ("openai._base_client", "SyncAPIClient.request", "sync_request"),
    ("openai._base_client", "AsyncAPIClient.request", "async_request"),
    ("openai._response", "BaseAPIResponse._parse", "parse"),
    ("openai._legacy_response", "LegacyAPIResponse._parse", "parse"),
    ("openai._streaming", "Stream.__stream__", "sync_stream"),
    ("openai._streaming", "AsyncStream.__stream__", "async_stream"),
)


def _hook_owner(module: str, name: str) -> Any:
    """The class holding a hook point, or None when this SDK has no such class."""
    try:
        return getattr(importlib.import_module(module), name.split(".")[0], None)
    except Exception:
        return None


def _missing_hook_points() -> list[str]:
    """Every hook point this SDK lacks (all are checked before any is patched)."""
    missing = []
    for module, name, _ in _PATCHES:
        owner = _hook_owner(module, name)
        if owner is None or not callable(getattr(owner, name.split(".")[1], None)):
            missing.append(f"{module}.{name}")
    return missing


class AssistantsInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Traces and meters the Assistants API of the ``openai`` SDK (sync and async)."""

    _tracker: Optional[RunTracker] = None
    _background: Optional[Background] = None
    _fetcher: Optional[Fetcher] = None

    def instrumentation_dependencies(self) -> Collection[str]:
        return _instruments

    def _instrument(self, **kwargs: Any) -> None:
        missing = _missing_hook_points()
        if missing:
            # An SDK whose internals differ: patching part of it would leave a half-watched app.
            logger.warning("openai-assistants: instrumentation disabled, this openai SDK lacks %s",
                           ", ".join(missing))
            self._tracker = self._background = self._fetcher = None
            return
        options = {k: v for k, v in kwargs.items() if k not in ("tracer_provider", "meter_provider")}
        settings = Settings.load(options)
        tracer = get_tracer(__name__, __version__, kwargs.get("tracer_provider"), schema_url=_SCHEMA_URL)
        meter = get_meter(__name__, __version__, kwargs.get("meter_provider"), schema_url=_SCHEMA_URL)
        telemetry = Telemetry(tracer, Instruments(meter), settings)
        accountant = Accountant(settings, on_session_eviction=lambda: telemetry.instruments.session_evictions.add(1))
        fetcher = Fetcher(settings.fetch_timeout_s, telemetry.fetch_outcome)
        tracker = RunTracker(settings, finish=lambda state: finisher(state),
                             on_assistant_call=telemetry.assistant_created, on_message=accountant.remember)
        background = Background(settings.fetch_concurrency, settings.fetch_queue_size, tick_s=1.0,
                                on_tick=tracker.sweep)
        finisher = RunFinisher(settings, background, fetcher, telemetry, tracker.assistants, accountant)
        tracker.on_track = background.ensure_ticking
        self._tracker, self._background, self._fetcher = tracker, background, fetcher
        factories = {
            "sync_request": hooks.sync_request(tracker),
            "async_request": hooks.async_request(tracker),
            "parse": hooks.parse(tracker),
            "sync_stream": hooks.stream(tracker, is_async=False),
            "async_stream": hooks.stream(tracker, is_async=True),
        }
        try:
            for module, name, factory in _PATCHES:
                wrap_function_wrapper(module, name, factories[factory])
        except Exception:
            logger.warning("openai-assistants: instrumentation disabled, patching the SDK failed", exc_info=True)
            self._uninstrument()
            return
        atexit.register(self._at_exit)

    def _uninstrument(self, **kwargs: Any) -> None:
        for module, name, _ in _PATCHES:
            owner = _hook_owner(module, name)
            attr = name.split(".")[1]
            if owner is not None and hasattr(vars(owner).get(attr), "__wrapped__"):
                unwrap(owner, attr)
        if self._tracker is not None:
            self._tracker.enabled = False  # wrappers captured elsewhere go quiet too
            self._tracker.end_all("shutdown")
        self._shutdown(timeout_s=5.0)
        atexit.unregister(self._at_exit)
        self._tracker = self._background = self._fetcher = None  # let every cache go

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Finish background work (step listing, accounting) so its spans reach the span processors.

        Call it before ``TracerProvider.force_flush()``.
        """
        if self._tracker is not None:
            self._tracker.sweep()
        return self._background.drain(timeout_millis / 1000) if self._background else True

    def _at_exit(self) -> None:
        if self._tracker is not None:
            self._tracker.end_all("shutdown")
        self._shutdown(timeout_s=5.0)

    def _shutdown(self, timeout_s: float) -> None:
        if self._background is not None:
            self._background.shutdown(timeout_s)
        if self._fetcher is not None:
            self._fetcher.close()
