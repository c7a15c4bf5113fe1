"""Per-call fees of the Responses API's hosted tools: web search, file search, image generation.

The rates are data (``prices/tool_fees.json``, dated and sourced), overridable through the
price override file's ``"tool_fees"`` entry (same format; an override entry applies from its
date on). Web search is billed by ``tool_usage.web_search.num_requests`` (the documented billable
count) when the response reports it, else by its ``web_search_call`` items whose action is a
search (page opens and find-in-page are free); the rate depends on the tool version and, for
``web_search_preview``, on whether the model reasons. Some models bill a fixed block of search
content input tokens per call with the non-preview tool, priced at the model's input rate.
File search is billed per ``file_search_call`` item; image generation by ``tool_usage.image_gen``
tokens at the image model's rates (genai-prices, else our data). A fee that cannot be priced is
absent with a reason, never 0.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Callable, Optional, Union

from .. import model
from .dated import in_force
from .media import MediaBook, image_token_cost
from .pricing import Overrides, Unpriced, _date, _decimal, _read_json, at_datetime, load_overrides

logger = logging.getLogger(__name__)
_MEDIA = MediaBook({})  # retirement dates of image models (the shipped data)

KIND_WEB_SEARCH = "web_search"
KIND_FILE_SEARCH = "file_search"
KIND_IMAGE_GENERATION = "image_generation"
THOUSAND = Decimal(1000)

# (model, input tokens, API timestamp) -> USD at the model's input rate, or why not
InputPricer = Callable[[str, int, int], Union[Decimal, Unpriced]]


@dataclass(frozen=True)
class Fee:
    kind: str  # web_search | file_search | image_generation (the cost kind)
    usd: Decimal
    count: int  # billed calls (image generation: its tokens)
    effective_from: Optional[date]
    source: str
    content_tokens: int = 0  # fixed search content input tokens included in usd


@dataclass(frozen=True)
class UnpricedFee:
    kind: str  # a cost kind, or the item type of a tool with no known fee
    count: int
    reason: str


FeeOutcome = Union[Fee, UnpricedFee]


@dataclass(frozen=True)
class _Entry:
    effective_from: date
    data: Mapping[str, Any]
    source: str


def _entries(raw: Any, source: str) -> list[_Entry]:
    return [_Entry(_date(i["effective_from"]), dict(i), str(i.get("source", source))) for i in raw or []]


_DATED = ("web_search", "web_search_preview", "search_content_tokens", "file_search")


class FeeBook:
    """Tool fee rates by date: overrides first, then ``prices/tool_fees.json``. Lookups never raise."""

    def __init__(self, overrides: Overrides = None) -> None:
        data, source = load_overrides(overrides)
        own = dict(data.get("tool_fees") or {})
        builtin = _read_json("tool_fees.json")
        try:
            self._dated = {
                name: (_entries(own.get(name), source), _entries(builtin.get(name), "prices/tool_fees.json"))
                for name in _DATED
            }
            image = {**builtin["image_generation"], **dict(own.get("image_generation") or {})}
            self._default_image_models = [
                _Entry(_date(i["effective_from"]), dict(i), str(i.get("source", source)))
                for i in image.get("default_models") or ()
            ]
            if "default_model" in image:  # an override naming one model for all dates
                self._default_image_models.append(_Entry(date.min, {"model": image["default_model"]}, source))
            self._image_models = {
                name.lower(): _entries(raw, source) for name, raw in dict(image.get("models") or {}).items()
            }
        except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
            raise ValueError(f"invalid tool fee overrides ({source}): {exc}") from exc
        reasoning = {**builtin["reasoning_models"], **dict(own.get("reasoning_models") or {})}
        self._reasoning_prefixes = tuple(str(p).lower() for p in reasoning["prefixes"])
        self.tokens_only = frozenset(own.get("tokens_only", builtin["tokens_only"]))

    def entry(self, name: str, at: int) -> Optional[_Entry]:
        day = at_datetime(at).date()
        own, builtin = self._dated[name]
        return in_force(own, day) or in_force(builtin, day)

    def default_image_model(self, at: int) -> Optional[str]:
        """The image_generation tool's model when the request names none, as in force on ``at``."""
        entry = in_force(self._default_image_models, at_datetime(at).date())
        return str(entry.data["model"]) if entry is not None else None

    def image_entry(self, image_model: str, at: int) -> Optional[_Entry]:
        return in_force(self._image_models.get(image_model.lower(), []), at_datetime(at).date())

    def is_reasoning(self, model_name: str) -> bool:
        name = model_name.lower().rsplit("/", 1)[-1]
        return name.startswith(self._reasoning_prefixes)


def web_search_count(usage: model.ToolUsage) -> int:
    """Billed searches: ``num_requests`` when reported, else the search actions only."""
    if usage.web_search_requests is not None:
        return max(0, usage.web_search_requests)
    return max(0, usage.web_search_actions.get("search", 0))


