"""The few API reads the instrumentor makes itself, always from a background thread.

Each read uses a synchronous client derived from the app's client: with no retries and a short
timeout, sharing the app's connection pool while it is open. Once the app has closed its client (or
when the app's client is async, whose pool belongs to its event loop), reads go through a client of
our own, shared by every app client with the same API, credentials and options: an app that makes a
client per request gets one pool here, not one per client. At most ``MAX_SHARED_CLIENTS`` are kept;
the least recently used is closed past that. Instrumentation is suppressed around these reads by the
caller (``Background``), so they never become observations, and each outcome is counted.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections import OrderedDict
from typing import Any, Callable, Optional

from ..model import Assistant, Message, Run, Step
from . import observe

logger = logging.getLogger(__name__)

Outcome = Callable[[str, str], None]  # (fetch kind, outcome) -> None
MAX_PAGES = 20
MAX_SHARED_CLIENTS = 16
BACKOFF_FIRST_S = 30.0  # a failed lookup is not repeated for this long, doubling on each failure ...
BACKOFF_MAX_S = 900.0  # ... up to this
MAX_BACKOFF_ENTRIES = 1024


class Backoff:
    """A small negative cache with expiry: keys whose lookup failed wait before the next try.

    Thread-safe and bounded (oldest entries forgotten first); ``clock`` is injectable for tests.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._failed: OrderedDict[Any, tuple[float, float]] = OrderedDict()  # key -> (retry at, last wait)

    def waiting(self, key: Any) -> bool:
        with self._lock:
            entry = self._failed.get(key)
            return entry is not None and self._clock() < entry[0]

    def record(self, key: Any, ok: bool) -> None:
        with self._lock:
            if ok:
                self._failed.pop(key, None)
                return
            previous = self._failed.pop(key, None)
            wait = min(BACKOFF_MAX_S, previous[1] * 2) if previous else BACKOFF_FIRST_S
            self._failed[key] = (self._clock() + wait, wait)
            while len(self._failed) > MAX_BACKOFF_ENTRIES:
                self._failed.popitem(last=False)


