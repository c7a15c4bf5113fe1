"""Read what the Responses API says about hosted tools into the records of ``model``.

Containers (the container object of ``containers.*`` calls, the ``container_id`` of
``code_interpreter_call`` items and the ``container_reference`` of ``shell_call`` items), the
tool parameters of a request (an auto container's ``memory_limit``, the web search tool version,
the image model), and a response's billable tool use (``tool_usage`` and its tool call items).
Objects may be SDK models or plain dicts, in any shape: every reader is total and never raises.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Optional

from ..fields import get
from ..model import DEFAULT_CONTAINER_EXPIRY_MINUTES, Container, ImageGenUsage, Response, ToolCall, ToolUsage

logger = logging.getLogger(__name__)

_FEE_ITEMS = frozenset({"web_search_call", "file_search_call"})
_WEB_SEARCH_TOOLS = {"web_search": "web_search", "web_search_2025_08_26": "web_search",
                     "web_search_preview": "web_search_preview", "web_search_preview_2025_03_11": "web_search_preview"}


@dataclass(frozen=True)
class NamedContainer:
    """A container named by an output item: the item is the tool call that used it."""

    container_id: str
    item_id: Optional[str]
    item_type: str  # code_interpreter_call | shell_call


@dataclass(frozen=True)
class RequestTools:
    """What a request's ``tools`` tell the accounting."""

    auto_container: bool = False  # Code Interpreter or shell with an auto container
    auto_memory_limit: Optional[str] = None
    explicit_containers: tuple[str, ...] = ()
    web_search_tool: Optional[str] = None  # web_search | web_search_preview
    image_model: Optional[str] = None


@dataclass(frozen=True)
class UsedContainer:
    """A container a tool call of a response ran in, as the response tells it."""

    call_id: str
    update: Container  # its tier when the request chose it (auto), its first sight


@dataclass(frozen=True)
class HostedFacts:
    """What a finished response tells its hosted-tool accounting: read once, from its records and its
    request's ``tools``, before anything is accounted."""

    response_id: str
    at: int  # API time of its end (``completed_at``, else ``created_at``)
    created_at: int
    model: Optional[str]
    containers: tuple[UsedContainer, ...]
    auto_without_call: bool  # an auto container was enabled and no tool call named one
    auto_memory_limit: Optional[str]
    usage: ToolUsage
    fee_calls: dict[str, str]  # fee kind -> the tool call whose span carries it


FEE_TOOLS = {"web_search": "web_search", "file_search": "file_search", "image_generation": "image_generation"}


def hosted_facts(response: Response, tools_param: Any, model: Optional[str]) -> Optional[HostedFacts]:
    """The hosted-tool facts of a finished response; None when it says no time (nothing to date)."""
    at = response.completed_at or response.created_at
    if at is None:
        return None
    tools = request_tools(tools_param)
    created = response.created_at or at
    used: dict[str, UsedContainer] = {}
    for call in response.tool_calls:
        ident = call.container_id
        if ident and ident not in used:
            limit = None if ident in tools.explicit_containers else tools.auto_memory_limit
            used[ident] = UsedContainer(call.id, Container(ident, memory_limit=limit, first_seen_at=created))
    return HostedFacts(
        response.id, at, created, model, tuple(used.values()),
        tools.auto_container and not used and response.terminal, tools.auto_memory_limit,
        calls_usage(response.tool_calls, response.tool_usage, tools.web_search_tool, tools.image_model),
        {kind: _fee_call(response.tool_calls, tool) for kind, tool in FEE_TOOLS.items()},
    )


def calls_usage(calls: list[ToolCall], reported: Optional[ToolUsage], search_tool: Optional[str],
                image_model: Optional[str]) -> ToolUsage:
    """Billable tool use: ``tool_usage`` as reported where it says, the tool call items otherwise."""
    usage = ToolUsage(web_search_requests=reported.web_search_requests if reported else None,
                      web_search_tool=search_tool or "web_search",
                      image_gen=reported.image_gen if reported else None, image_model=image_model)
    for call in calls:
        if call.type == "web_search":
            action = call.action or "unknown"
            usage.web_search_actions[action] = usage.web_search_actions.get(action, 0) + 1
        elif call.type == "file_search":
            usage.file_search_calls += 1
        else:
            kind = call.type if call.type == "mcp_list_tools" else f"{call.type}_call"  # the item type
            usage.other_calls[kind] = usage.other_calls.get(kind, 0) + 1
    return usage


def _fee_call(calls: list[ToolCall], tool: str) -> str:
    """The tool call whose span carries a fee: the first of its kind (a search action first)."""
    matching = [c for c in calls if c.type == tool]
    searches = [c for c in matching if c.action == "search"]
    chosen = searches or matching
    return chosen[0].id if chosen else ""


def _int(value: Any) -> Optional[int]:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _str(value: Any) -> Optional[str]:
    return value if isinstance(value, str) and value else None