def web_search_fee(
    usage: model.ToolUsage, model_name: Optional[str], at: int, book: FeeBook, input_usd: InputPricer
) -> Optional[FeeOutcome]:
    count = web_search_count(usage)
    if not count:
        return None
    tool = usage.web_search_tool
    if tool not in ("web_search", "web_search_preview"):
        return UnpricedFee(KIND_WEB_SEARCH, count, f"no fee known for web search tool {tool!r}")
    entry = book.entry(tool, at)
    if entry is None:
        return UnpricedFee(KIND_WEB_SEARCH, count, f"no {tool} fee in force on {at_datetime(at).date()}")
    if tool == "web_search":
        per_1k = _decimal(entry.data["usd_per_1k"])
    elif model_name is None:
        return UnpricedFee(KIND_WEB_SEARCH, count, "web_search_preview rate depends on the model: none named")
    else:
        per_1k = _decimal(entry.data["usd_per_1k_reasoning" if book.is_reasoning(model_name) else "usd_per_1k_other"])
    usd = per_1k * count / THOUSAND
    tokens = _content_tokens(tool, model_name, count, at, book)
    if tokens and model_name is not None:
        content = input_usd(model_name, tokens, at)
        if isinstance(content, Unpriced):
            return UnpricedFee(KIND_WEB_SEARCH, count, f"search content tokens: {content.reason}")
        usd += content
    return Fee(KIND_WEB_SEARCH, usd, count, entry.effective_from, entry.source, tokens)


def _content_tokens(tool: str, model_name: Optional[str], count: int, at: int, book: FeeBook) -> int:
    entry = book.entry("search_content_tokens", at)
    if entry is None or model_name is None or entry.data.get("tool", "web_search") != tool:
        return 0
    name = model_name.lower().rsplit("/", 1)[-1]
    models = [str(m).lower() for m in entry.data.get("models", [])]
    if not any(name == m or name.startswith(m + "-20") for m in models):  # the model or its dated snapshots
        return 0
    return int(entry.data["tokens_per_call"]) * count


def file_search_fee(usage: model.ToolUsage, at: int, book: FeeBook) -> Optional[FeeOutcome]:
    count = max(0, usage.file_search_calls)
    if not count:
        return None
    entry = book.entry("file_search", at)
    if entry is None:
        return UnpricedFee(KIND_FILE_SEARCH, count, f"no file_search fee in force on {at_datetime(at).date()}")
    usd = _decimal(entry.data["usd_per_1k"]) * count / THOUSAND
    return Fee(KIND_FILE_SEARCH, usd, count, entry.effective_from, entry.source)


def image_generation_fee(usage: model.ToolUsage, at: int, book: FeeBook,
                         media: Optional[MediaBook] = None) -> Optional[FeeOutcome]:
    """The tool's image tokens at the rates of its model (the default one in force on the response's
    date when the request names none), each token kind at its own rate (``media.image_token_cost``)."""
    image = usage.image_gen
    if image is None or not (image.input_tokens or image.output_tokens):
        return None
    tokens = image.input_tokens + image.output_tokens
    image_model = usage.image_model or book.default_image_model(at)
    if image_model is None:
        return UnpricedFee(KIND_IMAGE_GENERATION, tokens, f"no default image model known on {at_datetime(at).date()}")
    priced = image_token_cost(image_model, image, at, media or _MEDIA, book.image_entry)
    if isinstance(priced, Unpriced):
        return UnpricedFee(KIND_IMAGE_GENERATION, tokens, priced.reason)
    return Fee(KIND_IMAGE_GENERATION, priced.total_usd, tokens, priced.effective_from, priced.source)


def unknown_tool_fees(usage: model.ToolUsage, book: FeeBook) -> list[FeeOutcome]:
    """Tool calls of types with no known fee and not known to bill tokens only: a reason each."""
    return [
        UnpricedFee(item_type, count, f"no fee known for tool call type {item_type!r}")
        for item_type, count in sorted(usage.other_calls.items())
        if count and item_type not in book.tokens_only
    ]


def tool_fees(
    usage: model.ToolUsage, model_name: Optional[str], at: int, book: FeeBook, input_usd: InputPricer
) -> list[FeeOutcome]:
    """Every per-call fee of one response created at API time ``at``. Never raises."""
    outcomes: list[FeeOutcome] = []
    parts: tuple[Callable[[], Optional[FeeOutcome]], ...] = (
        lambda: web_search_fee(usage, model_name, at, book, input_usd),
        lambda: file_search_fee(usage, at, book),
        lambda: image_generation_fee(usage, at, book),
    )
    for part in parts:
        try:
            outcome = part()
        except Exception as exc:  # a data fault must not become an exception in the app
            logger.debug("tool fee failed", exc_info=True)
            outcome = UnpricedFee("tool_fee", 0, f"fee pricing failed: {type(exc).__name__}")
        if outcome is not None:
            outcomes.append(outcome)
    outcomes.extend(unknown_tool_fees(usage, book))
    return outcomes


def input_pricer(prices: Any, provider: str = "openai") -> InputPricer:
    """Search content tokens priced at the model's input rate by a ``pricing.PriceBook``."""

    def price(model_name: str, tokens: int, at: int) -> Union[Decimal, Unpriced]:
        cost = prices.token_cost(model_name, model.Usage(tokens, 0), at, provider)
        return cost if isinstance(cost, Unpriced) else cost.input_usd

    return price
