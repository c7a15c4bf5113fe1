"""The organization Costs and Usage endpoints (admin key), billing what the fake's runs did.

OpenAI bills per UTC day: dollars by line item and project (``/organization/costs``), tokens by
model (``/organization/usage/completions``), Code Interpreter sessions, web search and file search
calls. Here the bill is computed from the world's runs and steps when asked, so it always matches
the workload, unless a test injects a discrepancy:

- ``unseen``: usage of a workload the instrumentor never saw (another service), added to the bill;
- ``scale``: a line-item kind billed at a share of its true amount (``{"input_tokens": 1.1}``);
- ``session_rule``: how Code Interpreter sessions are counted, ``"thread_hour"`` (one per thread
  and hour from its first call, the documented rule) or ``"per_call"`` (a rule that changed);
- ``delayed_days``: days whose bucket is still empty (the API's delay before a day is complete);
- ``revise(day, kind, factor)``: a later revision of a day's amount for one kind.

Only the models in ``RATES`` are priced (the workloads' models); other models appear in the token
usage but not in the costs. Runs whose usage the fake does not report (``report_usage=False``) are
not billed. One project (``project_id``) holds every run. Payloads are validated with the SDK's own
page model by the server; a wrong admin key gets the real API's 401.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Dict, Iterable, List, Optional, Tuple

from .state import BadRequest, Obj, World

DAY_S = 86400
ADMIN_KEY = "sk-admin-fake-0000"
PROJECT_ID = "proj_fake"
#: USD per token (input, cached input, output) and per unit; the same published list prices the
#: instrumentor's price data gives for these models and dates.
RATES: Dict[str, Tuple[Decimal, Decimal, Decimal]] = {
    "gpt-4o-mini": (Decimal("0.15") / 10**6, Decimal("0.075") / 10**6, Decimal("0.6") / 10**6),
    "gpt-4o": (Decimal("2.5") / 10**6, Decimal("1.25") / 10**6, Decimal("10") / 10**6),
    "gpt-4-turbo-preview": (Decimal("10") / 10**6, Decimal("10") / 10**6, Decimal("30") / 10**6),
}
SESSION_USD = Decimal("0.03")
WEB_SEARCH_USD = Decimal("0.01")
SESSION_WINDOW_S = 3600
LIMITS = {"costs": (7, 180), "usage": (7, 31)}
USAGE_OBJECTS = {
    "completions": "organization.usage.completions.result",
    "code_interpreter_sessions": "organization.usage.code_interpreter_sessions.result",
    "web_search_calls": "organization.usage.web_searches.result",
    "file_search_calls": "organization.usage.file_searches.result",
    "images": "organization.usage.images.result",
    "audio_speeches": "organization.usage.audio_speeches.result",
    "audio_transcriptions": "organization.usage.audio_transcriptions.result",
    "embeddings": "organization.usage.embeddings.result",
    "moderations": "organization.usage.moderations.result",
    "vector_stores": "organization.usage.vector_stores.result",
}
#: What each charged usage endpoint counts: (result field, quantity field of a charge).
CHARGED_USAGE = {"images": "images", "audio_speeches": "characters", "audio_transcriptions": "seconds",
                 "embeddings": "input_tokens", "moderations": "input_tokens", "vector_stores": "usage_bytes"}


@dataclass
class Charge:
    """A billed line item of a surface other than the runs and responses (images, audio, batches,
    embeddings, moderations, vector stores, legacy completions): what that surface charged, when.

    ``usage``: the usage endpoint it counts in (``CHARGED_USAGE``), or ``completions`` with ``tokens``
    (input, cached, output) for token line items; None: a cost line item only.
    """

    ts: int
    model: Optional[str]
    line_item: str
    kind: str
    usd: Decimal
    quantity: float
    usage: Optional[str] = None
    tokens: Tuple[int, int, int] = (0, 0, 0)
    usage_quantity: Optional[float] = None  # what the usage endpoint counts (None: ``quantity``)


@dataclass
class Unseen:
    """Usage on ``day`` (Unix start of a UTC day) of a workload the instrumentor never saw."""

    day: int
    model: str = "gpt-4o-mini"
    input_tokens: int = 0
    output_tokens: int = 0
    sessions: int = 0


@dataclass
class DayUsage:
    """What one UTC day used: tokens by model, sessions and tool calls."""

    tokens: Dict[str, List[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0, 0]))  # in, cached, out
    sessions: int = 0
    file_searches: int = 0
    web_searches: int = 0
    charged_tokens: Dict[str, List[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0, 0]))  # billed
    # by their own charges (batches, legacy completions): in the completions usage, not priced again

    def all_tokens(self) -> Dict[str, List[int]]:
        merged: Dict[str, List[int]] = defaultdict(lambda: [0, 0, 0])
        for source in (self.tokens, self.charged_tokens):
            for model, row in source.items():
                merged[model] = [a + b for a, b in zip(merged[model], row, strict=True)]
        return merged


class FakeBilling:
    """The bill of a ``World``, served as the organization Costs and Usage endpoints."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.admin_key = ADMIN_KEY
        self.project_id = PROJECT_ID
        self.unseen: List[Unseen] = []
        self.scale: Dict[str, Decimal] = {}
        self.session_rule = "thread_hour"
        self.delayed_days: set[int] = set()
        self.revisions: Dict[Tuple[int, str], Decimal] = {}
        self.charges: List[Charge] = []
        self._lock = threading.Lock()

    def charge(self, charge: Charge) -> None:
        """Bill a line item of another surface (the media and batch endpoints, or a test)."""
        with self._lock:
            self.charges.append(charge)

    def _charges(self, day: int) -> List[Charge]:
        return [c for c in self.charges if day_start(c.ts) == day]

    def revise(self, day: int, kind: str, factor: float) -> None:
        """From now on, bill ``kind`` on ``day`` at ``factor`` times its amount (a revised bucket)."""
        with self._lock:
            self.revisions[(day_start(day), kind)] = Decimal(str(factor))

    # -- what the runs used --------------------------------------------------------------------
    def _usage(self) -> Dict[int, DayUsage]:
        days: Dict[int, DayUsage] = defaultdict(DayUsage)
        with self.world.lock:
            runs = [r for r in self.world.runs if r.get("usage")]
            steps = sorted(self.world.steps, key=lambda s: (s["created_at"], s["id"]))
        for run in runs:
            tokens = days[day_start(run["created_at"])].tokens[run["model"]]
            tokens[0] += run["usage"]["prompt_tokens"]
            tokens[2] += run["usage"]["completion_tokens"]
        opened: Dict[str, int] = {}
        for step in steps:
            for call in step["step_details"].get("tool_calls", []):
                day = days[day_start(step["created_at"])]
                if call["type"] == "file_search":
                    day.file_searches += 1
                elif call["type"] == "code_interpreter" and self._opens(opened, step["thread_id"], step["created_at"]):
                    day.sessions += 1
        for charge in self.charges:
            if charge.usage == "completions":
                tokens = days[day_start(charge.ts)].charged_tokens[charge.model or ""]
                for i, value in enumerate(charge.tokens):
                    tokens[i] += value
        for extra in self.unseen:
            day = days[day_start(extra.day)]
            day.tokens[extra.model][0] += extra.input_tokens
            day.tokens[extra.model][2] += extra.output_tokens
            day.sessions += extra.sessions
        return days

    def _opens(self, opened: Dict[str, int], thread_id: str, ts: int) -> bool:
        if self.session_rule == "per_call":
            return True
        start = opened.get(thread_id)
        if start is not None and start <= ts < start + SESSION_WINDOW_S:
            return False
        opened[thread_id] = ts
        return True

    def _costs(self, day: int, usage: DayUsage) -> List[Tuple[str, str, Decimal, float]]:
        """(line item, kind, USD, quantity) of one day."""
        lines: List[Tuple[str, str, Decimal, float]] = []
        for model, (tokens_in, cached, tokens_out) in sorted(usage.tokens.items()):
            rates = RATES.get(model)
            if rates is None:
                continue
            lines.append((f"{model}, input", "input_tokens", (tokens_in - cached) * rates[0], tokens_in - cached))
            if cached:
                lines.append((f"{model}, cached input", "cached_input_tokens", cached * rates[1], cached))
            lines.append((f"{model}, output", "output_tokens", tokens_out * rates[2], tokens_out))
        # Assistants file search is billed by vector store storage, not per call: no line item here.
        for item, kind, count, price in (
            ("Code Interpreter sessions", "code_interpreter_session", usage.sessions, SESSION_USD),
            ("Web search tool calls", "web_search", usage.web_searches, WEB_SEARCH_USD),
        ):
            if count:
                lines.append((item, kind, count * price, count))
        lines += [(c.line_item, c.kind, c.usd, c.quantity) for c in self._charges(day)]
        factor = {kind: self.scale.get(kind, Decimal(1)) * self.revisions.get((day, kind), Decimal(1))
                  for _, kind, _, _ in lines}
        return [(item, kind, usd * factor[kind], qty) for item, kind, usd, qty in lines if usd]

    # -- endpoints -----------------------------------------------------------------------------
    def authorized(self, authorization: Optional[str]) -> bool:
        return authorization == f"Bearer {self.admin_key}"

    def handle(self, path: str, query: Dict[str, Any]) -> Optional[Obj]:
        """The page for ``path`` (relative to ``/v1``), or None when it is not a billing route."""
        query = {key.removesuffix("[]"): value for key, value in query.items()}  # the SDK sends ``group_by[]``
        if path == "/organization/costs":
            return self._page(query, "costs", self._cost_results)
        prefix = "/organization/usage/"
        if path.startswith(prefix) and path[len(prefix):] in USAGE_OBJECTS:
            endpoint = path[len(prefix):]
            return self._page(query, "usage", lambda day, usage, q: self._usage_results(endpoint, usage, q, day))
        return None

    def _page(self, query: Dict[str, Any], family: str, results: Any) -> Obj:
        start, end, limit = _window(query, *LIMITS[family])
        cursor = int(query["page"]) if query.get("page") else start
        with self._lock:
            usage = self._usage()
            days = list(range(day_start(cursor), end, DAY_S))
            shown = days[:limit]
            data = [{"object": "bucket", "start_time": day, "end_time": day + DAY_S,
                     "results": [] if day in self.delayed_days else results(day, usage.get(day, DayUsage()), query)}
                    for day in shown]
        more = len(days) > limit
        return {"object": "page", "data": data, "has_more": more,
                "next_page": str(days[limit]) if more else None}

    def _project(self, query: Dict[str, Any]) -> Optional[str]:
        return self.project_id if "project_id" in _list(query.get("group_by")) else None

    def _cost_results(self, day: int, usage: DayUsage, query: Dict[str, Any]) -> List[Obj]:
        if not self._project_selected(query):
            return []
        by_item = "line_item" in _list(query.get("group_by"))
        lines = self._costs(day, usage)
        if not by_item:
            lines = [("", "", sum((usd for _, _, usd, _ in lines), Decimal(0)), 0.0)] if lines else []
        return [{"object": "organization.costs.result",
                 "amount": {"value": float(usd), "currency": "usd"},
                 "line_item": item or None, "project_id": self._project(query),
                 "quantity": float(qty) if by_item else None, "quantity_unit": None}
                for item, _, usd, qty in lines]

    def _usage_results(self, endpoint: str, usage: DayUsage, query: Dict[str, Any], day: int) -> List[Obj]:
        if not self._project_selected(query):
            return []
        project = self._project(query)
        kind = USAGE_OBJECTS[endpoint]
        if endpoint in CHARGED_USAGE:
            return self._charged_usage(endpoint, day, project, "model" in _list(query.get("group_by")))
        if endpoint == "completions":
            by_model = "model" in _list(query.get("group_by"))
            tokens = usage.all_tokens()
            rows = sorted(tokens.items()) if by_model else [(None, _total(tokens.values()))]
            return [{"object": kind, "input_tokens": t[0], "input_cached_tokens": t[1], "output_tokens": t[2],
                     "num_model_requests": 1, "model": model, "project_id": project}
                    for model, t in rows if any(t)]
        if endpoint == "code_interpreter_sessions":
            return [{"object": kind, "num_sessions": usage.sessions, "project_id": project}] if usage.sessions else []
        count = usage.file_searches if endpoint == "file_search_calls" else usage.web_searches
        row: Obj = {"object": kind, "num_requests": count, "project_id": project}
        if endpoint == "web_search_calls":
            row["num_model_requests"] = count
        return [row] if count else []

    def _charged_usage(self, endpoint: str, day: int, project: Optional[str], by_model: bool) -> List[Obj]:
        rows: Dict[Optional[str], List[float]] = defaultdict(lambda: [0.0, 0])
        for charge in self._charges(day):
            if charge.usage == endpoint:
                row = rows[charge.model if by_model or endpoint == "vector_stores" else None]
                row[0] += charge.quantity if charge.usage_quantity is None else charge.usage_quantity
                row[1] += 1
        field_name = CHARGED_USAGE[endpoint]
        results: List[Obj] = []
        for model, (quantity, requests) in sorted(rows.items(), key=lambda r: str(r[0])):
            result: Obj = {"object": USAGE_OBJECTS[endpoint], field_name: round(quantity),
                           "project_id": project}
            if endpoint != "vector_stores":
                result.update(num_model_requests=int(requests), model=model)
            results.append(result)
        return results

    def _project_selected(self, query: Dict[str, Any]) -> bool:
        wanted = _list(query.get("project_ids"))
        return not wanted or self.project_id in wanted


def day_start(ts: int) -> int:
    return int(ts) - int(ts) % DAY_S


def _list(value: Any) -> List[str]:
    """A repeated query parameter (``key=a&key=b``) as a list."""
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def _total(rows: Iterable[List[int]]) -> List[int]:
    total = [0, 0, 0]
    for row in rows:
        total = [a + b for a, b in zip(total, row, strict=True)]
    return total


def _window(query: Dict[str, Any], default_limit: int, max_limit: int) -> Tuple[int, int, int]:
    try:
        start = int(query["start_time"])
        end = int(query.get("end_time") or 0)
        limit = int(query.get("limit") or default_limit)
    except (KeyError, ValueError):
        raise BadRequest("Missing or invalid 'start_time'.", "start_time") from None
    if not 1 <= limit <= max_limit:
        raise BadRequest(f"Invalid 'limit': must be between 1 and {max_limit}.", "limit")
    if query.get("bucket_width", "1d") != "1d":
        raise BadRequest("Only bucket_width=1d is served by this fake.", "bucket_width")
    return start, end or day_start(start) + limit * DAY_S, limit
