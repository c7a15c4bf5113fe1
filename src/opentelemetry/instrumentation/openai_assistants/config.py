"""Settings: keyword options of ``instrument()`` over ``OTEL_*`` environment variables over defaults."""

from __future__ import annotations

import difflib
import logging
import os
from dataclasses import dataclass, field, fields
from typing import Any, Mapping, Optional

logger = logging.getLogger(__name__)

ENV_PREFIX = "OTEL_INSTRUMENTATION_OPENAI_ASSISTANTS_"
ENV_CAPTURE_CONTENT = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off", ""}
_CONTENT_ON_SPANS = {"true", "span_only", "span_and_event"}
_CONTENT_VALUES = _CONTENT_ON_SPANS | {"", "false", "no_content", "event_only"}


@dataclass
class Settings:
    """Everything the instrumentor can be told; each field has an ``ENV_PREFIX + NAME`` variable."""

    capture_content: bool = field(default=False, metadata={
        "doc": "Record prompts, messages, tool arguments and logs on spans "
               "(also OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT).",
        "env": True})
    content_max_length: int = field(default=8192, metadata={
        "doc": "Characters of each captured text kept; longer texts are cut.", "min": 0, "max": 1_000_000, "env": True})
    fetch_steps: bool = field(default=True, metadata={
        "doc": "List a finished run's steps off the caller's path when none were seen.", "env": True})
    fetch_timeout_s: float = field(default=5.0, metadata={
        "doc": "Timeout of each background read, seconds.", "min": 0.001, "max": 300.0, "env": True})
    fetch_concurrency: int = field(default=2, metadata={
        "doc": "Background workers reading steps, containers and accounting off the caller's path.",
        "min": 1, "max": 64, "env": True})
    fetch_queue_size: int = field(default=1000, metadata={
        "doc": "Background tasks waiting at most; past it a task is dropped and counted.",
        "min": 1, "max": 1_000_000, "env": True})
    enrichment_timeout_s: float = field(default=30.0, metadata={
        "doc": "How long a run's span may wait for its background enrichment, seconds.",
        "min": 0.0, "max": 3600.0, "env": True})
    unobserved_run_timeout_s: float = field(default=3600.0, metadata={
        "doc": "End a run never seen to finish (when it has no expires_at) this long after creation, seconds.",
        "min": 0.1, "max": 604_800.0, "env": True})
    expiry_grace_s: float = field(default=60.0, metadata={
        "doc": "Past expires_at, before a run never seen to finish is ended, seconds.",
        "min": 0.0, "max": 86_400.0, "env": True})
    max_tracked_runs: int = field(default=4_000, metadata={
        "doc": "Runs and responses tracked at once, each (~2.6 KB a run, ~1.3 KB a response: ~15.5 MB at "
               "the default); past it the oldest is ended and counted.",
        "min": 1, "max": 10_000_000, "env": True})
    trace_observed_runs: bool = field(default=False, metadata={
        "doc": "Spans for runs and responses created elsewhere and only observed here.", "env": True})
    estimate_sample_rate: float = field(default=0.0, metadata={
        "doc": "Share of runs with reported usage also estimated, to measure the estimate's error.",
        "min": 0.0, "max": 1.0, "env": True})
    assistant_label: bool = field(default=True, metadata={
        "doc": "gen_ai.agent.name on metrics.", "env": True})
    metadata_keys: tuple[str, ...] = field(default=(), metadata={
        "doc": "Run, thread and assistant metadata keys copied to spans (comma-separated in the environment).",
        "env": True})
    metadata_metric_labels: bool = field(default=False, metadata={
        "doc": "Copy metadata_keys to metric labels too (mind their cardinality).", "env": True})
    prices: Any = field(default=None, metadata={
        "doc": "Path to a JSON price file, or a dict, over the shipped prices "
               "(also OTEL_INSTRUMENTATION_OPENAI_ASSISTANTS_PRICES).",
        "env": True})
    deployments: dict[str, str] = field(default_factory=dict, metadata={
        "doc": "Deployment name -> model name (name=model pairs, comma-separated, in the environment).", "env": True})
    session_window_s: float = field(default=3600.0, metadata={
        "doc": "Code Interpreter session window, seconds (Assistants).", "min": 1.0, "max": 86_400.0, "env": True})
    session_idle_s: Optional[float] = field(default=None, metadata={
        "doc": "Idle time that ends a Code Interpreter session early, seconds; unset: none (Assistants).",
        "min": 1.0, "max": 86_400.0, "env": True})
    session_lateness_s: float = field(default=3600.0, metadata={
        "doc": "In-memory store: how long past a session's window its calls may arrive, seconds.",
        "min": 0.0, "max": 604_800.0, "env": True})
    session_max_threads: int = field(default=50_000, metadata={
        "doc": "In-memory store: threads kept (~170 B a thread: ~8.4 MB at the default); past it, live "
               "evictions are counted.",
        "min": 1, "max": 100_000_000, "env": True})
    claims_max_entries: int = field(default=20_000, metadata={
        "doc": "In-memory store: container claims, container deletions and response claims kept, each "
               "(~115, ~120 and ~80 B an entry: ~6.3 MB at the default); past it the oldest is dropped, and "
               "a container claim dropped before its settlement is counted.",
        "min": 1, "max": 100_000_000, "env": True})
    session_store: Any = field(default=None, metadata={
        "doc": "A SessionStore, or memory / redis (the environment's spelling).", "env": True})
    redis_url: Optional[str] = field(default=None, metadata={
        "doc": "Shorthand for a RedisSessionStore at this URL.", "env": True})
    redis_connect_timeout_s: float = field(default=1.0, metadata={
        "doc": "Connect timeout to Redis, seconds: a hung Redis must not stall the background workers.",
        "min": 0.01, "max": 60.0, "env": True})
    redis_timeout_s: float = field(default=0.5, metadata={
        "doc": "Timeout of each read or write on the Redis socket, seconds.", "min": 0.01, "max": 60.0, "env": True})
    overheads: Any = field(default=None, metadata={
        "doc": "accounting.estimator.Overheads for estimates (instrument() only).", "env": False})
    assistants: bool = field(default=True, metadata={"doc": "Trace the Assistants API.", "env": True})
    responses: bool = field(default=True, metadata={
        "doc": "Trace the Responses API (with Conversations and Containers).", "env": True})
    responses_spans: bool = field(default=True, metadata={
        "doc": "False: Responses money and metrics only, spans left to another instrumentation.", "env": True})
    assume_auto_container: bool = field(default=False, metadata={
        "doc": "Charge the minimum for an auto container a response did not name.", "env": True})
    container_sessions: str = field(default="life", metadata={
        "doc": "life: a container's idle minutes before expiry are billed; active: not.", "env": True})
    container_clock: Any = field(default=None, metadata={
        "doc": "Callable returning API time in seconds, for container expiry and deletion; time.time "
               "(instrument() only).",
        "env": False})
    history_max_bytes: int = field(default=8 << 20, metadata={
        "doc": "Thread history kept for estimates (token counts, not texts), bytes (8 MiB: ~8.4 MB); a "
               "thread dropped is read again when next estimated.",
        "min": 0, "max": 1 << 40, "env": True})
    regional_processing: bool = field(default=False, metadata={
        "doc": "Every request is regional processing (a data-residency project reached through api.openai.com); "
               "requests to a data-residency host (eu.api.openai.com, ...) are regional without it.",
        "env": True})
    chat: bool = field(default=True, metadata={
        "doc": "Trace chat completions, legacy completions, embeddings and moderations.", "env": True})
    chat_spans: str = field(default="auto", metadata={
        "doc": "auto: our chat span only where no other OpenAI instrumentation made one; always; never.",
        "env": True})
    media: bool = field(default=True, metadata={
        "doc": "Trace the images, audio, videos and batches APIs.", "env": True})

    @classmethod
    def load(cls, options: Mapping[str, Any], environ: Optional[Mapping[str, str]] = None) -> Settings:
        """Defaults, then ``OTEL_*`` variables, then ``instrument()`` keywords. A misspelt keyword, an
        unreadable variable or a value out of bounds gives one warning naming the option, the value
        given and the value used; nothing raises."""
        env = os.environ if environ is None else environ
        settings = cls()
        settings.capture_content = _content_switch(env.get(ENV_CAPTURE_CONTENT))
        known = {f.name: f for f in fields(cls)}
        for f in known.values():
            raw = env.get(ENV_PREFIX + f.name.upper())
            if raw is not None and f.metadata.get("env", True):
                _set_from_text(settings, f.name, raw)
        for name, value in options.items():
            if name in known:
                setattr(settings, name, value)
            elif name not in INSTRUMENTOR_KEYWORDS:
                close = difflib.get_close_matches(name, known, n=1)
                logger.warning("openai-assistants: unknown option %s=%r ignored%s", name, value,
                               f" (did you mean {close[0]}?)" if close else "")
        for f in known.values():
            _check(settings, f)
        return settings


