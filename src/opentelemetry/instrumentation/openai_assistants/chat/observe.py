"""Readers of Chat Completions, Completions, Embeddings and Moderations objects -> records of ``model``.

Total like every reader: a best-effort record or ``None``, never an exception, whatever the shape.
"""

from __future__ import annotations

import re
from typing import Any, Optional

from .. import semconv as sc
from ..fields import fields, get, integer, items, server_of, text
from ..model import Completion, CompletionRequest, ToolCall, Usage
from .state import CallState

_KIND = {"chat/completions": sc.API_CHAT_COMPLETIONS, "completions": sc.API_COMPLETIONS,
         "embeddings": sc.API_EMBEDDINGS, "moderations": sc.API_MODERATIONS}
OPERATION = {sc.API_CHAT_COMPLETIONS: sc.OP_CHAT, sc.API_COMPLETIONS: sc.OP_TEXT_COMPLETION,
             sc.API_EMBEDDINGS: sc.OP_EMBEDDINGS, sc.API_MODERATIONS: sc.OP_MODERATIONS}
PATHS = re.compile(r"^(?:chat/completions|completions|embeddings|moderations)(?:/|$)")


def creation_kind(method: str, path: str) -> Optional[str]:
    """The API of a request that creates a billed call (``POST`` on a collection), else None (reads,
    updates and deletions of stored completions, which cost nothing)."""
    return _KIND.get(path) if method == "post" else None


def _part(value: Any, limit: int) -> int:
    number = integer(value)
    return min(number, limit) if number is not None and number > 0 else 0


def usage(obj: Any) -> Optional[Usage]:
    """``CompletionUsage`` (chat, completions) or the embeddings usage: each detail a part of its total."""
    f = fields(obj)
    prompt = integer(f.get("prompt_tokens"))
    if prompt is None or prompt < 0:
        return None
    completion = integer(f.get("completion_tokens"))
    completion = completion if completion is not None and completion >= 0 else 0
    details_in, details_out = f.get("prompt_tokens_details"), f.get("completion_tokens_details")
    cached = _part(get(details_in, "cached_tokens"), prompt)
    written = _part(get(details_in, "cache_write_tokens"), prompt - cached)
    audio_in = _part(get(details_in, "audio_tokens"), prompt - cached - written)
    audio_out = _part(get(details_out, "audio_tokens"), completion)
    return Usage(prompt, completion, "reported", cached_input_tokens=cached, cache_write_tokens=written,
                 reasoning_tokens=_part(get(details_out, "reasoning_tokens"), completion - audio_out),
                 audio_input_tokens=audio_in, audio_output_tokens=audio_out,
                 accepted_prediction_tokens=_part(get(details_out, "accepted_prediction_tokens"), completion),
                 rejected_prediction_tokens=_part(get(details_out, "rejected_prediction_tokens"), completion))


def tool_calls(message: Any) -> list[ToolCall]:
    """The function (and custom) tool calls a chat message requests."""
    found = []
    for raw in items(get(message, "tool_calls")):
        f = fields(raw)
        kind = text(f.get("type")) or "function"
        spec = f.get("function") if kind == "function" else f.get("custom")
        name = text(get(spec, "name")) or kind
        found.append(ToolCall(id=text(f.get("id")) or "", type=kind, name=name,
                              arguments=text(get(spec, "arguments")) or text(get(spec, "input"))))
    return found


def tool_call_ids(kind: str, f: Any) -> list[str]:
    """The ids of the tool calls of a chat completion's choices (``f``: its fields), as ``tool_calls``
    reads them: read on the caller's path for a call whose record is built later (``read_unread``)."""
    if kind != sc.API_CHAT_COMPLETIONS:
        return []
    ids = []
    for choice in items(f.get("choices")):
        for raw in items(get(get(choice, "message"), "tool_calls")):
            ident = text(get(raw, "id"))
            if ident:
                ids.append(ident)
    return ids


