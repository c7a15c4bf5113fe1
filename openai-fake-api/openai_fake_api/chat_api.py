"""The Chat Completions (with stored completions), legacy Completions, Embeddings and Moderations
endpoints, as request -> reply functions.

``ChatApi.routes`` has the same shape as ``Api.routes`` (the server tries them all). Chat answers
come from a ``ChatScript`` (``chat_scripts.py``); a stream sends ``data:`` lines without an event
name, as the real API does, and its usage only with ``stream_options.include_usage`` (in a last
chunk with no choices). Embeddings are answered as base64 when the SDK asks for it (its default).
"""

from __future__ import annotations

import base64
import re
import struct
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

from openai.types import completion_create_params, embedding_create_params, moderation_create_params
from openai.types.chat import completion_create_params as chat_create_params
from openai.types.chat import completion_update_params
from openai.types.moderation import Categories

from . import chat_validate  # noqa: F401  (registers the validation of these payloads)
from .api import Handler, Reply, Result, StreamReply, _keys
from .chat_scripts import BUILTIN_CHAT_SCRIPTS, ChatScript, ChatUsage
from .engine import Event, snap
from .responses_engine import text_of, words
from .state import BadRequest, NotFound, Obj, World, new_id, page

ALLOWED = {
    "chat.create": _keys(chat_create_params.CompletionCreateParamsBase, extra=("stream",)),
    "chat.update": _keys(completion_update_params.CompletionUpdateParams),
    "completion.create": _keys(completion_create_params.CompletionCreateParamsBase, extra=("stream",)),
    "embedding.create": _keys(embedding_create_params.EmbeddingCreateParams),
    "moderation.create": _keys(moderation_create_params.ModerationCreateParams),
}
DIMENSIONS = 8
FINGERPRINT = "fp_fake0001"


def _check_fields(kind: str, body: Obj) -> None:
    unknown = sorted(set(body) - ALLOWED[kind])
    if unknown:
        raise BadRequest(f"Unrecognized request argument supplied: {unknown[0]}", unknown[0])
    if kind != "chat.update" and not body.get("model") and kind != "moderation.create":
        raise BadRequest("Missing required parameter: 'model'.", "model")


def usage_object(u: ChatUsage) -> Obj:
    """``CompletionUsage`` with its details, every part inside its total."""
    return {
        "prompt_tokens": u.prompt,
        "completion_tokens": u.completion,
        "total_tokens": u.prompt + u.completion,
        "prompt_tokens_details": {"cached_tokens": u.cached, "audio_tokens": u.audio_in, "image_tokens": u.image,
                                  "cache_write_tokens": u.cache_write},
        "completion_tokens_details": {"reasoning_tokens": u.reasoning, "audio_tokens": u.audio_out,
                                      "accepted_prediction_tokens": u.accepted,
                                      "rejected_prediction_tokens": u.rejected},
    }


def _choices_text(script: ChatScript) -> str:
    return script.text if not script.tool_calls else ""


