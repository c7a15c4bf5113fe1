"""API-neutral records of what to write: a finished run or response as a tree of spans to emit.

A front end turns what it tracked into an ``Invocation``; ``telemetry`` writes it with the account
from ``accounting``, so the one writer of spans and metrics never reads an API's objects. Money is
not in these records: each span names the leaf of the account it carries (an inference, a tool call).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from opentelemetry.context import Context
from opentelemetry.trace import Link, SpanKind

Attrs = dict[str, Any]


@dataclass
class SpanRecord:
    """One span: its operation, window and attributes, and the account leaf it carries."""

    operation: str  # gen_ai.operation.name, also the duration metric's label
    name: str
    kind: SpanKind
    start_ns: int
    end_ns: int
    attributes: Attrs = field(default_factory=dict)
    error: Optional[str] = None  # error.type, which also marks the span's status as an error
    status_message: Optional[str] = None
    inference_id: Optional[str] = None  # the account's inference (step) whose tokens are on this span
    tool_call_id: Optional[str] = None  # the account's tool call whose charges are on this span
    tool: Optional[tuple[str, str]] = None  # (gen_ai.tool.type, gen_ai.tool.name): counted as a tool call
    links: list[Link] = field(default_factory=list)
    children: list[SpanRecord] = field(default_factory=list)
    timed: bool = True  # False: the window is a guess (a run ended unseen), kept out of the duration metric


@dataclass
class Invocation:
    """A run or response that ended (or an agent call): its span tree and its metric labels."""

    api: str  # openai.api.type
    provider: str
    model: Optional[str]
    agent_name: Optional[str]
    parent: Context
    root: SpanRecord
    status: Optional[str] = None  # openai_cost.status; None: not a run or response (no run metrics)
    metadata: Attrs = field(default_factory=dict)  # allow-listed attribution attributes
    spans: bool = True  # False: metrics only (another instrumentation makes the spans)
    project: Optional[str] = None  # the client's OpenAI project id (openai_cost.project metric label)
    server: Attrs = field(default_factory=dict)  # server.address and .port: labels of the gen_ai.client.* metrics
    token_operation: str = "chat"  # gen_ai.operation.name of its token metrics (media: generate_content, batch)


def server_labels(address: Optional[str], port: Optional[int]) -> Attrs:
    """``server.address`` and, with it, ``server.port``: what the GenAI conventions list on the
    ``gen_ai.client.*`` metrics (one API host per process in practice: low cardinality)."""
    return {"server.address": address, "server.port": port} if address else {}