def read_unread(state: CallState) -> None:
    """Off the caller's path: what a call left unread there (its request body, its client's server, the
    SDK object it returned) read into its records. Idempotent."""
    if not state.unread:
        return
    state.unread = False
    state.request = request(state.kind, state.body)
    state.server_address, state.server_port = server_of(state.client)
    obj, state.returned = state.returned, None
    if obj is not None:
        state.completion = completion(state.kind, obj)


def completion(kind: str, obj: Any) -> Optional[Completion]:
    """A chat completion, legacy completion, embeddings list or moderation result as one record."""
    f = fields(obj)
    record = Completion(id=text(f.get("id")) or "", kind=kind, model=text(f.get("model")),
                        created_at=integer(f.get("created")), service_tier=text(f.get("service_tier")),
                        usage=usage(f.get("usage")), system_fingerprint=text(f.get("system_fingerprint")))
    if kind in (sc.API_EMBEDDINGS, sc.API_MODERATIONS):
        record.choices = len(items(f.get("data") or f.get("results")))
        return record
    texts = []
    for choice in items(f.get("choices")):
        reason = text(get(choice, "finish_reason"))
        if reason:
            record.finish_reasons.append(reason)
        message = get(choice, "message")
        texts.append(text(get(message, "content")) or text(get(message, "refusal")) or text(get(choice, "text")) or "")
        record.tool_calls.extend(tool_calls(message))
        record.choices += 1
    record.output_text = "\n".join(t for t in texts if t)
    return record


def request(kind: str, body: Any) -> CompletionRequest:
    """What a creation body asks for (its message text is read later, off the caller's path)."""
    n = integer(get(body, "n"))
    outputs = [text(get(m, "tool_call_id")) for m in items(get(body, "messages")) if get(m, "role") == "tool"]
    return CompletionRequest(
        model=text(get(body, "model")),
        stream=get(body, "stream") is True,
        include_usage=get(get(body, "stream_options"), "include_usage") is True,
        n=n if n is not None and n > 0 else 1,
        service_tier=text(get(body, "service_tier")),
        tool_outputs=[o for o in outputs if o],
        search=isinstance(get(body, "web_search_options"), dict),
    )


def input_texts(kind: str, body: Any) -> tuple[list[str], bool]:
    """The texts the model reads from a request, and whether some input could not be counted as text
    (images, audio, token arrays)."""
    if kind == sc.API_CHAT_COMPLETIONS:
        texts, uncounted = [], False
        for message in items(get(body, "messages")):
            content = get(message, "content")
            if isinstance(content, str):
                texts.append(content)
            for part in items(content):
                if get(part, "type") == "text":
                    texts.append(text(get(part, "text")) or "")
                else:
                    uncounted = True
            for call in items(get(message, "tool_calls")):
                texts.append(text(get(get(call, "function"), "arguments")) or "")
        return texts, uncounted
    raw = get(body, "prompt") if kind == sc.API_COMPLETIONS else get(body, "input")
    if isinstance(raw, str):
        return [raw], False
    strings = [r for r in items(raw) if isinstance(r, str)]
    return strings, len(strings) != len(items(raw))


def chunk_deltas(values: Any) -> tuple[list[str], list[tuple[int, int, Optional[str], Optional[str], str]]]:
    """Text deltas of a chunk's choices, and its tool-call deltas as (choice, index, id, name, arguments)."""
    texts: list[str] = []
    calls: list[tuple[int, int, Optional[str], Optional[str], str]] = []
    for choice in items(values.get("choices")):
        delta = get(choice, "delta")
        piece = text(get(delta, "content")) or text(get(choice, "text")) or text(get(delta, "refusal"))
        if piece:
            texts.append(piece)
        for call in items(get(delta, "tool_calls")):
            function = get(call, "function")
            calls.append((integer(get(choice, "index")) or 0, integer(get(call, "index")) or 0,
                          text(get(call, "id")), text(get(function, "name")), text(get(function, "arguments")) or ""))
    return texts, calls
