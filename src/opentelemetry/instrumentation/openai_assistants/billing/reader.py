"""Reads the Costs and Usage endpoints through the openai SDK's admin resources, page by page.

Each endpoint returns daily buckets (``start_time``..``end_time``) with grouped results; a page
holds at most ``limit`` buckets and names the next with ``next_page``. Every bucket read becomes
that day's figures, empty results included (a day not billed yet reads as nothing, not zero).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any, Optional

from .. import semconv as sc
from .ledger import Figure, Labels
from .lineitems import LineItems

SPEND, TOKENS, QUANTITY = "spend", "tokens", "quantity"
DayFigures = dict[int, list[Figure]]
#: usage endpoint (SDK method name) -> the result field it counts
COUNTED = {
    "code_interpreter_sessions": "num_sessions",
    "web_search_calls": "num_requests",
    "file_search_calls": "num_requests",
    "images": "images",
    "audio_speeches": "characters",
    "audio_transcriptions": "seconds",
    "embeddings": "input_tokens",
    "moderations": "input_tokens",
    "vector_stores": "usage_bytes",
}
TOKEN_FIELDS = (("input", "input_tokens"), ("cached_input", "input_cached_tokens"),
                ("cache_write", "input_cache_write_tokens"), ("output", "output_tokens"))


def _labels(**pairs: Optional[str]) -> Labels:
    return tuple(sorted((k, v) for k, v in pairs.items() if v))


def buckets(method: Callable[..., Any], **params: Any) -> Iterator[Any]:
    """Every bucket of a paginated read, following ``next_page``."""
    page: Optional[str] = None
    while True:
        response = method(**params, **({"page": page} if page else {}))
        yield from response.data
        page = response.next_page if response.has_more else None
        if not page:
            return


class Reader:
    """One read of the trailing window, endpoint by endpoint, for the organization or given projects."""

    def __init__(self, client: Any, line_items: LineItems, projects: tuple[str, ...] = ()) -> None:
        self.usage = client.admin.organization.usage
        self.line_items = line_items
        self.scope: dict[str, Any] = {"project_ids": list(projects)} if projects else {}

    def endpoints(self) -> dict[str, Callable[[int, int, int], DayFigures]]:
        reads: dict[str, Callable[[int, int, int], DayFigures]] = {"costs": self.costs, "completions": self.completions}
        for name in COUNTED:
            reads[name] = self._counter(name)
        return reads

    def _read(self, method: Callable[..., Any], start: int, end: int, days: int, group_by: list[str],
              row: Callable[[Any], list[Figure]]) -> DayFigures:
        out: DayFigures = {}
        for bucket in buckets(method, start_time=start, end_time=end, bucket_width="1d", limit=days,
                              group_by=group_by, **self.scope):
            out[bucket.start_time] = [f for result in bucket.results for f in row(result)]
        return out

    def costs(self, start: int, end: int, days: int) -> DayFigures:
        def row(result: Any) -> list[Figure]:
            amount = result.amount
            if amount is None or amount.value is None or (amount.currency or "usd").lower() != "usd":
                return []
            labels = _labels(**{sc.COST_KIND: self.line_items.kind(result.line_item),
                                sc.BILLING_LINE_ITEM: result.line_item, sc.PROJECT: result.project_id})
            return [Figure(SPEND, labels, Decimal(str(amount.value)))]

        return self._read(self.usage.costs, start, end, days, ["line_item", "project_id"], row)

    def completions(self, start: int, end: int, days: int) -> DayFigures:
        def row(result: Any) -> list[Figure]:
            figures = []
            for token_type, field in TOKEN_FIELDS:
                value = getattr(result, field, None)
                if value is not None:
                    labels = _labels(**{sc.GEN_AI_REQUEST_MODEL: result.model, sc.PROJECT: result.project_id,
                                        sc.GEN_AI_TOKEN_TYPE: token_type})
                    figures.append(Figure(TOKENS, labels, Decimal(value)))
            return figures

        return self._read(self.usage.completions, start, end, days, ["model", "project_id"], row)

    def _counter(self, name: str) -> Callable[[int, int, int], DayFigures]:
        def row(result: Any) -> list[Figure]:
            labels = _labels(**{sc.BILLING_USAGE: name, sc.PROJECT: result.project_id})
            return [Figure(QUANTITY, labels, Decimal(getattr(result, COUNTED[name])))]

        def read(start: int, end: int, days: int) -> DayFigures:
            return self._read(getattr(self.usage, name), start, end, days, ["project_id"], row)

        return read