def container_from_object(obj: Any) -> Optional[Container]:
    """A container object (create, retrieve, list) as an observed record; None if it names no id."""
    try:
        container_id = _str(get(obj, "id"))
        if container_id is None:
            return None
        minutes = _int(get(get(obj, "expires_after"), "minutes"))
        return Container(
            container_id,
            memory_limit=_str(get(obj, "memory_limit")),
            created_at=_int(get(obj, "created_at")),
            last_active_at=_int(get(obj, "last_active_at")),
            expires_after_minutes=minutes if minutes and minutes > 0 else DEFAULT_CONTAINER_EXPIRY_MINUTES,
            observed=True,
        )
    except Exception:
        logger.debug("unreadable container object", exc_info=True)
        return None


def containers_named(items: Iterable[Any]) -> list[NamedContainer]:
    """The containers a response's output items ran in, in item order."""
    named = []
    try:
        for item in items or ():
            kind = get(item, "type")
            if kind == "code_interpreter_call":
                container_id = _str(get(item, "container_id"))
            elif kind == "shell_call":
                container_id = _str(get(get(item, "environment"), "container_id"))
            else:
                continue
            if container_id:
                named.append(NamedContainer(container_id, _str(get(item, "id")), str(kind)))
    except Exception:
        logger.debug("unreadable output items", exc_info=True)
    return named


def request_tools(tools: Any) -> RequestTools:
    """What a request's ``tools`` parameter says about containers, search and image generation."""
    auto, limit, explicit, search, image = False, None, [], None, None
    try:
        for tool in tools or ():
            kind = get(tool, "type")
            if kind == "code_interpreter":
                spec = get(tool, "container")
                if isinstance(spec, str):
                    explicit.append(spec)
                else:
                    auto, limit = True, limit or _str(get(spec, "memory_limit"))
            elif kind == "shell":
                env = get(tool, "environment")
                if get(env, "type") == "container_auto":
                    auto, limit = True, limit or _str(get(env, "memory_limit"))
                elif get(env, "type") == "container_reference" and _str(get(env, "container_id")):
                    explicit.append(str(get(env, "container_id")))
            elif kind in _WEB_SEARCH_TOOLS:
                search = _WEB_SEARCH_TOOLS[str(kind)]
            elif kind == "image_generation":
                image = _str(get(tool, "model"))
    except Exception:
        logger.debug("unreadable request tools", exc_info=True)
    return RequestTools(auto, limit, tuple(explicit), search, image)


def reported_tool_usage(raw: Any) -> Optional[ToolUsage]:
    """``tool_usage`` as reported (billable web searches, image tokens); None when absent."""
    try:
        if raw is None:
            return None
        return ToolUsage(web_search_requests=_int(get(get(raw, "web_search"), "num_requests")),
                         image_gen=_image_gen(get(raw, "image_gen")))
    except Exception:
        logger.debug("unreadable tool usage", exc_info=True)
        return None


def tool_usage(response: Any, tools: RequestTools) -> ToolUsage:
    """A response's billable hosted-tool use: ``tool_usage`` where reported, its items otherwise."""
    usage = ToolUsage(web_search_tool=tools.web_search_tool or "web_search", image_model=tools.image_model)
    try:
        reported = get(response, "tool_usage")
        usage.web_search_requests = _int(get(get(reported, "web_search"), "num_requests"))
        usage.image_gen = _image_gen(get(reported, "image_gen"))
        for item in get(response, "output") or ():
            kind = get(item, "type")
            if kind == "web_search_call":
                action = _str(get(get(item, "action"), "type")) or "unknown"
                usage.web_search_actions[action] = usage.web_search_actions.get(action, 0) + 1
            elif kind == "file_search_call":
                usage.file_search_calls += 1
            elif isinstance(kind, str) and kind.endswith("_call") and kind not in _FEE_ITEMS:
                usage.other_calls[kind] = usage.other_calls.get(kind, 0) + 1
    except Exception:
        logger.debug("unreadable tool usage", exc_info=True)
    return usage


def _image_gen(raw: Any) -> Optional[ImageGenUsage]:
    input_tokens, output_tokens = _int(get(raw, "input_tokens")), _int(get(raw, "output_tokens"))
    if input_tokens is None or output_tokens is None:
        return None
    details = get(raw, "input_tokens_details")
    cached = get(raw, "cached_tokens_details")
    return ImageGenUsage(
        input_tokens,
        output_tokens,
        input_image_tokens=_int(get(details, "image_tokens")) or 0,
        cached_tokens=_int(get(raw, "cached_tokens")) or 0,
        cached_image_tokens=_int(get(cached, "cached_image_tokens")) or 0,
        output_image_tokens=_int(get(get(raw, "output_tokens_details"), "image_tokens")),
    )


def response_time(response: Any) -> Optional[int]:
    """The API time a response last showed activity: ``completed_at``, else ``created_at``."""
    return _int(get(response, "completed_at")) or _int(get(response, "created_at"))