# Keywords BaseInstrumentor.instrument() and OpenTelemetry distros pass that are not ours.
INSTRUMENTOR_KEYWORDS = frozenset({"tracer_provider", "meter_provider", "logger_provider", "event_logger_provider",
                                   "skip_dep_check", "raise_exception_on_conflict"})
_CHOICES = {"container_sessions": ("life", "active"), "chat_spans": ("auto", "always", "never")}


def bounds(name: str) -> tuple[Optional[float], Optional[float]]:
    """The documented (min, max) of a setting; None where unbounded."""
    meta = next(f.metadata for f in fields(Settings) if f.name == name)
    return meta.get("min"), meta.get("max")


def _check(settings: Settings, f: Any) -> None:
    """An ill-typed or out-of-range value: the nearest valid value (else the default), said once."""
    value = getattr(settings, f.name)
    used = _valid(f, value)
    if used is value:
        return
    if used != value:
        logger.warning("openai-assistants: option %s=%r is invalid (expected %s); using %r", f.name, value,
                       _expected(f), used)
    setattr(settings, f.name, used)


def _valid(f: Any, value: Any) -> Any:
    default = f.default_factory() if callable(f.default_factory) else f.default
    low, high = f.metadata.get("min"), f.metadata.get("max")
    if low is not None or high is not None:
        if value is None and default is None:
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
            return default
        kind = int if isinstance(default, int) else float
        try:
            number = kind(value)
        except (OverflowError, ValueError):  # int(inf)
            return default
        if low is not None and number < low:
            number = kind(low)
        if high is not None and number > high:
            number = kind(high)
        return value if number == value and type(value) is kind else number
    if isinstance(default, bool) and not isinstance(value, bool):
        return bool(value) if value in (0, 1) else default
    if f.name in _CHOICES and value not in _CHOICES[f.name]:
        return default
    return value