class ChatApi:
    """Routes of the one-request inference APIs; handlers run with ``world.lock`` held (``Api.handle``)."""

    def __init__(self, world: World, scripts: Dict[str, Any], report_usage: Callable[[], bool]) -> None:
        self.world = world
        self.scripts = scripts
        self.report_usage = report_usage
        self.stored: Dict[str, Obj] = {}  # stored chat completions (store=true), in creation order
        self.messages: Dict[str, List[Obj]] = {}
        r = r"([A-Za-z0-9_\-]+)"
        self.routes: List[Tuple[str, re.Pattern[str], Handler]] = [
            ("POST", re.compile(r"/chat/completions"), self.create_chat),
            ("GET", re.compile(r"/chat/completions"), self.list_chat),
            ("GET", re.compile(rf"/chat/completions/{r}"), self.get_chat),
            ("POST", re.compile(rf"/chat/completions/{r}"), self.update_chat),
            ("DELETE", re.compile(rf"/chat/completions/{r}"), self.delete_chat),
            ("GET", re.compile(rf"/chat/completions/{r}/messages"), self.list_chat_messages),
            ("POST", re.compile(r"/completions"), self.create_completion),
            ("POST", re.compile(r"/embeddings"), self.create_embedding),
            ("POST", re.compile(r"/moderations"), self.create_moderation),
        ]

    # -- scripts --------------------------------------------------------------------------------
    def _script(self, name: Optional[str], messages: Any) -> ChatScript:
        key = name or "text"
        found = self.scripts.get(key, BUILTIN_CHAT_SCRIPTS.get(key))
        if found is None:
            raise BadRequest(f"Unknown fake API script {key!r}.", "metadata")
        script: ChatScript = found
        if script.then is not None and any(isinstance(m, dict) and m.get("role") == "tool" for m in messages or []):
            script = script.then
        return script

    def _usage(self, script: ChatScript, prompt_text: str, n: int) -> Optional[Obj]:
        if not script.report_usage or not self.report_usage():
            return None
        if script.usage is not None:
            return usage_object(script.usage)
        output = words(_choices_text(script)) + sum(words(c.arguments) + 1 for c in script.tool_calls)
        return usage_object(ChatUsage(max(1, words(prompt_text)), output * n))

    @staticmethod
    def _tier(script: ChatScript, body: Obj) -> str:
        requested = body.get("service_tier") or "auto"
        return script.served_tier or ("default" if requested == "auto" else requested)

    # -- chat completions -----------------------------------------------------------------------
    def create_chat(self, *, query: Obj, body: Obj) -> Result:
        _check_fields("chat.create", body)
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise BadRequest("Missing required parameter: 'messages'.", "messages")
        script = self._script((body.get("metadata") or {}).get("script"), messages)
        n = int(body.get("n") or 1)
        calls = [{"id": new_id("call"), "type": "function",
                  "function": {"name": c.name, "arguments": c.arguments}} for c in script.tool_calls]
        finish = script.finish_reason or ("tool_calls" if calls else "stop")
        completion = {
            "id": new_id("chatcmpl"),
            "object": "chat.completion",
            "created": self.world.clock.now(),
            "model": body["model"],
            "choices": [{"index": i, "finish_reason": finish, "logprobs": None,
                         "message": {"role": "assistant", "content": _choices_text(script) or None, "refusal": None,
                                     "annotations": [], **({"tool_calls": snap(calls)} if calls else {})}}
                        for i in range(n)],
            "service_tier": self._tier(script, body),
            "system_fingerprint": FINGERPRINT,
            "usage": self._usage(script, text_of(messages), n),
        }
        if body.get("store"):
            self.stored[completion["id"]] = {**snap(completion), "metadata": body.get("metadata") or {}}
            self.messages[completion["id"]] = [{"id": f"{completion['id']}-{i}", "role": "assistant",
                                                "content": text_of(m), "refusal": None, "annotations": [],
                                                "audio": None, "tool_calls": None, "function_call": None,
                                                "content_parts": None}
                                               for i, m in enumerate(messages)]
        if body.get("stream"):
            include = bool((body.get("stream_options") or {}).get("include_usage"))
            return StreamReply(self._chat_chunks(completion, script, calls, include))
        return Reply(200, completion)

    def _chat_chunks(self, done: Obj, script: ChatScript, calls: List[Obj], include_usage: bool) -> Iterator[Event]:
        base = {k: done[k] for k in ("id", "object", "created", "model", "service_tier", "system_fingerprint")}
        base["object"] = "chat.completion.chunk"
        usage_slot = {"usage": None} if include_usage else {}

        def chunk(index: int, delta: Obj, finish: Optional[str] = None) -> Event:
            return "", {**base, **usage_slot, "choices": [{"index": index, "delta": delta, "finish_reason": finish,
                                                           "logprobs": None}]}

        text = _choices_text(script)
        for choice in done["choices"]:
            i = choice["index"]
            yield chunk(i, {"role": "assistant", "content": "", "refusal": None})
            for at in range(0, len(text), script.chunk):
                yield chunk(i, {"content": text[at: at + script.chunk]})
            for k, call in enumerate(calls):
                yield chunk(i, {"tool_calls": [{"index": k, "id": call["id"], "type": "function",
                                                "function": {"name": call["function"]["name"], "arguments": ""}}]})
                yield chunk(i, {"tool_calls": [{"index": k, "function": {"arguments": call["function"]["arguments"]}}]})
            yield chunk(i, {}, choice["finish_reason"])
        if include_usage and done["usage"] is not None:
            yield "", {**base, "choices": [], "usage": done["usage"]}

    def _stored(self, completion_id: str) -> Obj:
        found = self.stored.get(completion_id)
        if found is None:
            raise NotFound("chat completion", completion_id, f"No chat completion found with id '{completion_id}'.")
        return found

    def list_chat(self, *, query: Obj, body: Obj) -> Result:
        return Reply(200, page([snap(c) for c in self.stored.values()], query))

    def get_chat(self, completion_id: str, *, query: Obj, body: Obj) -> Result:
        return Reply(200, snap(self._stored(completion_id)))

    def update_chat(self, completion_id: str, *, query: Obj, body: Obj) -> Result:
        _check_fields("chat.update", body)
        stored = self._stored(completion_id)
        stored["metadata"] = dict(body.get("metadata") or {})
        return Reply(200, snap(stored))

    def delete_chat(self, completion_id: str, *, query: Obj, body: Obj) -> Result:
        self._stored(completion_id)
        del self.stored[completion_id]
        self.messages.pop(completion_id, None)
        return Reply(200, {"id": completion_id, "object": "chat.completion.deleted", "deleted": True})

    def list_chat_messages(self, completion_id: str, *, query: Obj, body: Obj) -> Result:
        self._stored(completion_id)
        return Reply(200, page(snap(self.messages[completion_id]), query))

    # -- legacy completions ---------------------------------------------------------------------
    def create_completion(self, *, query: Obj, body: Obj) -> Result:
        _check_fields("completion.create", body)
        script = self._script(body.get("user"), [])
        n = int(body.get("n") or 1)
        finish = script.finish_reason if script.finish_reason in ("stop", "length") else "stop"
        completion = {
            "id": new_id("cmpl"),
            "object": "text_completion",
            "created": self.world.clock.now(),
            "model": body["model"],
            "choices": [{"index": i, "text": script.text, "finish_reason": finish, "logprobs": None}
                        for i in range(n)],
            "system_fingerprint": FINGERPRINT,
            "usage": self._usage(ChatScript(script.text, usage=script.usage, report_usage=script.report_usage),
                                 text_of(body.get("prompt")), n),
        }
        if not body.get("stream"):
            return Reply(200, completion)
        include = bool((body.get("stream_options") or {}).get("include_usage"))
        return StreamReply(self._completion_chunks(completion, script, include))

    @staticmethod
    def _completion_chunks(done: Obj, script: ChatScript, include_usage: bool) -> Iterator[Event]:
        base = {k: done[k] for k in ("id", "object", "created", "model", "system_fingerprint")}
        for choice in done["choices"]:
            pieces = [script.text[at: at + script.chunk] for at in range(0, len(script.text), script.chunk)] or [""]
            for k, piece in enumerate(pieces):
                last = k == len(pieces) - 1
                yield "", {**base, "choices": [{"index": choice["index"], "text": piece, "logprobs": None,
                                                "finish_reason": choice["finish_reason"] if last else None}]}
        if include_usage and done["usage"] is not None:
            yield "", {**base, "choices": [], "usage": done["usage"]}

    # -- embeddings and moderations -------------------------------------------------------------
    def create_embedding(self, *, query: Obj, body: Obj) -> Result:
        _check_fields("embedding.create", body)
        raw = body.get("input")
        inputs = raw if isinstance(raw, list) and raw and not isinstance(raw[0], int) else [raw]
        if not inputs or any(i in (None, "", []) for i in inputs):
            raise BadRequest("'input' must not be empty.", "input")
        script = self.scripts.get(str(body.get("user")), None)
        tokens = sum(len(i) if isinstance(i, list) else max(1, words(str(i))) for i in inputs)
        if isinstance(script, ChatScript) and script.usage is not None:
            tokens = script.usage.prompt
        as_base64 = body.get("encoding_format") == "base64"
        data = []
        for index in range(len(inputs)):
            vector = [round((index + 1) / (d + 2), 6) for d in range(int(body.get("dimensions") or DIMENSIONS))]
            encoded = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode() if as_base64 else vector
            data.append({"object": "embedding", "index": index, "embedding": encoded})
        return Reply(200, {"object": "list", "data": data, "model": body["model"],
                           "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})

    def create_moderation(self, *, query: Obj, body: Obj) -> Result:
        _check_fields("moderation.create", body)
        raw = body.get("input")
        inputs = raw if isinstance(raw, list) else [raw]
        names = [f.alias or name for name, f in Categories.model_fields.items()]
        result = {"flagged": False, "categories": dict.fromkeys(names, False),
                  "category_scores": dict.fromkeys(names, 0.0001),
                  "category_applied_input_types": {n: ["text"] for n in names}}
        return Reply(200, {"id": new_id("modr"), "model": body.get("model") or "omni-moderation-latest",
                           "results": [snap(result) for _ in inputs]})
