"""What the demo prints: a line per run with tokens and cost, notes that explain what looks odd, and the
span tree with tokens and cost beside each span. Reads only finished spans' attributes."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any, Optional

from opentelemetry.sdk.trace import ReadableSpan

#: The workload's deliberately unpriced model, explained in the summary rather than warned about.
UNPRICED_ON_PURPOSE = "acme-llm-7"
DEGRADED_MARK = "~"


def _usd(value: Any) -> str:
    return f"{value:9.6f}" if isinstance(value, (int, float)) else f"{'n/a':>9}"


def runs_of(spans: Iterable[ReadableSpan]) -> list[ReadableSpan]:
    return sorted((s for s in spans if s.name.startswith("invoke_agent")), key=lambda s: s.start_time or 0)


def responses_in(spans: Iterable[ReadableSpan]) -> int:
    """How many responses (Responses API inference spans) there are among ``spans``."""
    return sum(1 for s in spans if (s.attributes or {}).get("openai.api.type") == "responses"
               and (s.attributes or {}).get("gen_ai.operation.name") == "chat")


def run_cost(span: ReadableSpan) -> float:
    cost = (span.attributes or {}).get("openai_cost.rollup.total_usd")
    return float(cost) if isinstance(cost, (int, float)) else 0.0


def leaf_costs(span: ReadableSpan) -> list[float]:
    """One span's leaf costs (``openai_cost.*_usd``, not roll-ups): tokens, sessions, containers, fees."""
    return [float(value) for key, value in (span.attributes or {}).items()
            if key.startswith("openai_cost.") and key.endswith("_usd") and ".rollup." not in key
            and isinstance(value, (int, float))]


def leaf_spend(spans: Iterable[ReadableSpan]) -> float:
    """Every span's leaf costs: each dollar once, whatever the API."""
    return sum(sum(leaf_costs(span)) for span in spans)


def _source(a: Mapping[str, Any]) -> str:
    source = str(a.get("openai_cost.usage.source", "-"))
    return source + DEGRADED_MARK if a.get("openai_cost.usage.degraded") else source


def summary(spans: list[ReadableSpan], looked_in: Iterable[str] = ()) -> list[str]:
    """A line per run: tokens (reported or estimated) and cost by kind; then the total and the notes."""
    runs = runs_of(spans)
    lines = [f"{'assistant':<16} {'status':<10} {'steps':>5} {'tokens in/out':>14} {'source':<10} "
             f"{'input $':>9} {'output $':>9} {'session $':>9} {'total $':>9}"]
    for span in runs:
        a = span.attributes or {}
        tokens = f"{a.get('gen_ai.usage.input_tokens', '-')}/{a.get('gen_ai.usage.output_tokens', '-')}"
        lines.append(
            f"{a.get('gen_ai.agent.name', '?')!s:<16} {a.get('assistants.run.status')!s:<10} "
            f"{a.get('assistants.run.steps', 0):>5} {tokens:>14} {_source(a):<10} "
            f"{_usd(a.get('openai_cost.rollup.input_tokens_usd'))} "
            f"{_usd(a.get('openai_cost.rollup.output_tokens_usd'))} "
            f"{_usd(a.get('openai_cost.rollup.code_interpreter_session_usd'))} "
            f"{_usd(a.get('openai_cost.rollup.total_usd'))}"
        )
    lines.append(f"{len(runs)} runs, {len(spans)} spans, total spend ${sum(map(run_cost, runs)):.6f}")
    return lines + notes(runs, looked_in)


def notes(runs: list[ReadableSpan], looked_in: Iterable[str] = ()) -> list[str]:
    """One line for each thing in the table that needs a word: approximate estimates, unpriced models."""
    lines: list[str] = []
    if any((r.attributes or {}).get("openai_cost.usage.degraded") for r in runs):
        places = ", ".join(looked_in) or "tiktoken's cache"
        lines.append(f"{DEGRADED_MARK} estimated without a tokenizer (no tiktoken encoding in {places}): tokens "
                     "approximated from text length; for exact counts set TIKTOKEN_CACHE_DIR to a directory "
                     "holding o200k_base and cl100k_base (python scripts/tiktoken_cache.py fills one)")
    unpriced: dict[tuple[str, str], str] = {}
    for run in runs:
        a = run.attributes or {}
        if a.get("openai_cost.unpriced_reason"):
            key = (str(a.get("gen_ai.agent.name", "?")), str(a.get("gen_ai.request.model", "?")))
            unpriced[key] = str(a["openai_cost.unpriced_reason"])
    for (agent, model), reason in sorted(unpriced.items()):
        if model == UNPRICED_ON_PURPOSE:
            lines.append(f"n/a: {agent} runs on {model}, a made-up model with no price on purpose: its cost "
                         "is left absent with openai_cost.unpriced_reason, never counted as $0")
        else:
            lines.append(f"n/a: {agent} ({model}): {reason}")
    return lines


def _span_figures(span: ReadableSpan) -> str:
    """Tokens and cost of one span: leaves on steps and tools, roll-ups on runs."""
    a = span.attributes or {}
    parts = []
    if "gen_ai.usage.input_tokens" in a or "gen_ai.usage.output_tokens" in a:
        parts.append(f"{a.get('gen_ai.usage.input_tokens', '-')}/{a.get('gen_ai.usage.output_tokens', '-')} tokens")
    if "openai_cost.rollup.total_usd" in a:
        whole = "response" if a.get("openai.api.type") == "responses" else "run"
        parts.append(f"${float(a['openai_cost.rollup.total_usd']):.6f} ({whole} total)")  # type: ignore[arg-type]
    else:
        leaves = leaf_costs(span)
        if leaves:
            parts.append(f"${sum(leaves):.6f}")
    if a.get("openai_cost.unpriced_reason"):
        parts.append("unpriced")
    return "  ".join(parts)


def span_tree(spans: list[ReadableSpan], figures: bool = True) -> list[str]:
    """Each span as an indented line, children in start order, with its tokens and cost beside it."""
    children: dict[Optional[int], list[ReadableSpan]] = defaultdict(list)
    ids = {s.context.span_id for s in spans}
    for span in spans:
        parent = span.parent.span_id if span.parent and span.parent.span_id in ids else None
        children[parent].append(span)
    lines: list[str] = []

    def walk(parent: Optional[int], depth: int) -> None:
        for span in sorted(children[parent], key=lambda s: (s.start_time or 0, s.name)):
            label = "  " * depth + span.name
            extra = _span_figures(span) if figures else ""
            lines.append(f"{label:<44} {extra}".rstrip())
            walk(span.context.span_id, depth + 1)

    walk(None, 0)
    return lines
