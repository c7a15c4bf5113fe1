"""Reading span trees in tests."""

from __future__ import annotations

from typing import Any, Iterable

from opentelemetry.sdk.trace import ReadableSpan


def named(spans: Iterable[ReadableSpan], prefix: str) -> list[ReadableSpan]:
    return sorted((s for s in spans if s.name.startswith(prefix)), key=lambda s: s.start_time or 0)


def children(spans: Iterable[ReadableSpan], parent: ReadableSpan) -> list[ReadableSpan]:
    return sorted((s for s in spans if s.parent is not None and s.parent.span_id == parent.context.span_id),
                  key=lambda s: (s.start_time or 0, s.name))


def one(spans: Iterable[ReadableSpan], prefix: str) -> ReadableSpan:
    found = named(spans, prefix)
    assert len(found) == 1, [s.name for s in found]
    return found[0]


def attrs(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


def assert_tree_is_sound(spans: list[ReadableSpan]) -> None:
    """Every child lies within its parent in time, every span ended, one trace per root."""
    by_id = {s.context.span_id: s for s in spans}
    for span in spans:
        assert span.end_time is not None and span.start_time is not None, span.name
        assert span.start_time <= span.end_time, span.name
        parent = by_id.get(span.parent.span_id) if span.parent else None
        if parent is not None:
            assert parent.start_time is not None and parent.end_time is not None
            assert parent.start_time <= span.start_time, (parent.name, span.name)
            assert span.end_time <= parent.end_time, (parent.name, span.name)
            assert parent.context.trace_id == span.context.trace_id


def shape(value: Any) -> Any:
    """An SDK result with ids and times blanked, so two runs of one scenario compare equal."""
    if hasattr(value, "model_dump"):
        value = value.model_dump()
    if isinstance(value, dict):
        return {k: "<id/time>" if _volatile(k) else shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(v) for v in value]
    return value


def _volatile(key: str) -> bool:
    return key == "id" or key.endswith("_id") or key.endswith("_at") or key in ("first_id", "last_id")
