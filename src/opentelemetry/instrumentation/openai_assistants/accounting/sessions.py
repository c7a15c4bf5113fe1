"""Which Code Interpreter call opened a billed session (CONTEXT §3).

A session belongs to one thread and lasts ``window_s`` (one hour) from the API timestamp of the
call that opened it, optionally ending earlier after ``idle_s`` without calls (Azure: 30 minutes).
The API does not say which call opened a session, so it is inferred per thread over calls ordered by
their API timestamps: the first call with no open session opens one and carries the charge; later
calls in it do not. Calls arrive out of order (several workers, late fetches): a call whose
timestamp falls before the opening call of a later session, close enough that it would have opened
that session itself, is flagged ``late`` and not billed (the later call already carried the
charge). A call outside every known session opens its own, even when it arrives late.

Calls in the same API second are ordered by call id, so the ordering (and with it which call opens
a session) is the same in every process; claim a run's calls in that order (``claim_order``). A call
that arrives after another call of the same second with a larger id opened the session is ``late``:
the charge stays where it went, once.

Claims are idempotent per call id: observing the same call twice (a retry, two workers, a replay)
gives the same decision. :class:`MemorySessionStore` serves one process; :class:`RedisSessionStore`
shares decisions between processes with one atomic Lua script per claim. Both also hold the
idempotent money claims of hosted-tool containers (``container_claims``), keyed by container id.
"""

from __future__ import annotations

import contextlib
import threading
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable, Optional, Protocol, Union

from .container_claims import MemoryContainerClaims, RedisContainerClaims
from .digests import digest

DEFAULT_WINDOW_S = 3600
DEFAULT_LATENESS_S = 3600  # how long after a session's window a call of it may still be claimed
DEFAULT_MAX_THREADS = 50_000
MAX_SESSIONS_PER_THREAD = 32  # older sessions are forgotten: calls that late are judged without them
MAX_CALLS_PER_THREAD = 4096

Session = list[Any]  # [start ts, last call ts, opening call id]


@dataclass(frozen=True, slots=True)
class SessionDecision:
    opened: bool  # this call opened the session: it carries the session's charge
    late: bool  # arrived after a decision it would have changed: not billed
    session_started_at: Optional[int]  # API timestamp of the session's opening call


class SessionStore(Protocol):
    def claim(self, thread_id: str, call_id: str, call_ts: int) -> SessionDecision: ...


def claim_order(call_ts: int, call_id: str) -> tuple[int, str]:
    """The order of calls on a thread: API time, then call id within the same second."""
    return call_ts, call_id


def _opening(session: Session) -> tuple[int, str]:
    return session[0], session[2] if len(session) > 2 else ""


def decide(
    sessions: list[Session], call_ts: int, window_s: int, idle_s: Optional[int], call_id: str = ""
) -> tuple[SessionDecision, list[Session]]:
    """The decision for a new call and the thread's updated sessions ([start, last call, opener] by start).

    The reference for the Redis script, which implements the same steps.
    """
    key = claim_order(call_ts, call_id)
    for session in sessions:
        start, last = session[0], session[1]
        if _opening(session) <= key and call_ts < start + window_s and (idle_s is None or call_ts <= last + idle_s):
            session[1] = max(last, call_ts)
            return SessionDecision(False, False, start), sessions
    for session in sessions:
        if key < _opening(session) and session[0] < call_ts + window_s:
            # It would have opened a session covering that session's opening call, which was charged.
            return SessionDecision(False, True, session[0]), sessions
    sessions = sorted([*sessions, [call_ts, call_ts, call_id]], key=_opening)[-MAX_SESSIONS_PER_THREAD:]
    return SessionDecision(True, False, call_ts), sessions


class _ThreadSessions:
    """A thread's sessions and remembered decisions, in full: used once a thread has more than one
    session or a late call (rare). Most threads are held as one packed integer (:func:`_pack`)."""

    __slots__ = ("first_call", "first_decision", "keep_until", "more_calls", "referenced", "sessions")

    def __init__(self, sessions: list[Session], keep_until: int) -> None:
        self.sessions = sessions
        self.first_call: Optional[str] = None  # the oldest call still remembered
        self.first_decision: Optional[SessionDecision] = None
        self.more_calls: Optional[dict[str, SessionDecision]] = None  # later calls, insertion-ordered
        self.keep_until = keep_until  # API time after which no call of this thread's sessions is expected
        self.referenced = False  # claimed again since it was queued for eviction

    def decision(self, call_id: str) -> Optional[SessionDecision]:
        if call_id == self.first_call:
            return self.first_decision
        return self.more_calls.get(call_id) if self.more_calls else None

    def remember(self, call_id: str, decision: SessionDecision) -> None:
        """Keep a decision; past ``MAX_CALLS_PER_THREAD`` the oldest is forgotten."""
        if self.first_call is None and not self.more_calls:
            self.first_call, self.first_decision = call_id, decision
            return
        if self.more_calls is None:
            self.more_calls = {}
        self.more_calls[call_id] = decision
        if len(self.more_calls) + (self.first_call is not None) <= MAX_CALLS_PER_THREAD:
            return
        if self.first_call is not None:
            self.first_call = self.first_decision = None
        else:
            del self.more_calls[next(iter(self.more_calls))]


