"""Which Code Interpreter call opened a billed session (CONTEXT §3).

A session belongs to one thread and lasts ``window_s`` (one hour) from the API timestamp of the
call that opened it, optionally ending earlier after ``idle_s`` without calls (Azure: 30 minutes).
The API does not say which call opened a session, so it is inferred per thread over calls ordered by
their API timestamps: the first call with no open session opens one and carries the charge; later
calls in it do not. Calls arrive out of order (several workers, late fetches): a call whose
timestamp falls before the opening call of a later session, close enough that it would have opened
that session itself, is flagged ``late`` and not billed (the later call already carried the
charge). A call outside every known session opens its own, even when it arrives late.

Claims are idempotent per call id: observing the same call twice (a retry, two workers, a replay)
gives the same decision. :class:`MemorySessionStore` serves one process; :class:`RedisSessionStore`
shares decisions between processes with one atomic Lua script per claim.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Optional, Protocol

DEFAULT_WINDOW_S = 3600
MAX_SESSIONS_PER_THREAD = 32  # older sessions are forgotten: calls that late are judged without them
MAX_CALLS_PER_THREAD = 4096


@dataclass(frozen=True)
class SessionDecision:
    opened: bool  # this call opened the session: it carries the session's charge
    late: bool  # arrived after a decision it would have changed: not billed
    session_started_at: Optional[int]  # API timestamp of the session's opening call


class SessionStore(Protocol):
    def claim(self, thread_id: str, call_id: str, call_ts: int) -> SessionDecision: ...


def decide(
    sessions: list[list[int]], call_ts: int, window_s: int, idle_s: Optional[int]
) -> tuple[SessionDecision, list[list[int]]]:
    """The decision for a new call and the thread's updated sessions ([start, last call] by start).

    The reference for the Redis script, which implements the same steps.
    """
    for session in sessions:
        start, last = session
        if start <= call_ts < start + window_s and (idle_s is None or call_ts <= last + idle_s):
            session[1] = max(last, call_ts)
            return SessionDecision(False, False, start), sessions
    for start, _ in sessions:
        if call_ts < start < call_ts + window_s:
            # It would have opened a session covering ``start``'s call: that call was charged.
            return SessionDecision(False, True, start), sessions
    sessions = sorted([*sessions, [call_ts, call_ts]])[-MAX_SESSIONS_PER_THREAD:]
    return SessionDecision(True, False, call_ts), sessions


class _ThreadSessions:
    def __init__(self) -> None:
        self.sessions: list[list[int]] = []
        self.calls: OrderedDict[str, SessionDecision] = OrderedDict()


class MemorySessionStore:
    """In-process store: at most ``max_threads`` threads (LRU), thread-safe."""

    def __init__(
        self, window_s: int = DEFAULT_WINDOW_S, idle_s: Optional[int] = None, *, max_threads: int = 10_000
    ) -> None:
        self.window_s = window_s
        self.idle_s = idle_s
        self._max = max_threads
        self._lock = threading.Lock()
        self._threads: OrderedDict[str, _ThreadSessions] = OrderedDict()

    def claim(self, thread_id: str, call_id: str, call_ts: int) -> SessionDecision:
        with self._lock:
            state = self._threads.get(thread_id)
            if state is None:
                state = self._threads[thread_id] = _ThreadSessions()
            self._threads.move_to_end(thread_id)
            while len(self._threads) > self._max:
                self._threads.popitem(last=False)
            known = state.calls.get(call_id)
            if known is not None:
                return known
            decision, state.sessions = decide(state.sessions, int(call_ts), self.window_s, self.idle_s)
            state.calls[call_id] = decision
            while len(state.calls) > MAX_CALLS_PER_THREAD:
                state.calls.popitem(last=False)
            return decision


# KEYS[1]: the thread's sessions (JSON list of [start, last]); KEYS[2]: hash call id -> decision.
# ARGV: call id, call ts, window, idle (-1: none), ttl, max sessions. Returns "opened|late|start".
_CLAIM_SCRIPT = """
local known = redis.call('HGET', KEYS[2], ARGV[1])
if known then return known end
local ts = tonumber(ARGV[2])
local window = tonumber(ARGV[3])
local idle = tonumber(ARGV[4])
local ttl = tonumber(ARGV[5])
local max_sessions = tonumber(ARGV[6])
local raw = redis.call('GET', KEYS[1])
local sessions = {}
if raw then sessions = cjson.decode(raw) end
local result = nil
for _, s in ipairs(sessions) do
  if s[1] <= ts and ts < s[1] + window and (idle < 0 or ts <= s[2] + idle) then
    if ts > s[2] then s[2] = ts end
    result = '0|0|' .. string.format('%d', s[1])
    break
  end
end
if not result then
  for _, s in ipairs(sessions) do
    if ts < s[1] and s[1] < ts + window then
      result = '0|1|' .. string.format('%d', s[1])
      break
    end
  end
end
if not result then
  table.insert(sessions, {ts, ts})
  table.sort(sessions, function(a, b) return a[1] < b[1] end)
  while #sessions > max_sessions do table.remove(sessions, 1) end
  result = '1|0|' .. string.format('%d', ts)
end
redis.call('SET', KEYS[1], cjson.encode(sessions), 'EX', ttl)
redis.call('HSET', KEYS[2], ARGV[1], result)
redis.call('EXPIRE', KEYS[2], ttl)
return result
"""


class RedisSessionStore:
    """Decisions shared by processes through Redis: one atomic script per claim, keyed per thread.

    Key expiry (``ttl_s``, default one day and at least two windows) only collects garbage; it
    bounds how late a call can arrive and still be recognised. A client built here from a URL has
    socket timeouts (``connect_timeout_s``, ``timeout_s``): a hung Redis fails a claim (the call is
    left unpriced with a reason) instead of stalling the background workers. ``redis`` is imported lazily: it is
    an optional dependency (``pip install redis``).
    """

    def __init__(
        self,
        client: Any = None,
        *,
        url: Optional[str] = None,
        prefix: str = "otel:assistants:ci:",
        window_s: int = DEFAULT_WINDOW_S,
        idle_s: Optional[int] = None,
        ttl_s: Optional[int] = None,
        connect_timeout_s: float = 1.0,
        timeout_s: float = 0.5,
    ) -> None:
        if client is None or isinstance(client, str):
            import redis

            client = redis.Redis.from_url(url or client or "redis://127.0.0.1:6379/0",
                                          socket_connect_timeout=connect_timeout_s, socket_timeout=timeout_s)
        self._client = client
        self.prefix = prefix
        self.window_s = window_s
        self.idle_s = idle_s
        self.ttl_s = ttl_s if ttl_s is not None else max(86_400, 2 * window_s)
        self._script = client.register_script(_CLAIM_SCRIPT)

    def claim(self, thread_id: str, call_id: str, call_ts: int) -> SessionDecision:
        base = f"{self.prefix}{{{thread_id}}}"  # hash tag: both keys in one cluster slot
        raw = self._script(
            keys=[f"{base}:sessions", f"{base}:calls"],
            args=[
                call_id,
                int(call_ts),
                self.window_s,
                -1 if self.idle_s is None else self.idle_s,
                self.ttl_s,
                MAX_SESSIONS_PER_THREAD,
            ],
        )
        text = raw.decode() if isinstance(raw, bytes) else str(raw)
        opened, late, start = text.split("|")
        return SessionDecision(opened == "1", late == "1", int(start))
