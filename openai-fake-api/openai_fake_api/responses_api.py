"""The Responses, Conversations and Containers endpoints, as request -> reply functions.

``ResponsesApi.routes`` has the same shape as ``Api.routes`` (the server tries them all). What each
response does comes from a ``ResponseScript`` named by the request's ``metadata["script"]``; a
response continuing another (``previous_response_id``) or a conversation inherits its script, and
plays the script's ``then`` when its input carries tool results.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

from openai.types import container_create_params
from openai.types.containers import file_create_params
from openai.types.conversations import conversation_create_params, conversation_update_params, item_create_params
from openai.types.responses import input_token_count_params, response_compact_params, response_create_params

from .api import Handler, Reply, Result, StreamReply, _keys
from .engine import Event, snap
from .responses_engine import LiveResponse, text_of, words
from .responses_scripts import BUILTIN_RESPONSE_SCRIPTS, ResponseScript, as_response_script
from .responses_state import ResponsesWorld
from .state import BadRequest, NotFound, Obj, World, new_id, page

ALLOWED = {
    "response.create": _keys(response_create_params.ResponseCreateParamsBase, extra=("stream",)),
    "response.compact": _keys(response_compact_params.ResponseCompactParams),
    "response.input_tokens": _keys(input_token_count_params.InputTokenCountParams),
    "conversation.create": _keys(conversation_create_params.ConversationCreateParams),
    "conversation.update": _keys(conversation_update_params.ConversationUpdateParams),
    "conversation.items": _keys(item_create_params.ItemCreateParams),
    "container.create": _keys(container_create_params.ContainerCreateParams),
    "container.file": _keys(file_create_params.FileCreateParams),
}
#: Parameters the API takes that older SDKs (openai 2.x) do not declare yet: their apps send them with
#: ``extra_body``. The newest SDK declares every one (a test checks it).
NEWER_PARAMS = {
    "response.create": frozenset({"access_programs", "background_options", "image", "moderation",
                                  "prompt_cache_options"}),
    "response.compact": frozenset({"image", "prompt_cache_key", "prompt_cache_options", "prompt_cache_retention",
                                   "safety_identifier", "service_tier"}),
    "response.input_tokens": frozenset({"personality"}),
    "conversation.create": frozenset({"safety_identifier"}),
    "container.create": frozenset({"network_policy", "skills"}),
}
#: Input item types that carry the result of a tool call: the script's ``then`` answers them.
TOOL_RESULTS = frozenset(
    {"function_call_output", "mcp_approval_response", "computer_call_output", "shell_call_output",
     "custom_tool_call_output", "local_shell_call_output", "apply_patch_call_output"}
)


def _check_fields(kind: str, body: Obj) -> None:
    unknown = sorted(set(body) - ALLOWED[kind] - NEWER_PARAMS.get(kind, frozenset()))
    if unknown:
        raise BadRequest(f"Unrecognized request argument supplied: {unknown[0]}", unknown[0])


#: The model of a response created from a stored prompt without a ``model`` (the prompt names it).
PROMPT_MODEL = "gpt-5.4-mini"
_ITEM_PREFIX = {"message": "msg", "function_call_output": "fco", "mcp_approval_response": "mcpa"}


@dataclass
class RawReply:
    """A non-JSON response body (container file content)."""

    status: int
    data: bytes
    content_type: str = "application/octet-stream"


def parse_body(raw: bytes, content_type: Optional[str]) -> Any:
    """A request body: JSON, or multipart form fields (uploaded files as bytes). Raises ValueError."""
    if not raw:
        return {}
    if content_type and content_type.startswith("multipart/form-data"):
        message = BytesParser(policy=HTTP).parsebytes(b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + raw)
        fields: Dict[str, Any] = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True) or b""
            fields[str(name)] = payload if part.get_filename() else payload.decode()
            if part.get_filename():
                fields[f"{name}.filename"] = part.get_filename()
        return fields
    return json.loads(raw)


def _input_items(value: Any) -> List[Obj]:
    """Request input as stored items (each with an id), the way ``input_items.list`` returns them."""
    if value is None:
        return []
    if isinstance(value, str):
        value = [{"role": "user", "content": value}]
    if not isinstance(value, list):
        raise BadRequest("Invalid type for 'input'.", "input")
    items: List[Obj] = []
    for entry in value:
        if not isinstance(entry, dict):
            raise BadRequest("Invalid input item.", "input")
        kind = entry.get("type", "message")
        item = {k: v for k, v in entry.items() if k not in ("id",)}
        item["type"] = kind
        item["id"] = entry.get("id") or new_id(_ITEM_PREFIX.get(kind, "item"))
        if kind == "message":
            content = entry.get("content", "")
            part = "output_text" if entry.get("role") == "assistant" else "input_text"
            if isinstance(content, str):
                content = [{"type": part, "text": content, **({"annotations": []} if part == "output_text" else {})}]
            item["content"] = content
            item["status"] = "completed"
        elif kind == "function_call_output":
            item["status"] = "completed"
        elif kind == "mcp_approval_response":
            item.setdefault("reason", None)
        items.append(item)
    return items


def _conversation_id(value: Any) -> Optional[str]:
    if isinstance(value, dict):
        return str(value.get("id")) if value.get("id") else None
    return str(value) if value else None


def _normalized_tools(tools: Any) -> List[Obj]:
    """Tools as the API echoes them (function tools get their defaults filled in)."""
    echoed: List[Obj] = []
    for tool in tools or []:
        tool = dict(tool)
        if tool.get("type") == "function":
            tool.setdefault("parameters", {})
            tool.setdefault("strict", True)
            tool.setdefault("description", None)
        echoed.append(tool)
    return echoed


class ResponsesApi:
    """Routes of the Responses API family; handlers run with ``world.lock`` held (``Api.handle``)."""

    def __init__(
        self,
        world: World,
        scripts: Dict[str, Any],
        report_usage: Callable[[], bool],
    ) -> None:
        self.world = world
        self.state = ResponsesWorld(world.clock)
        self.scripts = scripts
        self.report_usage = report_usage
        self.live: Dict[str, LiveResponse] = {}
        self.unstored: set[str] = set()  # created with store=false: not retrievable
        self.inputs: Dict[str, List[Obj]] = {}
        self.script_of: Dict[str, str] = {}  # response or conversation id -> script name
        self.container_of: Dict[str, str] = {}  # response or conversation id -> auto container id
        r = r"([A-Za-z0-9_\-]+)"
        self.routes: List[Tuple[str, re.Pattern[str], Handler]] = [
            ("POST", re.compile(r"/responses"), self.create),
            ("POST", re.compile(r"/responses/input_tokens"), self.input_tokens),
            ("POST", re.compile(r"/responses/compact"), self.compact),
            ("GET", re.compile(rf"/responses/{r}"), self.retrieve),
            ("DELETE", re.compile(rf"/responses/{r}"), self.delete),
            ("POST", re.compile(rf"/responses/{r}/cancel"), self.cancel),
            ("GET", re.compile(rf"/responses/{r}/input_items"), self.list_input_items),
            ("POST", re.compile(r"/conversations"), self.create_conversation),
            ("GET", re.compile(rf"/conversations/{r}"), self.get_conversation),
            ("POST", re.compile(rf"/conversations/{r}"), self.update_conversation),
            ("DELETE", re.compile(rf"/conversations/{r}"), self.delete_conversation),
            ("POST", re.compile(rf"/conversations/{r}/items"), self.create_items),
            ("GET", re.compile(rf"/conversations/{r}/items"), self.list_items),
            ("GET", re.compile(rf"/conversations/{r}/items/{r}"), self.get_item),
            ("DELETE", re.compile(rf"/conversations/{r}/items/{r}"), self.delete_item),
            ("POST", re.compile(r"/containers"), self.create_container),
            ("GET", re.compile(r"/containers"), self.list_containers),
            ("GET", re.compile(rf"/containers/{r}"), self.get_container),
            ("DELETE", re.compile(rf"/containers/{r}"), self.delete_container),
            ("POST", re.compile(rf"/containers/{r}/files"), self.create_file),
            ("GET", re.compile(rf"/containers/{r}/files"), self.list_files),
            ("GET", re.compile(rf"/containers/{r}/files/{r}"), self.get_file),
            ("DELETE", re.compile(rf"/containers/{r}/files/{r}"), self.delete_file),
            ("GET", re.compile(rf"/containers/{r}/files/{r}/content"), self.file_content),
        ]

    # -- responses ----------------------------------------------------------------------------
    def _script(self, body: Obj, parent: Optional[str], items: List[Obj]) -> Tuple[str, ResponseScript]:
        name = (body.get("metadata") or {}).get("script") or (parent and self.script_of.get(parent)) or "text"
        found = self.scripts.get(name, BUILTIN_RESPONSE_SCRIPTS.get(name))
        if found is None:
            raise BadRequest(f"Unknown fake API script {name!r}.", "metadata")
        script = as_response_script(found)
        if script.then is not None and any(item["type"] in TOOL_RESULTS for item in items):
            script = script.then
        return name, script

    def _new_response(self, body: Obj) -> LiveResponse:
        _check_fields("response.create", body)
        if not body.get("model") and not body.get("prompt"):
            raise BadRequest("Missing required parameter: 'model'.", "model")
        conversation_id = _conversation_id(body.get("conversation"))
        previous = body.get("previous_response_id")
        if conversation_id and previous:
            raise BadRequest("Use either 'conversation' or 'previous_response_id', not both.", "conversation")
        if conversation_id:
            self.state.conversation_items(conversation_id)
        if previous:
            self.state.responses.get(previous)
        background = bool(body.get("background"))
        if background and body.get("store") is False:
            raise BadRequest("Background responses require 'store' to be true.", "store")
        items = _input_items(body.get("input"))
        parent = conversation_id or previous
        name, script = self._script(body, parent, items)
        requested = body.get("service_tier") or "auto"
        served = script.served_tier or ("default" if requested == "auto" else requested)
        response = self._response_object(body, conversation_id, served)
        tools = response["tools"]
        self._check_explicit_containers(tools)
        container = self._container_resolver(response["id"], parent, tools)
        live = LiveResponse(
            response,
            script,
            self.report_usage(),
            list(body.get("include") or []),
            container,
            self._write_file,
            self.world.clock.now,
            text_of(body.get("input")) + " " + text_of(body.get("instructions")),
            self._ended,
        )
        self.state.responses.add(response)
        if body.get("store") is False:
            self.unstored.add(response["id"])
        self.live[response["id"]] = live
        self.inputs[response["id"]] = items
        for key in filter(None, (response["id"], conversation_id)):
            self.script_of[key] = name
        if conversation_id:
            self.state.items[conversation_id].extend(snap(items))
        if script.open_container and any(t.get("type") == "code_interpreter" for t in tools):
            container()
        return live

    def _response_object(self, body: Obj, conversation_id: Optional[str], served: str) -> Obj:
        return {
            "id": new_id("resp"),
            "object": "response",
            "created_at": self.world.clock.now(),
            "status": "queued" if body.get("background") else "in_progress",
            "background": bool(body.get("background")),
            "completed_at": None,
            "conversation": {"id": conversation_id} if conversation_id else None,
            "error": None,
            "incomplete_details": None,
            "instructions": body.get("instructions"),
            "max_output_tokens": body.get("max_output_tokens"),
            "max_tool_calls": body.get("max_tool_calls"),
            "metadata": body.get("metadata") or {},
            "model": body.get("model") or PROMPT_MODEL,
            "output": [],
            "parallel_tool_calls": bool(body.get("parallel_tool_calls", True)),
            "previous_response_id": body.get("previous_response_id"),
            "service_tier": served,
            "temperature": float(body.get("temperature", 1.0)),
            "prompt": body.get("prompt"),
            "text": body.get("text") or {"format": {"type": "text"}},
            "tool_choice": body.get("tool_choice") or "auto",
            "tools": _normalized_tools(body.get("tools")),
            "top_p": float(body.get("top_p", 1.0)),
            "truncation": body.get("truncation") or "disabled",
            "usage": None,
            "tool_usage": None,
            "user": None,
        }

    def _check_explicit_containers(self, tools: List[Obj]) -> None:
        for tool in tools:
            if tool.get("type") == "code_interpreter" and isinstance(tool.get("container"), str):
                self.state.use_container(tool["container"])

    def _container_resolver(self, response_id: str, parent: Optional[str], tools: List[Obj]) -> Callable[[], str]:
        """The container of this response's code and shell calls: the tool's explicit one, else an
        auto container reused from the parent response or conversation while it runs, else a new one."""
        chosen: List[str] = []

        def resolve() -> str:
            if not chosen:
                chosen.append(self._pick_container(parent, tools))
                for key in filter(None, (response_id, parent)):
                    self.container_of[key] = chosen[0]
            container = self.state.container(chosen[0])
            if container["status"] == "running":
                container["last_active_at"] = self.world.clock.now()
            return chosen[0]

        return resolve

    def _pick_container(self, parent: Optional[str], tools: List[Obj]) -> str:
        spec: Any = {"type": "auto"}
        for tool in tools:
            if tool.get("type") == "code_interpreter":
                spec = tool.get("container") or spec
        if isinstance(spec, str):
            return spec
        reused = self.container_of.get(parent or "")
        if reused and self.state.container(reused)["status"] == "running":
            return reused
        container = self.state.new_container("auto", spec.get("memory_limit"))
        for file_id in spec.get("file_ids") or []:
            self.state.add_file(container["id"], f"/mnt/data/{file_id}", b"", "user")
        return str(container["id"])

    def _write_file(self, container_id: str, path: str) -> None:
        self.state.add_file(container_id, path, f"written by code at {path}\n".encode(), "assistant")

    def _ended(self, response: Obj) -> None:
        conversation = response.get("conversation")
        if conversation and conversation["id"] in self.state.items:
            self.state.items[conversation["id"]].extend(snap(response["output"]))

    def _stream(self, live: LiveResponse, after: int) -> Iterator[Event]:
        """Events after sequence number ``after``, then on to the end of the response."""
        index = after + 1
        while True:
            with self.world.lock:
                if index >= len(live.events) and not live.done:
                    live.step()
                batch = live.events[index:]
                stop = live.done and index + len(batch) >= len(live.events)
            index += len(batch)
            yield from batch
            if stop:
                return

    def create(self, *, query: Obj, body: Obj) -> Result:
        live = self._new_response(body)
        if body.get("stream"):
            return StreamReply(self._stream(live, -1))
        if not live.response["background"]:
            live.finish()
        return Reply(200, snap(live.response))

    def _live(self, response_id: str) -> LiveResponse:
        self.state.responses.get(response_id)
        if response_id in self.unstored:
            raise NotFound("response", response_id, f"Response with id '{response_id}' not found.")
        return self.live[response_id]

    def retrieve(self, response_id: str, *, query: Obj, body: Obj) -> Result:
        live = self._live(response_id)
        if str(query.get("stream", "")).lower() == "true":
            if not live.response["background"]:
                raise BadRequest("Only background responses can be streamed with retrieve.", "stream")
            return StreamReply(self._stream(live, int(query.get("starting_after", -1))))
        live.poll()
        return Reply(200, snap(live.response))

    def delete(self, response_id: str, *, query: Obj, body: Obj) -> Result:
        self.state.responses.delete(response_id)
        return Reply(200, {"id": response_id, "object": "response.deleted", "deleted": True})

    def cancel(self, response_id: str, *, query: Obj, body: Obj) -> Result:
        live = self._live(response_id)
        if not live.response["background"]:
            raise BadRequest("Only responses created with background=true can be cancelled.", "response_id")
        if live.status in ("queued", "in_progress"):
            live.cancel()
        return Reply(200, snap(live.response))

    def list_input_items(self, response_id: str, *, query: Obj, body: Obj) -> Result:
        self._live(response_id)
        return Reply(200, snap(page(self.inputs[response_id], query)))

    def input_tokens(self, *, query: Obj, body: Obj) -> Result:
        _check_fields("response.input_tokens", body)
        count = words(text_of(body.get("input")) + " " + text_of(body.get("instructions"))) + 20
        return Reply(200, {"object": "response.input_tokens", "input_tokens": count})

    def compact(self, *, query: Obj, body: Obj) -> Result:
        _check_fields("response.compact", body)
        if not body.get("model"):
            raise BadRequest("Missing required parameter: 'model'.", "model")
        count = words(text_of(body.get("input")) + " " + text_of(body.get("instructions"))) + 20
        usage = {
            "input_tokens": count,
            "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
            "output_tokens": 64,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": count + 64,
        }
        item = {"id": new_id("cmp"), "type": "compaction", "encrypted_content": "gAAAA-fake-compaction"}
        return Reply(
            200,
            {
                "id": new_id("resp"),
                "object": "response.compaction",
                "created_at": self.world.clock.now(),
                "output": [item],
                "usage": usage,
            },
        )

    # -- conversations ------------------------------------------------------------------------
    def create_conversation(self, *, query: Obj, body: Obj) -> Result:
        _check_fields("conversation.create", body)
        conversation = self.state.new_conversation(body.get("metadata"))
        self.state.items[conversation["id"]].extend(_input_items(body.get("items")))
        return Reply(200, snap(conversation))

    def get_conversation(self, conversation_id: str, *, query: Obj, body: Obj) -> Result:
        return Reply(200, snap(self.state.conversations.get(conversation_id)))

    def update_conversation(self, conversation_id: str, *, query: Obj, body: Obj) -> Result:
        _check_fields("conversation.update", body)
        conversation = self.state.conversations.get(conversation_id)
        conversation["metadata"] = body.get("metadata") or {}
        return Reply(200, snap(conversation))

    def delete_conversation(self, conversation_id: str, *, query: Obj, body: Obj) -> Result:
        self.state.conversations.delete(conversation_id)
        del self.state.items[conversation_id]
        return Reply(200, {"id": conversation_id, "object": "conversation.deleted", "deleted": True})

    def create_items(self, conversation_id: str, *, query: Obj, body: Obj) -> Result:
        _check_fields("conversation.items", body)
        added = _input_items(body.get("items"))
        self.state.conversation_items(conversation_id).extend(added)
        return Reply(200, snap(page(added, {"order": "asc", "limit": 100})))

    def list_items(self, conversation_id: str, *, query: Obj, body: Obj) -> Result:
        return Reply(200, snap(page(self.state.conversation_items(conversation_id), query)))

    def _item(self, conversation_id: str, item_id: str) -> Obj:
        for item in self.state.conversation_items(conversation_id):
            if item["id"] == item_id:
                return item
        raise NotFound("item", item_id)

    def get_item(self, conversation_id: str, item_id: str, *, query: Obj, body: Obj) -> Result:
        return Reply(200, snap(self._item(conversation_id, item_id)))

    def delete_item(self, conversation_id: str, item_id: str, *, query: Obj, body: Obj) -> Result:
        self.state.items[conversation_id].remove(self._item(conversation_id, item_id))
        return Reply(200, snap(self.state.conversations.get(conversation_id)))

    # -- containers ---------------------------------------------------------------------------
    def create_container(self, *, query: Obj, body: Obj) -> Result:
        _check_fields("container.create", body)
        if not body.get("name"):
            raise BadRequest("Missing required parameter: 'name'.", "name")
        expires = body.get("expires_after") or {}
        container = self.state.new_container(body["name"], body.get("memory_limit"), expires.get("minutes"))
        for file_id in body.get("file_ids") or []:
            self.state.add_file(container["id"], f"/mnt/data/{file_id}", b"", "user")
        return Reply(200, snap(container))

    def list_containers(self, *, query: Obj, body: Obj) -> Result:
        containers = [self.state.container(c["id"]) for c in self.state.containers]
        return Reply(200, snap(page(containers, query)))

    def get_container(self, container_id: str, *, query: Obj, body: Obj) -> Result:
        return Reply(200, snap(self.state.container(container_id)))

    def delete_container(self, container_id: str, *, query: Obj, body: Obj) -> Result:
        self.state.containers.delete(container_id)
        return Reply(200, {"id": container_id, "object": "container.deleted", "deleted": True})

    def create_file(self, container_id: str, *, query: Obj, body: Obj) -> Result:
        _check_fields("container.file", {k: v for k, v in body.items() if not k.endswith(".filename")})
        data = body.get("file")
        if isinstance(data, bytes):
            name = str(body.get("file.filename") or "upload.bin")
            record = self.state.add_file(container_id, f"/mnt/data/{name}", data, "user")
        elif body.get("file_id"):
            record = self.state.add_file(container_id, f"/mnt/data/{body['file_id']}", b"", "user")
        else:
            raise BadRequest("Provide either 'file' or 'file_id'.", "file")
        return Reply(200, snap(record))

    def list_files(self, container_id: str, *, query: Obj, body: Obj) -> Result:
        self.state.container(container_id)
        return Reply(200, snap(page(self.state.container_files.where(container_id=container_id), query)))

    def get_file(self, container_id: str, file_id: str, *, query: Obj, body: Obj) -> Result:
        return Reply(200, snap(self.state.container_file(container_id, file_id)))

    def delete_file(self, container_id: str, file_id: str, *, query: Obj, body: Obj) -> Result:
        self.state.container_file(container_id, file_id)
        self.state.use_container(container_id)
        self.state.container_files.delete(file_id)
        return Reply(200, {"id": file_id, "object": "container.file.deleted", "deleted": True})

    def file_content(self, container_id: str, file_id: str, *, query: Obj, body: Obj) -> Any:
        self.state.container_file(container_id, file_id)
        self.state.use_container(container_id)
        return RawReply(200, self.state.file_bytes[file_id])