# A thread with one session is one int: bit 0 "claimed again since queued", bits 1-8 the opening
# call id's length in UTF-8 bytes, then those bytes (kept exactly: same-second calls are ordered by
# id), then the last call's offset from the session's start (20 bits), then the start (API seconds).
_LAST_BITS = 20


def _pack(start: int, last: int, opener: str) -> Optional[int]:
    """One session as one int (~64 B for an API-length call id), or None when it does not fit."""
    try:
        raw = opener.encode()
    except UnicodeEncodeError:
        return None
    offset = last - start
    if start < 0 or not 0 <= offset < 1 << _LAST_BITS or len(raw) > 255:
        return None
    return ((((start << _LAST_BITS | offset) << 8 * len(raw)) | int.from_bytes(raw, "big")) << 8 | len(raw)) << 1


def _unpack(packed: int) -> tuple[int, int, str]:
    """The session of a packed thread: (start, last call, opening call id)."""
    size = packed >> 1 & 0xFF
    rest = packed >> 9
    opener = (rest & ((1 << 8 * size) - 1)).to_bytes(size, "big").decode()
    rest >>= 8 * size
    start = rest >> _LAST_BITS
    return start, start + (rest & ((1 << _LAST_BITS) - 1)), opener


def thread_key(thread_id: str) -> int:
    """A thread's key in the memory store: a 128-bit digest of its id (48 B instead of an ~80 B
    string; a collision is no practical risk, see ``digests.py``)."""
    return digest(thread_id)


_Record = Union[int, _ThreadSessions]


class MemorySessionStore(MemoryContainerClaims):
    """In-process store, thread-safe, kept by time and bounded in size.

    A thread's decisions are kept until ``lateness_s`` past the end of its last session's window, by
    the store's clock: the newest API timestamp it was asked about (so replays of old runs work).
    Memory is bounded by ``max_threads``: past it the least recently queued thread is dropped (a
    thread claimed again since it was queued goes to the back once: a second chance), and if its
    session could still get calls that is a *live eviction* (counted in ``live_evictions``, reported
    to ``on_live_eviction``): a later call of it may be billed a second session.

    Kept small, since a thread is kept for the whole window plus lateness: a thread with one session
    is one packed int under a 128-bit digest of its id (:func:`thread_key`). The opening call's
    decision is derived from it (its id is kept), and calls inside the session are not remembered:
    deciding such a call again from its API timestamp gives the same decision (its session's start
    and opener do not change, the last call only moves later). A late call or a second session turns
    the thread into a :class:`_ThreadSessions`, which remembers every decision as before.
    """

    def __init__(
        self,
        window_s: int = DEFAULT_WINDOW_S,
        idle_s: Optional[int] = None,
        *,
        lateness_s: int = DEFAULT_LATENESS_S,
        max_threads: int = DEFAULT_MAX_THREADS,
        on_live_eviction: Optional[Callable[[], None]] = None,
    ) -> None:
        self.window_s = window_s
        self.idle_s = idle_s
        self.lateness_s = lateness_s
        self._max = max(1, max_threads)
        self._on_live_eviction = on_live_eviction
        self.live_evictions = 0
        self._now = 0
        self._lock = threading.Lock()
        self._threads: dict[int, _Record] = {}  # thread_key -> packed session or full record
        self._queue: deque[int] = deque()  # the same keys, oldest queued first (eviction order)

    @property
    def threads(self) -> int:
        """Threads whose decisions are kept (no ``__len__``: an empty store must stay truthy)."""
        return len(self._threads)

    def claim(self, thread_id: str, call_id: str, call_ts: int) -> SessionDecision:
        ts = int(call_ts)
        key = thread_key(thread_id)
        with self._lock:
            self._now = max(self._now, ts)
            record = self._threads.get(key)
            if record is None:
                decision = SessionDecision(True, False, ts)
                self._threads[key] = self._opened(ts, call_id, decision)
                self._queue.append(key)
            elif isinstance(record, int):
                decision = self._claim_packed(key, record, call_id, ts)
            else:
                decision = self._claim_full(record, call_id, ts)
            live = self._expire()
        for _ in range(live):
            self._count_live_eviction()
        return decision

    def _opened(self, ts: int, call_id: str, decision: SessionDecision) -> _Record:
        packed = _pack(ts, ts, call_id)
        if packed is not None:
            return packed
        state = _ThreadSessions([[ts, ts, call_id]], ts + self.window_s + self.lateness_s)
        state.remember(call_id, decision)
        return state

    def _claim_packed(self, key: int, packed: int, call_id: str, ts: int) -> SessionDecision:
        start, last, opener = _unpack(packed)
        if call_id == opener:
            self._threads[key] = packed | 1
            return SessionDecision(True, False, start)
        decision, sessions = decide([[start, last, opener]], ts, self.window_s, self.idle_s, call_id)
        if not decision.opened and not decision.late:
            repacked = _pack(start, sessions[0][1], opener)
            if repacked is not None:
                self._threads[key] = repacked | 1
                return decision
        state = _ThreadSessions(sessions, 0)
        state.remember(opener, SessionDecision(True, False, start))
        self._threads[key] = state
        self._remember(state, call_id, decision)
        return decision

    def _claim_full(self, state: _ThreadSessions, call_id: str, ts: int) -> SessionDecision:
        state.referenced = True
        decision = state.decision(call_id)
        if decision is None:
            decision, state.sessions = decide(state.sessions, ts, self.window_s, self.idle_s, call_id)
            self._remember(state, call_id, decision)
        return decision

    def _remember(self, state: _ThreadSessions, call_id: str, decision: SessionDecision) -> None:
        state.remember(call_id, decision)
        state.referenced = True
        state.keep_until = max(s[0] for s in state.sessions) + self.window_s + self.lateness_s

    def _keep_until(self, record: _Record) -> int:
        if isinstance(record, int):
            return _unpack(record)[0] + self.window_s + self.lateness_s
        return record.keep_until

    def _expire(self) -> int:
        """Drop threads past their time (from the oldest queued, amortised O(1)), then past the size
        bound; return how many of the latter still had a live session."""
        threads, queue = self._threads, self._queue
        while queue and self._keep_until(threads[queue[0]]) <= self._now:
            del threads[queue.popleft()]
        live = 0
        while len(threads) > self._max:
            key = queue.popleft()
            record = threads[key]
            if _referenced(record):  # claimed since it was queued: a second chance, at the back
                threads[key] = _unreferenced(record)
                queue.append(key)
                continue
            del threads[key]
            live += self._keep_until(record) > self._now
        return live

    def _count_live_eviction(self) -> None:
        self.live_evictions += 1
        if self._on_live_eviction is not None:
            with contextlib.suppress(Exception):  # a metric failure must not fail a claim
                self._on_live_eviction()


