"""The five places the SDK is patched, and nothing else.

Every API surface of the SDK (plain methods, ``with_raw_response``, ``with_streaming_response``,
the polling and streaming helpers) ends in ``request`` of the base client, parses its body in
``_parse`` of a response class, and reads SSE through ``Stream.__stream__``. Hooking those few
functions sees every call and every object the app reads, and nothing the app does not read, without
the ``cached_property`` trap of patching resource methods. Each hook hands what it saw to the front
end that claims the request path (``frontends.Registry``) and returns or raises exactly what the SDK did.
"""

from __future__ import annotations

import logging
import time
from contextvars import ContextVar
from typing import Any, AsyncIterator, Callable, Iterator, Optional

from opentelemetry.instrumentation.utils import is_instrumentation_enabled

from opentelemetry import context as otel_context

from .eventroutes import KEEP, KEPT_MAX, WATCH
from .frontends import Call, FrontEnd, Registry, StreamWatcher

try:  # the keys ``is_instrumentation_enabled`` reads, to read them on a context already at hand
    from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY as _SUPPRESS_KEY
except ImportError:  # an API without it: its own check is used
    _SUPPRESS_KEY = None  # type: ignore[assignment]
_SUPPRESS_KEY_PLAIN = "suppress_instrumentation"

logger = logging.getLogger(__name__)

_current: ContextVar[Optional[Call]] = ContextVar("openai_assistants_call", default=None)
# The response being parsed: openai before 2.22 builds its streams in ``_parse`` without the request
# options, so a stream opened there takes them from the response that builds it.
_parsing: ContextVar[Any] = ContextVar("openai_assistants_parsing", default=None)


def _safe(what: str, fn: Callable[..., Any], *args: Any) -> Any:
    try:
        return fn(*args)
    except Exception:  # never let our own failure reach the app
        logger.debug("openai-assistants instrumentation: %s failed", what, exc_info=True)
        return None


def _call_from_options(registry: Registry, client: Any, options: Any,
                       context: Optional[otel_context.Context] = None) -> Optional[Call]:
    url = getattr(options, "url", None)
    if not isinstance(url, str):
        return None
    path = url.split("?", 1)[0].lstrip("/")
    front_end = registry.claimant(path)
    if front_end is None or not front_end.enabled:
        return None
    body = getattr(options, "json_data", None)
    extra = getattr(options, "extra_json", None)  # extra_body=: how an SDK lacking a parameter sends it
    if isinstance(extra, dict) and extra:
        body = {**body, **extra} if isinstance(body, dict) else dict(extra)
    return Call(
        method=str(getattr(options, "method", "get")).lower(),
        path=path,
        body=body if isinstance(body, dict) else {},
        started_ns=time.time_ns(),
        context=otel_context.get_current() if context is None else context,
        client=client,
        front_end=front_end,
    )


def _active(registry: Registry) -> bool:
    return registry.enabled and is_instrumentation_enabled()


def _enabled_in(context: otel_context.Context) -> bool:
    """``is_instrumentation_enabled`` on a context already read: one read of the context per call
    (the API's check reads it again for each of its two keys)."""
    if _SUPPRESS_KEY is None:
        return is_instrumentation_enabled()
    return not (context.get(_SUPPRESS_KEY) or context.get(_SUPPRESS_KEY_PLAIN))


def _front_end(call: Call) -> FrontEnd:
    assert call.front_end is not None  # set by _call_from_options
    return call.front_end


# --- request: the call's start, parent context and outcome ------------------------------------
# The request and parse hooks run on every call on the app's thread: each step is inlined (no
# ``_safe`` frames, one read of the context) since their Python calls are the caller's overhead.


def _begin(registry: Registry, instance: Any, options: Any) -> Any:
    """The call record of a request that is not a read, made current. Reads (every poll) need none:
    what they return is observed at parse time; the wrappers test that inline (a read pays no call)."""
    try:
        context = otel_context.get_current()
        call = _call_from_options(registry, instance, options, context) if _enabled_in(context) else None
    except Exception:  # never let our own failure reach the app
        logger.debug("openai-assistants instrumentation: reading a request failed", exc_info=True)
        return None
    if call is None or call.front_end is None:
        return None
    try:
        call.front_end.call_started(call)
    except Exception:
        logger.debug("openai-assistants instrumentation: starting a call failed", exc_info=True)
    return call, call.front_end, _current.set(call)


def _end(began: Any, error: Optional[BaseException]) -> None:
    if began is None:
        return
    call, front_end, token = began
    _current.reset(token)
    try:
        front_end.call_ended(call, error)
    except Exception:
        logger.debug("openai-assistants instrumentation: ending a call failed", exc_info=True)


def sync_request(registry: Registry) -> Callable[..., Any]:
    def wrapper(wrapped: Callable[..., Any], instance: Any, args: Any, kwargs: Any) -> Any:
        options = args[1] if len(args) > 1 else kwargs.get("options")
        if getattr(options, "method", None) == "get" or not registry.enabled:
            return wrapped(*args, **kwargs)
        began = _begin(registry, instance, options)
        try:
            result = wrapped(*args, **kwargs)
        except BaseException as error:
            _end(began, error)
            raise
        _end(began, None)
        return result

    return wrapper


