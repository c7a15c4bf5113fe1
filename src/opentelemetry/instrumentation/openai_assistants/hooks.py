"""The five places the SDK is patched, and nothing else.

Every Assistants surface of the SDK (plain methods, ``with_raw_response``, ``with_streaming_response``,
the polling and streaming helpers) ends in ``request`` of the base client, parses its body in
``_parse`` of a response class, and reads SSE through ``Stream.__stream__``. Hooking those few
functions sees every call and every object the app reads, and nothing the app does not read, without
the ``cached_property`` trap of patching resource methods. Each hook hands what it saw to the tracker
and returns or raises exactly what the SDK did.
"""

from __future__ import annotations

import logging
import re
import time
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Callable, Iterator, Optional, Protocol

from opentelemetry.instrumentation.utils import is_instrumentation_enabled

from opentelemetry import context as otel_context

logger = logging.getLogger(__name__)

_ASSISTANTS_PATH = re.compile(r"^/?(?:assistants|threads)(?:/|\?|$)")


@dataclass
class Call:
    """One SDK request to the Assistants API, as the app made it."""

    method: str
    path: str
    body: dict[str, Any]
    started_ns: int
    context: otel_context.Context
    client: Any
    state: dict[str, Any] = field(default_factory=dict)  # what the tracker keeps for the call's lifetime


class Observer(Protocol):
    """What the hooks report to (the run tracker)."""

    enabled: bool

    def call_started(self, call: Call) -> None: ...
    def call_ended(self, call: Call, error: Optional[BaseException]) -> None: ...
    def observe(self, call: Call, parsed: Any) -> None: ...
    def stream_opened(self, call: Call) -> Optional[StreamWatcher]: ...


class StreamWatcher(Protocol):
    def event(self, event: Any) -> None: ...
    def closed(self, error: Optional[BaseException]) -> None: ...


_current: ContextVar[Optional[Call]] = ContextVar("openai_assistants_call", default=None)


def _safe(what: str, fn: Callable[..., Any], *args: Any) -> Any:
    try:
        return fn(*args)
    except Exception:  # never let our own failure reach the app
        logger.debug("openai-assistants instrumentation: %s failed", what, exc_info=True)
        return None


def _call_from_options(client: Any, options: Any) -> Optional[Call]:
    path = getattr(options, "url", None)
    if not isinstance(path, str) or not _ASSISTANTS_PATH.match(path):
        return None
    body = getattr(options, "json_data", None)
    return Call(
        method=str(getattr(options, "method", "get")).lower(),
        path=path.split("?", 1)[0].lstrip("/"),
        body=body if isinstance(body, dict) else {},
        started_ns=time.time_ns(),
        context=otel_context.get_current(),
        client=client,
    )


def _active(observer: Observer) -> bool:
    return observer.enabled and is_instrumentation_enabled()


# --- request: the call's start, parent context and outcome ------------------------------------


def _begin(observer: Observer, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    options = args[1] if len(args) > 1 else kwargs.get("options")
    if getattr(options, "method", None) == "get" or not _active(observer):
        return None  # reads (every poll) need no call record: what they return is observed at parse time
    call = _safe("reading a request", _call_from_options, instance, options)
    if call is None:
        return None
    _safe("starting a call", observer.call_started, call)
    return call, _current.set(call)


def _end(observer: Observer, began: Any, error: Optional[BaseException]) -> None:
    if began is None:
        return
    call, token = began
    _current.reset(token)
    _safe("ending a call", observer.call_ended, call, error)


def sync_request(observer: Observer) -> Callable[..., Any]:
    def wrapper(wrapped: Callable[..., Any], instance: Any, args: Any, kwargs: Any) -> Any:
        began = _begin(observer, instance, args, kwargs)
        try:
            result = wrapped(*args, **kwargs)
        except BaseException as error:
            _end(observer, began, error)
            raise
        _end(observer, began, None)
        return result

    return wrapper


def async_request(observer: Observer) -> Callable[..., Any]:
    def wrapper(wrapped: Callable[..., Any], instance: Any, args: Any, kwargs: Any) -> Any:
        async def call() -> Any:
            began = _begin(observer, instance, args, kwargs)
            try:
                result = await wrapped(*args, **kwargs)
            except BaseException as error:
                _end(observer, began, error)
                raise
            _end(observer, began, None)
            return result

        return call()

    return wrapper


# --- _parse: every object the app reads ---------------------------------------------------------


def _call_for(response: Any) -> Optional[Call]:
    """The call a response belongs to: the one in flight, else rebuilt for a body parsed later."""
    options = getattr(response, "_options", None)
    current = _current.get()
    if current is not None and options is not None and current.path == str(options.url).lstrip("/"):
        return current
    return _call_from_options(getattr(response, "_client", None), options)


def _observe_parsed(observer: Observer, response: Any, parsed: Any) -> None:
    if getattr(response, "_is_sse_stream", False) or getattr(response, "_stream", False):
        return  # streams are watched event by event
    call = _call_for(response)
    if call is not None:
        observer.observe(call, parsed)


def parse(observer: Observer) -> Callable[..., Any]:
    def wrapper(wrapped: Callable[..., Any], instance: Any, args: Any, kwargs: Any) -> Any:
        parsed = wrapped(*args, **kwargs)
        if _active(observer):
            _safe("observing a response", _observe_parsed, observer, instance, parsed)
        return parsed

    return wrapper


# --- Stream.__stream__: every event the app reads -----------------------------------------------


def _open_watch(observer: Observer, stream: Any) -> Optional[StreamWatcher]:
    if not _active(observer):
        return None
    call = _call_for(stream)
    return observer.stream_opened(call) if call is not None else None


def _watch_sync(events: Iterator[Any], watcher: StreamWatcher) -> Iterator[Any]:
    error: Optional[BaseException] = None
    try:
        for event in events:
            _safe("observing a stream event", watcher.event, event)
            yield event
    except GeneratorExit:
        raise
    except BaseException as exc:
        error = exc
        raise
    finally:
        _safe("closing a stream", watcher.closed, error)
        events.close()  # type: ignore[attr-defined]


async def _watch_async(events: AsyncIterator[Any], watcher: StreamWatcher) -> AsyncIterator[Any]:
    error: Optional[BaseException] = None
    try:
        async for event in events:
            _safe("observing a stream event", watcher.event, event)
            yield event
    except GeneratorExit:
        raise
    except BaseException as exc:
        error = exc
        raise
    finally:
        _safe("closing a stream", watcher.closed, error)
        await events.aclose()  # type: ignore[attr-defined]


def stream(observer: Observer, is_async: bool) -> Callable[..., Any]:
    def wrapper(wrapped: Callable[..., Any], instance: Any, args: Any, kwargs: Any) -> Any:
        events = wrapped(*args, **kwargs)
        watcher = _safe("opening a stream", _open_watch, observer, instance)
        if watcher is None:
            return events
        return _watch_async(events, watcher) if is_async else _watch_sync(events, watcher)

    return wrapper