def _referenced(record: _Record) -> bool:
    return bool(record & 1) if isinstance(record, int) else record.referenced


def _unreferenced(record: _Record) -> _Record:
    if isinstance(record, int):
        return record & ~1
    record.referenced = False
    return record


# KEYS[1]: the thread's sessions (JSON list of [start, last, opener id]); KEYS[2]: hash call id ->
# decision. ARGV: call id, call ts, window, idle (-1: none), ttl, max sessions. Returns "opened|late|start".
# Ids compare byte by byte (Lua's < on strings follows the server's locale; Python's follows code points).
_CLAIM_SCRIPT = """
local known = redis.call('HGET', KEYS[2], ARGV[1])
if known then return known end
local id = ARGV[1]
local ts = tonumber(ARGV[2])
local window = tonumber(ARGV[3])
local idle = tonumber(ARGV[4])
local ttl = tonumber(ARGV[5])
local max_sessions = tonumber(ARGV[6])
local function bytes_less(a, b)
  local n = math.min(#a, #b)
  for i = 1, n do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return x < y end
  end
  return #a < #b
end
local function before(a_ts, a_id, b_ts, b_id)
  if a_ts ~= b_ts then return a_ts < b_ts end
  return bytes_less(a_id, b_id)
end
local function opener(s) return s[3] or '' end
local raw = redis.call('GET', KEYS[1])
local sessions = {}
if raw then sessions = cjson.decode(raw) end
local result = nil
for _, s in ipairs(sessions) do
  if not before(ts, id, s[1], opener(s)) and ts < s[1] + window and (idle < 0 or ts <= s[2] + idle) then
    if ts > s[2] then s[2] = ts end
    result = '0|0|' .. string.format('%d', s[1])
    break
  end
end
if not result then
  for _, s in ipairs(sessions) do
    if before(ts, id, s[1], opener(s)) and s[1] < ts + window then
      result = '0|1|' .. string.format('%d', s[1])
      break
    end
  end
end
if not result then
  table.insert(sessions, {ts, ts, id})
  table.sort(sessions, function(a, b) return before(a[1], opener(a), b[1], opener(b)) end)
  while #sessions > max_sessions do table.remove(sessions, 1) end
  result = '1|0|' .. string.format('%d', ts)
end
redis.call('SET', KEYS[1], cjson.encode(sessions), 'EX', ttl)
redis.call('HSET', KEYS[2], ARGV[1], result)
redis.call('EXPIRE', KEYS[2], ttl)
return result
"""


class RedisSessionStore(RedisContainerClaims):
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
