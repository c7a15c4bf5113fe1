"""Checks the Chat Completions, Completions, Embeddings and Moderations payloads against the SDK's
models (registered in ``validate.CHECKERS`` on import)."""

from __future__ import annotations

import base64
import struct
from typing import Any, Dict, Type

from openai.types import Completion, CreateEmbeddingResponse, ModerationCreateResponse
from openai.types.chat import ChatCompletion, ChatCompletionChunk, ChatCompletionDeleted, ChatCompletionStoreMessage
from pydantic import BaseModel

from .validate import CHECKERS, PayloadError, _check_model

MODELS: Dict[str, Type[BaseModel]] = {
    "chat.completion": ChatCompletion,
    "chat.completion.chunk": ChatCompletionChunk,
    "chat.completion.deleted": ChatCompletionDeleted,
    "text_completion": Completion,
}


def _decoded(payload: Dict[str, Any]) -> Dict[str, Any]:
    """An embeddings list with its base64 vectors read back as floats (the SDK decodes them itself)."""
    data = []
    for item in payload.get("data") or []:
        vector = item.get("embedding") if isinstance(item, dict) else None
        if isinstance(vector, str):
            raw = base64.b64decode(vector)
            item = {**item, "embedding": list(struct.unpack(f"<{len(raw) // 4}f", raw))}
        data.append(item)
    return {**payload, "data": data}


def check(payload: Any, where: str) -> bool:
    if not isinstance(payload, dict):
        return False
    kind = payload.get("object")
    if kind == "text_completion":  # streamed chunks carry finish_reason null until the last (the model says required)
        payload = {**payload, "choices": [{**c, "finish_reason": c.get("finish_reason") or "stop"}
                                          if isinstance(c, dict) else c for c in payload.get("choices") or []]}
    if kind in MODELS:
        _check_model(MODELS[kind], payload, where, complete=False)
        return True
    if kind == "list" and "usage" in payload and "model" in payload:
        _check_model(CreateEmbeddingResponse, _decoded(payload), where, complete=True)
        return True
    if kind is None and "results" in payload and "model" in payload:
        _check_model(ModerationCreateResponse, payload, where, complete=True)
        return True
    if kind == "list" and payload.get("data") and all(_is_store_message(i) for i in payload["data"]):
        for i, item in enumerate(payload["data"]):
            _check_model(ChatCompletionStoreMessage, item, f"{where}.data[{i}]", complete=False)
        return True
    return False


def _is_store_message(item: Any) -> bool:
    return isinstance(item, dict) and "object" not in item and "role" in item and "type" not in item


CHECKERS.append(check)
__all__ = ["PayloadError", "check"]
