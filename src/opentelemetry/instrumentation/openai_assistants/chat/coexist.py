"""Other OpenAI instrumentations' spans: found while the SDK request runs, so a call gets one span.

The official ``opentelemetry-instrumentation-openai-v2`` (its chat spans come from
``opentelemetry-util-genai``), OpenLLMetry's ``opentelemetry-instrumentation-openai`` and
OpenInference's ``openinference-instrumentation-openai`` each open a span around the SDK call that
is the current span while the request runs (and while a non-streamed body is parsed). Found, it
gets our cost attributes and we make no span of our own (unless ``chat_spans="always"``); our
metrics are recorded either way.
"""

from __future__ import annotations

from typing import Any, Optional

from opentelemetry import trace

FOREIGN_SCOPES = frozenset({
    "opentelemetry.instrumentation.openai_v2",  # official: embeddings
    "opentelemetry.util.genai.handler",  # official: chat (through util-genai)
    "opentelemetry.instrumentation.openai.v1",  # OpenLLMetry on openai >= 1
    "opentelemetry.instrumentation.openai",
    "openinference.instrumentation.openai",  # OpenInference
})


def open_foreign_span() -> Optional[Any]:
    """The current span when another OpenAI instrumentation made it and it is still open, else None."""
    span = trace.get_current_span()
    if not span.is_recording():
        return None
    scope = getattr(getattr(span, "instrumentation_scope", None), "name", None)
    return span if scope in FOREIGN_SCOPES else None


def still_open(span: Any) -> bool:
    try:
        return bool(span is not None and span.is_recording())
    except Exception:
        return False
