"""Settings: keyword options of ``instrument()`` over ``OTEL_*`` environment variables over defaults."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field, fields
from typing import Any, Mapping, Optional

logger = logging.getLogger(__name__)

ENV_PREFIX = "OTEL_INSTRUMENTATION_OPENAI_ASSISTANTS_"
ENV_CAPTURE_CONTENT = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"

_TRUE = {"true", "1", "yes", "on"}
_CONTENT_ON_SPANS = {"true", "span_only", "span_and_event"}


@dataclass
class Settings:
    """Everything the instrumentor can be told; each field has an ``ENV_PREFIX + NAME`` variable."""

    capture_content: bool = False
    content_max_length: int = 8192
    fetch_steps: bool = True  # list a finished run's steps off the caller's path when none were seen
    fetch_timeout_s: float = 5.0
    fetch_concurrency: int = 2
    fetch_queue_size: int = 1000
    enrichment_timeout_s: float = 30.0  # how long a run's span may wait for its background enrichment
    unobserved_run_timeout_s: float = 3600.0  # end a run never seen to finish (when it has no expires_at)
    expiry_grace_s: float = 60.0  # past expires_at, before a run never seen to finish is ended
    max_tracked_runs: int = 10_000
    trace_observed_runs: bool = False  # spans for runs created elsewhere and only observed here
    estimate_sample_rate: float = 0.0  # share of runs with reported usage also estimated, to measure error
    assistant_label: bool = True  # gen_ai.agent.name on metrics
    metadata_keys: tuple[str, ...] = ()  # run/thread/assistant metadata keys copied to spans
    metadata_metric_labels: bool = False  # ... and to metric labels
    prices: Any = None  # path to a JSON price file, or a dict, over the shipped prices
    deployments: dict[str, str] = field(default_factory=dict)  # deployment name -> model
    session_window_s: float = 3600.0
    session_idle_s: Optional[float] = None
    session_lateness_s: float = 3600.0  # in-memory store: how long past a session's window its calls may arrive
    session_max_threads: int = 100_000  # in-memory store: threads kept; past it, live evictions are counted
    session_store: Any = None  # a SessionStore, or "memory" / "redis" (the environment's spelling)
    redis_url: Optional[str] = None  # shorthand for a RedisSessionStore
    redis_connect_timeout_s: float = 1.0  # a hung Redis must not stall the background workers
    redis_timeout_s: float = 0.5  # per read/write on the Redis socket
    overheads: Any = None  # accounting.estimator.Overheads
    assistants: bool = True  # trace the Assistants API
    responses: bool = True  # trace the Responses API (with Conversations and Containers)
    responses_spans: bool = True  # False: Responses money and metrics only, spans left to another instrumentation
    assume_auto_container: bool = False  # charge the minimum for an auto container a response did not name
    container_sessions: str = "life"  # life: a container's idle minutes before expiry are billed; active: not
    container_clock: Any = None  # callable -> API time in seconds, for container expiry and deletion; time.time
    history_max_bytes: int = 32 << 20  # thread history kept for estimates (token counts, not texts)
    media: bool = True  # trace the images, audio, videos and batches APIs

    @classmethod
    def load(cls, options: Mapping[str, Any], environ: Optional[Mapping[str, str]] = None) -> Settings:
        env = os.environ if environ is None else environ
        settings = cls()
        settings.capture_content = _content_switch(env.get(ENV_CAPTURE_CONTENT))
        for f in fields(cls):
            raw = env.get(ENV_PREFIX + f.name.upper())
            if raw is not None:
                _set_from_text(settings, f.name, raw)
        for name, value in options.items():
            if hasattr(settings, name):
                setattr(settings, name, value)
        return settings


def _content_switch(raw: Optional[str]) -> bool:
    """Both spellings: ``true``/``false`` and util-genai's ``NO_CONTENT|SPAN_ONLY|EVENT_ONLY|SPAN_AND_EVENT``.

    Content goes on spans only; ``EVENT_ONLY`` captures nothing because no log events are emitted.
    """
    return (raw or "").strip().lower() in _CONTENT_ON_SPANS


def _set_from_text(settings: Settings, name: str, raw: str) -> None:
    current = getattr(settings, name)
    try:
        value: Any
        if isinstance(current, bool):
            value = raw.strip().lower() in _TRUE
        elif isinstance(current, int):
            value = int(raw)
        elif isinstance(current, float) or name == "session_idle_s":
            value = float(raw)
        elif isinstance(current, tuple):
            value = tuple(part.strip() for part in raw.split(",") if part.strip())
        elif isinstance(current, dict):
            value = dict(pair.split("=", 1) for pair in raw.split(",") if "=" in pair)
        else:
            value = raw
        setattr(settings, name, value)
    except (TypeError, ValueError):
        logger.debug("ignoring %s%s=%r", ENV_PREFIX, name.upper(), raw)