def async_request(registry: Registry) -> Callable[..., Any]:
    def wrapper(wrapped: Callable[..., Any], instance: Any, args: Any, kwargs: Any) -> Any:
        options = args[1] if len(args) > 1 else kwargs.get("options")
        if getattr(options, "method", None) == "get" or not registry.enabled:
            return wrapped(*args, **kwargs)  # the SDK's own coroutine: no extra frame on every await of a read

        async def call() -> Any:
            began = _begin(registry, instance, options)
            try:
                result = await wrapped(*args, **kwargs)
            except BaseException as error:
                _end(began, error)
                raise
            _end(began, None)
            return result

        return call()

    return wrapper


# --- _parse: every object the app reads ---------------------------------------------------------


def _call_for(registry: Registry, response: Any, check: bool = False) -> Optional[Call]:
    """The call a response belongs to: the one in flight, else rebuilt for a body parsed later.
    ``check``: a rebuilt call is made only where instrumentation is not suppressed (the call in flight
    was checked when it began), on the one read of the context the call keeps."""
    options = getattr(response, "_options", None)
    if options is None:
        options = getattr(_parsing.get(), "_options", None)
    current = _current.get()
    if current is not None and options is not None and current.path == str(options.url).lstrip("/"):
        return current
    context = otel_context.get_current() if check else None
    if context is not None and not _enabled_in(context):
        return None
    return _call_from_options(registry, getattr(response, "_client", None), options, context)


def _observe_parsed(registry: Registry, response: Any, parsed: Any) -> None:
    if getattr(response, "_is_sse_stream", False) or getattr(response, "_stream", False):
        return  # streams are watched event by event
    call = _call_for(registry, response, check=True)
    if call is not None and call.front_end is not None:
        call.front_end.observe(call, parsed)


def parse(registry: Registry, streams_carry_options: bool = True) -> Callable[..., Any]:
    """``streams_carry_options=False`` (SDKs whose streams lack ``_options``): the response being parsed
    is made current, for the stream hook to find the request options of a stream built by ``_parse``."""

    def wrapper(wrapped: Callable[..., Any], instance: Any, args: Any, kwargs: Any) -> Any:
        parsed = wrapped(*args, **kwargs)
        if registry.enabled:
            try:
                _observe_parsed(registry, instance, parsed)
            except Exception:  # never let our own failure reach the app
                logger.debug("openai-assistants instrumentation: observing a response failed", exc_info=True)
        return parsed

    def wrapper_lending_options(wrapped: Callable[..., Any], instance: Any, args: Any, kwargs: Any) -> Any:
        token = _parsing.set(instance)
        try:
            return wrapper(wrapped, instance, args, kwargs)
        finally:
            _parsing.reset(token)

    return wrapper if streams_carry_options else wrapper_lending_options


# --- Stream.__stream__: every event the app reads -----------------------------------------------


def _open_watch(registry: Registry, stream: Any) -> Optional[StreamWatcher]:
    if not _active(registry):
        return None
    call = _call_for(registry, stream)
    return _front_end(call).stream_opened(call) if call is not None else None


_NO_FIELDS: dict[str, Any] = {}


def _watch_failed(exc: Exception) -> None:
    logger.debug("openai-assistants instrumentation: observing a stream event failed", exc_info=exc)


# The two loops below are the only code run for every event of every stream: each step is written
# out in the loop (a shared helper would be a Python call per event, the very cost ``eventroutes``
# removes). A kind the table lacks asks the watcher once (``route``); a kept event is only appended.


def _watch_sync(events: Iterator[Any], watcher: StreamWatcher) -> Iterator[Any]:
    routes, key, kept, now = watcher.routes, watcher.key, watcher.kept, time.time_ns
    error: Optional[BaseException] = None
    try:
        for event in events:
            try:
                route = routes.get(getattr(event, "__dict__", _NO_FIELDS).get(key)) or watcher.route(event)
                if route == KEEP:
                    kept.append((event, now()))
                    if len(kept) >= KEPT_MAX:
                        watcher.drain()
                elif route == WATCH:
                    watcher.event(event)
            except Exception as exc:  # never let our own failure reach the app
                _watch_failed(exc)
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
    routes, key, kept, now = watcher.routes, watcher.key, watcher.kept, time.time_ns
    error: Optional[BaseException] = None
    try:
        async for event in events:
            try:
                route = routes.get(getattr(event, "__dict__", _NO_FIELDS).get(key)) or watcher.route(event)
                if route == KEEP:
                    kept.append((event, now()))
                    if len(kept) >= KEPT_MAX:
                        watcher.drain()
                elif route == WATCH:
                    watcher.event(event)
            except Exception as exc:  # never let our own failure reach the app
                _watch_failed(exc)
            yield event
    except GeneratorExit:
        raise
    except BaseException as exc:
        error = exc
        raise
    finally:
        _safe("closing a stream", watcher.closed, error)
        await events.aclose()  # type: ignore[attr-defined]


def stream(registry: Registry, is_async: bool) -> Callable[..., Any]:
    def wrapper(wrapped: Callable[..., Any], instance: Any, args: Any, kwargs: Any) -> Any:
        events = wrapped(*args, **kwargs)
        watcher = _safe("opening a stream", _open_watch, registry, instance)
        if watcher is None:
            return events
        return _watch_async(events, watcher) if is_async else _watch_sync(events, watcher)

    return wrapper