class Fetcher:
    def __init__(self, timeout_s: float, count: Outcome, backoff: Optional[Backoff] = None) -> None:
        self._timeout_s = timeout_s
        self._count = count
        self._backoff = backoff or Backoff()
        self._lock = threading.Lock()
        self._shared: OrderedDict[tuple[Any, ...], tuple[Any, Any]] = OrderedDict()  # key -> (client, http)
        # an open sync app client -> its copy for our reads (sharing its pool): made once, not per read
        self._derived: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()

    # --- reads ------------------------------------------------------------------------------------

    def steps(self, app_client: Any, thread_id: str, run_id: str) -> Optional[list[Step]]:
        def read(client: Any) -> list[Step]:
            steps: list[Step] = []
            after = None
            for _ in range(MAX_PAGES):
                page = _json(client.beta.threads.runs.steps.with_raw_response.list(
                    run_id, thread_id=thread_id, order="asc", limit=100, **_after(after)))
                batch = [s for s in (observe.step(item) for item in observe.items(page.get("data"))) if s]
                steps.extend(batch)
                if not page.get("has_more") or not batch:
                    break
                after = batch[-1].id
            return steps

        return self._read("steps", app_client, read)

    def run(self, app_client: Any, thread_id: str, run_id: str) -> Optional[Run]:
        return self._read("run", app_client, lambda client: observe.run(_json(
            client.beta.threads.runs.with_raw_response.retrieve(run_id, thread_id=thread_id))))

    def assistant(self, app_client: Any, assistant_id: str) -> Optional[Assistant]:
        """The assistant, or None; after a failed lookup the same assistant waits (``Backoff``)
        instead of being read again for every run."""
        key = (str(getattr(app_client, "base_url", "")), assistant_id)
        if self._backoff.waiting(key):
            self._count("assistant", "backoff")
            return None
        found = self._read("assistant", app_client, lambda client: observe.assistant(_json(
            client.beta.assistants.with_raw_response.retrieve(assistant_id))))
        self._backoff.record(key, ok=found is not None)
        return found  # type: ignore[no-any-return]

    def messages(self, app_client: Any, thread_id: str, after: Optional[str], limit: int,
                 run_id: Optional[str] = None) -> Optional[tuple[list[Message], bool]]:
        """One page of a thread's messages, newest first (``run_id`` narrows to one run's)."""

        def read(client: Any) -> tuple[list[Message], bool]:
            extra = {"run_id": run_id} if run_id else {}
            page = _json(client.beta.threads.messages.with_raw_response.list(
                thread_id, order="desc", limit=limit, **_after(after), **extra))
            messages = [m for m in (observe.message(item, thread_id) for item in observe.items(page.get("data"))) if m]
            return messages, bool(page.get("has_more"))

        return self._read("messages", app_client, read)

    def container(self, app_client: Any, container_id: str) -> Any:
        """A Responses container object (hosted tools: its tier and timestamps) as plain JSON: the reader
        takes dicts, and no SDK model is built for the few fields it needs."""
        return self._read("container", app_client,
                          lambda client: _json(client.containers.with_raw_response.retrieve(container_id)))

    def _read(self, kind: str, app_client: Any, read: Callable[[Any], Any]) -> Any:
        for _ in range(2):  # a second time only if the app closed its client during the first
            client = self._client_for(app_client)
            if client is None:
                break
            was_open = _is_sync(app_client) and not app_client.is_closed()
            try:
                result = read(client)
            except Exception as error:
                if was_open and app_client.is_closed():
                    continue
                self._count(kind, "timeout" if "Timeout" in type(error).__name__ else "error")
                logger.debug("openai-assistants: background %s read failed: %s", kind, type(error).__name__)
                return None
            self._count(kind, "ok")
            return result
        self._count(kind, "error")
        return None

    # --- clients ----------------------------------------------------------------------------------

    def _client_for(self, app_client: Any) -> Any:
        try:
            if _is_sync(app_client) and not app_client.is_closed():
                return self._derived_from(app_client)
            key = _identity(app_client)
            with self._lock:
                found = self._shared.get(key)
                if found is not None:
                    self._shared.move_to_end(key)
                    return found[0]
                found = self._shared[key] = self._own_client(app_client)
                evicted = self._shared.popitem(last=False)[1] if len(self._shared) > MAX_SHARED_CLIENTS else None
            if evicted is not None:
                _close(evicted[1])
            return found[0]
        except Exception:
            logger.debug("openai-assistants: no client for background reads", exc_info=True)
            return None

    def _derived_from(self, app_client: Any) -> Any:
        """The app's client with no retries and our timeout, sharing its pool; one per app client and
        credentials (an app that sets a new key on its client is read with the new key)."""
        key = (getattr(app_client, "api_key", None), str(getattr(app_client, "base_url", "")))
        with self._lock:
            found = self._derived.get(app_client)
        if found is not None and found[0] == key:
            return found[1]
        derived = app_client.with_options(max_retries=0, timeout=self._timeout_s)
        with self._lock:
            self._derived[app_client] = (key, derived)
        return derived

    def _own_client(self, app_client: Any) -> tuple[Any, Any]:
        """A sync client of our own, talking to the same API as ``app_client`` with the same
        credentials, and its HTTP client (ours to close)."""
        import openai

        http = openai.DefaultHttpxClient(transport=_sync_transport(app_client))
        common: dict[str, Any] = {"http_client": http, "max_retries": 0, "timeout": self._timeout_s}
        if _is_sync(app_client):
            return app_client.copy(**common), http
        headers = dict(getattr(app_client, "_custom_headers", {}) or {})
        query = dict(getattr(app_client, "_custom_query", {}) or {})
        if isinstance(app_client, openai.AsyncAzureOpenAI):
            return openai.AzureOpenAI(
                api_key=app_client.api_key, base_url=str(app_client.base_url),
                api_version=query.pop("api-version", None), default_headers=headers, default_query=query,
                **common,
            ), http
        return openai.OpenAI(
            api_key=app_client.api_key, organization=app_client.organization, project=app_client.project,
            base_url=str(app_client.base_url), default_headers=headers, default_query=query, **common,
        ), http

    def shared_clients(self) -> int:
        with self._lock:
            return len(self._shared)

    def close(self) -> None:
        with self._lock:
            owned, self._shared = list(self._shared.values()), OrderedDict()
        for _, http in owned:
            _close(http)


def _close(http: Any) -> None:
    try:
        http.close()
    except Exception:
        logger.debug("closing a background client failed", exc_info=True)


def _identity(app_client: Any) -> tuple[Any, ...]:
    """What makes two app clients interchangeable for our reads: API, credentials, options, transport."""
    def items(name: str) -> tuple[tuple[str, str], ...]:
        return tuple(sorted((str(k), str(v)) for k, v in (getattr(app_client, name, None) or {}).items()))

    return (
        type(app_client).__name__.replace("Async", ""),
        str(getattr(app_client, "base_url", "")),
        getattr(app_client, "api_key", None),
        getattr(app_client, "organization", None),
        getattr(app_client, "project", None),
        items("_custom_headers"),
        items("_custom_query"),
        id(_sync_transport(app_client)),
    )


def _json(raw: Any) -> dict[str, Any]:
    """An object or a list page as plain JSON: the readers of ``observe`` take dicts, and skipping the
    SDK's model construction halves the cost of a page."""
    body = raw.http_response.json()
    return body if isinstance(body, dict) else {}


def _after(cursor: Optional[str]) -> dict[str, str]:
    return {"after": cursor} if cursor else {}


def _is_sync(client: Any) -> bool:
    import openai

    return isinstance(client, openai.OpenAI)


def _sync_transport(app_client: Any) -> Any:
    """The app's transport when it is a custom one that also serves sync requests (in-process)."""
    transport = getattr(getattr(app_client, "_client", None), "_transport", None)
    if transport is None or type(transport).__name__ in ("HTTPTransport", "AsyncHTTPTransport"):
        return None
    return transport if callable(getattr(transport, "handle_request", None)) else None
