"""The one session and claim store of the instrumentor, built from the settings and handed to every
front end: Assistants session decisions, container claims and response claims live in it, in memory
or in Redis shared by processes."""

from __future__ import annotations

import logging
from typing import Callable, Optional

from .accounting.sessions import MemorySessionStore, RedisSessionStore, SessionStore
from .config import Settings

logger = logging.getLogger(__name__)


def session_store(settings: Settings, on_eviction: Optional[Callable[[], None]] = None) -> SessionStore:
    """The configured store: an object with ``claim``, or a name (``memory``, ``redis``) as the
    environment spells it; anything else is ignored for the in-memory default."""
    chosen = settings.session_store
    if chosen is not None and not isinstance(chosen, str):
        if callable(getattr(chosen, "claim", None)):
            return chosen  # type: ignore[no-any-return]
        logger.debug("openai-assistants: session_store %r has no claim(), using memory", type(chosen).__name__)
    name = chosen.strip().lower() if isinstance(chosen, str) else ""
    if name not in ("", "memory", "redis"):
        logger.debug("openai-assistants: unknown session_store %r, using memory", chosen)
    window = int(settings.session_window_s)
    idle = int(settings.session_idle_s) if settings.session_idle_s else None
    if settings.redis_url or name == "redis":
        try:
            return RedisSessionStore(url=settings.redis_url, window_s=window, idle_s=idle,
                                     connect_timeout_s=settings.redis_connect_timeout_s,
                                     timeout_s=settings.redis_timeout_s)
        except Exception as error:
            logger.warning("openai-assistants: Redis session store unavailable, using memory: %s", error)
    store = MemorySessionStore(window_s=window, idle_s=idle, lateness_s=int(settings.session_lateness_s),
                               max_threads=settings.session_max_threads, on_live_eviction=on_eviction)
    store.max_containers = settings.claims_max_entries
    return store
