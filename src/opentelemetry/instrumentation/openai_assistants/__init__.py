"""OpenTelemetry instrumentation that measures an app's OpenAI spend: spans, tokens and exact dollars.

Usage::

    from opentelemetry.instrumentation.openai_assistants import OpenAISpendInstrumentor

    OpenAISpendInstrumentor().instrument()

``AssistantsInstrumentor`` is the same class under its first name (the package began with the
Assistants API); both names give the one instrumentor. It works with openai 2.x (from 2.20) and 3.x.

Every run the app creates becomes an ``invoke_agent`` span with a ``chat`` child per run step and
an ``execute_tool`` child per tool call; every response a ``chat`` span with an ``execute_tool``
child per tool-call item; all carrying tokens (reported or estimated) and cost.

Layout: ``hooks`` (the SDK's choke points) hand each call to the API front end that claims its path
(``frontends``; ``assistants/``, ``responses/``), which turns what it observed into the plain records of ``model``,
accounts for them with ``accounting/`` and hands ``invocation`` records to ``telemetry``, the one
writer of spans and metrics.
"""

from __future__ import annotations

import atexit
import importlib
import logging
from typing import Any, Collection, Optional, Union

from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]
from opentelemetry.instrumentation.utils import unwrap
from opentelemetry.metrics import get_meter
from opentelemetry.trace import get_tracer
from wrapt import wrap_function_wrapper

from . import hooks
from .accounting.tokens import default_counter
from .assistants import AssistantsFrontEnd
from .assistants.accountant import price_book
from .assistants.fetch import Fetcher
from .assistants.tracker import RunTracker
from .background import Background
from .chat import ChatFrontEnd
from .chat.tracker import ChatTracker
from .config import Settings
from .ended import EndedIds
from .frontends import FrontEnd, Registry
from .media import MediaFrontEnds
from .metrics import Instruments
from .package import _instruments
from .responses import ResponsesFrontEnd
from .responses.hosted import HostedTools
from .responses.tracker import ResponseTracker
from .semconv import SEMCONV_VERSION
from .stores import session_store
from .telemetry import Telemetry
from .version import __version__

__all__ = ["AssistantsInstrumentor", "OpenAISpendInstrumentor"]

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


def _streams_carry_options() -> bool:
    """Whether this SDK's streams keep their request options (openai >= 2.22; older ones do not)."""
    stream = _hook_owner("openai._streaming", "Stream")
    return stream is not None and (hasattr(stream, "_options") or "_options" in getattr(stream, "__annotations__", {}))


class OpenAISpendInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Traces and meters the spend of an app's ``openai`` SDK calls (sync and async, openai 2.x and 3.x).

    Options (besides those of ``config.Settings``): ``assistants=False`` or ``responses=False`` leave
    that API untraced; ``responses_spans=False`` keeps Responses money and metrics but makes no spans.
    """

    _tracker: Optional[RunTracker] = None
    _registry: Optional[Registry] = None
    _responses: Optional[ResponseTracker] = None
    _hosted: Optional[HostedTools] = None
    _background: Optional[Background] = None
    _fetcher: Optional[Fetcher] = None
    _ended_runs: Optional[EndedIds] = None  # outlive uninstrument(): a restart traces nothing twice
    _ended_responses: Optional[EndedIds] = None
    _chat: Optional[ChatTracker] = None
    _sessions: Optional[tuple[Any, Any]] = None  # (store settings, store): outlives uninstrument() too
    _on_session_eviction: Any = None

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
        background = Background(settings.fetch_concurrency, settings.fetch_queue_size, tick_s=1.0,
                                on_tick=self._sweep)
        prices = price_book(settings)
        if self._ended_runs is None or self._ended_responses is None:
            self._ended_runs, self._ended_responses = EndedIds(max(1, settings.max_tracked_runs)), EndedIds()
        sessions = self._kept_sessions(settings, telemetry)
        assistants = AssistantsFrontEnd(settings, telemetry, background, prices, ended=self._ended_runs,
                                        sessions=sessions)
        responses = ResponsesFrontEnd(settings, telemetry, background, prices, default_counter(),
                                      retrieve=assistants.fetcher.container, ended=self._ended_responses,
                                      store=sessions)
        self._hosted = responses.hosted
        self._tracker, self._background, self._fetcher = assistants.tracker, background, assistants.fetcher
        self._responses = responses.tracker
        chat = ChatFrontEnd(settings, telemetry, background, prices, default_counter())
        self._chat = chat.tracker
        chosen: list[tuple[bool, FrontEnd]] = [(settings.assistants, assistants.tracker),
                                               (settings.responses, responses.tracker), (settings.chat, chat.tracker)]
        media = MediaFrontEnds(settings, telemetry, background, prices, sessions, default_counter())
        chosen += [(settings.media, front_end) for front_end in media.front_ends]
        registry = self._registry = Registry(tuple(front_end for on, front_end in chosen if on))
        factories = {
            "sync_request": hooks.sync_request(registry),
            "async_request": hooks.async_request(registry),
            "parse": hooks.parse(registry, _streams_carry_options()),
            "sync_stream": hooks.stream(registry, is_async=False),
            "async_stream": hooks.stream(registry, is_async=True),
        }
        try:
            for module, name, factory in _PATCHES:
                wrap_function_wrapper(module, name, factories[factory])
        except Exception:
            logger.warning("openai-assistants: instrumentation disabled, patching the SDK failed", exc_info=True)
            self._uninstrument()
            return
        atexit.register(self._at_exit)

    def _kept_sessions(self, settings: Settings, telemetry: Telemetry) -> Any:
        """The session and claim store, kept across ``uninstrument()``/``instrument()`` like the ended ids
        (a restart bills no response twice) while the store settings stay the same."""
        self._on_session_eviction = lambda: telemetry.instruments.session_evictions.add(1)
        chosen = settings.session_store
        key = (id(chosen) if chosen is not None and not isinstance(chosen, str) else chosen, settings.redis_url,
               settings.session_window_s, settings.session_idle_s, settings.session_lateness_s,
               settings.session_max_threads, settings.claims_max_entries)
        kept = self._sessions
        if kept is None or kept[0] != key:
            kept = self._sessions = (key, session_store(settings, lambda: self._on_session_eviction()))
        return kept[1]

    def _uninstrument(self, **kwargs: Any) -> None:
        for module, name, _ in _PATCHES:
            owner = _hook_owner(module, name)
            attr = name.split(".")[1]
            if owner is not None and hasattr(vars(owner).get(attr), "__wrapped__"):
                unwrap(owner, attr)
        if self._registry is not None:
            self._registry.enabled = False  # wrappers captured elsewhere go quiet too
        for tracker in self._trackers():
            tracker.enabled = False
            tracker.end_all("shutdown")
        self._shutdown(timeout_s=5.0)
        atexit.unregister(self._at_exit)
        self._tracker = self._background = self._fetcher = self._registry = None  # let every cache go
        self._responses = self._hosted = self._chat = None

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Finish background work (step listing, accounting) so its spans reach the span processors.

        Call it before ``TracerProvider.force_flush()``.
        """
        self._sweep()
        return self._background.drain(timeout_millis / 1000) if self._background else True

    def _trackers(self) -> list[Union[RunTracker, ResponseTracker, ChatTracker]]:
        return [t for t in (self._tracker, self._responses, self._chat) if t is not None]

    def _sweep(self) -> None:
        for tracker in self._trackers():
            tracker.sweep()
        if self._hosted is not None:
            self._hosted.sweep()

    def _at_exit(self) -> None:
        for tracker in self._trackers():
            tracker.end_all("shutdown")
        self._shutdown(timeout_s=5.0)

    def _shutdown(self, timeout_s: float) -> None:
        if self._background is not None:
            self._background.shutdown(timeout_s)
        if self._fetcher is not None:
            self._fetcher.close()


#: The first name of ``OpenAISpendInstrumentor``: the very same class, so the singleton and the entry point stay one.
AssistantsInstrumentor = OpenAISpendInstrumentor
