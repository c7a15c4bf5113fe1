"""The few API reads the instrumentor makes itself, always from a background thread.

Each read uses a synchronous client derived from the app's client: with no retries and a short
timeout, sharing the app's connection pool while it is open, and with a pool of its own once the
app has closed its client (or when the app's client is async, whose pool belongs to its event
loop). Instrumentation is suppressed around these reads by the caller (``Background``), so they
never become observations, and each outcome is counted.
"""

from __future__ import annotations

import logging
import threading
import weakref
from typing import Any, Callable, Optional

from ..model import Assistant, Message, Step
from . import observe

logger = logging.getLogger(__name__)

Outcome = Callable[[str, str], None]  # (fetch kind, outcome) -> None
MAX_PAGES = 20


class Fetcher:
    def __init__(self, timeout_s: float, count: Outcome) -> None:
        self._timeout_s = timeout_s
        self._count = count
        self._lock = threading.Lock()
        self._own: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()
        self._owned_http: list[Any] = []

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

    def assistant(self, app_client: Any, assistant_id: str) -> Optional[Assistant]:
        return self._read("assistant", app_client,
                          lambda client: observe.assistant(client.beta.assistants.retrieve(assistant_id)))

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
                return app_client.with_options(max_retries=0, timeout=self._timeout_s)
            with self._lock:
                client = self._own.get(app_client)
                if client is None:
                    client = self._own[app_client] = self._own_client(app_client)
                return client
        except Exception:
            logger.debug("openai-assistants: no client for background reads", exc_info=True)
            return None

    def _own_client(self, app_client: Any) -> Any:
        """A sync client of our own, talking to the same API as ``app_client`` with the same credentials."""
        import openai

        http = openai.DefaultHttpxClient(transport=_sync_transport(app_client))
        self._owned_http.append(http)
        common: dict[str, Any] = {"http_client": http, "max_retries": 0, "timeout": self._timeout_s}
        if _is_sync(app_client):
            return app_client.copy(**common)
        headers = dict(getattr(app_client, "_custom_headers", {}) or {})
        query = dict(getattr(app_client, "_custom_query", {}) or {})
        if isinstance(app_client, openai.AsyncAzureOpenAI):
            return openai.AzureOpenAI(
                api_key=app_client.api_key, base_url=str(app_client.base_url),
                api_version=query.pop("api-version", None), default_headers=headers, default_query=query,
                **common,
            )
        return openai.OpenAI(
            api_key=app_client.api_key, organization=app_client.organization, project=app_client.project,
            base_url=str(app_client.base_url), default_headers=headers, default_query=query, **common,
        )

    def close(self) -> None:
        with self._lock:
            owned, self._owned_http = self._owned_http, []
            self._own = weakref.WeakKeyDictionary()
        for http in owned:
            try:
                http.close()
            except Exception:
                logger.debug("closing a background client failed", exc_info=True)


def _json(raw: Any) -> dict[str, Any]:
    """A list page as plain JSON: the readers of ``observe`` take dicts, and skipping the SDK's model
    construction halves the cost of a page."""
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