def _expected(f: Any) -> str:
    low, high = f.metadata.get("min"), f.metadata.get("max")
    if f.name in _CHOICES:
        return "one of " + ", ".join(_CHOICES[f.name])
    if low is not None or high is not None:
        return f"a number from {low} to {high}"
    return "true or false"


def _content_switch(raw: Optional[str]) -> bool:
    """Both spellings: ``true``/``false`` and util-genai's ``NO_CONTENT|SPAN_ONLY|EVENT_ONLY|SPAN_AND_EVENT``.

    Content goes on spans only; ``EVENT_ONLY`` captures nothing because no log events are emitted.
    """
    value = (raw or "").strip().lower()
    if value not in _CONTENT_VALUES:
        logger.warning("openai-assistants: %s=%r is not one of true, false, NO_CONTENT, SPAN_ONLY, EVENT_ONLY, "
                       "SPAN_AND_EVENT; using false", ENV_CAPTURE_CONTENT, raw)
    return value in _CONTENT_ON_SPANS


def _set_from_text(settings: Settings, name: str, raw: str) -> None:
    current = getattr(settings, name)
    text = raw.strip()
    try:
        value: Any
        if isinstance(current, bool):
            lowered = text.lower()
            if lowered not in _TRUE and lowered not in _FALSE:
                raise ValueError(raw)
            value = lowered in _TRUE
        elif isinstance(current, int):
            value = int(text)
        elif isinstance(current, float) or name == "session_idle_s":
            value = float(text)
            if value != value or value in (float("inf"), float("-inf")):
                raise ValueError(raw)
        elif isinstance(current, tuple):
            value = tuple(part.strip() for part in raw.split(",") if part.strip())
        elif isinstance(current, dict):
            value = dict(pair.split("=", 1) for pair in raw.split(",") if "=" in pair)
        else:
            value = text
        setattr(settings, name, value)
    except (TypeError, ValueError):
        logger.warning("openai-assistants: %s%s=%r is not valid for %s; using %r", ENV_PREFIX, name.upper(), raw,
                       name, current)
