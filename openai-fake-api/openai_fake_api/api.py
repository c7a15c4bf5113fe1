"""The Assistants v2 endpoints, as pure request -> reply functions over the in-memory ``World``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable, Dict, FrozenSet, Iterator, List, Tuple, Union

from openai.types.beta import (
    assistant_create_params,
    assistant_update_params,
    thread_create_and_run_params,
    thread_create_params,
    thread_update_params,
)
from openai.types.beta.threads import (
    message_create_params,
    message_update_params,
    run_create_params,
    run_submit_tool_outputs_params,
    run_update_params,
)

from .engine import EXPIRES_AFTER_S, TERMINAL, Event, LiveRun, snap, text_part
from .scripts import BUILTIN_SCRIPTS, Script, as_script
from .state import BadRequest, NotFound, Obj, World, new_id, page


@dataclass
class Reply:
    """A JSON response."""

    status: int
    body: Obj


@dataclass
class StreamReply:
    """A Server-Sent Events response; ``events`` advances the run lazily, event by event."""

    events: Iterator[Event]


Result = Union[Reply, StreamReply]


def _keys(*typed_dicts: Any, extra: Tuple[str, ...] = ()) -> FrozenSet[str]:
    keys: set[str] = set(extra)
    for td in typed_dicts:
        keys |= set(td.__required_keys__) | set(td.__optional_keys__)
    return frozenset(keys)


ALLOWED = {
    "assistant.create": _keys(assistant_create_params.AssistantCreateParams),
    "assistant.update": _keys(assistant_update_params.AssistantUpdateParams),
    "thread.create": _keys(thread_create_params.ThreadCreateParams),
    "thread.update": _keys(thread_update_params.ThreadUpdateParams),
    "thread.run": _keys(thread_create_and_run_params.ThreadCreateAndRunParamsBase, extra=("stream",)),
    "message.create": _keys(message_create_params.MessageCreateParams),
    "message.update": _keys(message_update_params.MessageUpdateParams),
    "run.create": _keys(run_create_params.RunCreateParamsBase, extra=("stream",)),
    "run.update": _keys(run_update_params.RunUpdateParams),
    "run.submit": _keys(run_submit_tool_outputs_params.RunSubmitToolOutputsParamsBase, extra=("stream",)),
}


def _check_fields(kind: str, body: Obj) -> None:
    unknown = sorted(set(body) - ALLOWED[kind])
    if unknown:
        raise BadRequest(f"Unrecognized request argument supplied: {unknown[0]}", unknown[0])


def _number(body: Obj, key: str, default: float) -> float:
    value = body.get(key)
    return default if value is None else float(value)


def _content(value: Any) -> List[Obj]:
    """Message content as the API stores it: a plain string becomes one text part."""
    if isinstance(value, str):
        return [text_part(value)]
    if not isinstance(value, list):
        raise BadRequest("Invalid type for 'content'.", "content")
    parts: List[Obj] = []
    for part in value:
        if part.get("type") == "text":
            parts.append(text_part(str(part.get("text", ""))))
        elif part.get("type") in ("image_file", "image_url"):
            parts.append(dict(part))
        else:
            raise BadRequest("Invalid content part type.", "content")
    return parts


Handler = Callable[..., Result]


class Api:
    """Routes requests to handlers; call ``handle`` with the ``World`` lock free (it takes it)."""

    def __init__(self, world: World, scripts: Dict[str, Any], report_usage: Callable[[], bool]) -> None:
        self.world = world
        self.scripts = scripts
        self.report_usage = report_usage
        self.live: Dict[str, LiveRun] = {}
        r = r"([A-Za-z0-9_\-]+)"
        self.routes: List[Tuple[str, re.Pattern[str], Handler]] = [
            ("POST", re.compile(r"/assistants"), self.create_assistant),
            ("GET", re.compile(r"/assistants"), self.list_assistants),
            ("GET", re.compile(rf"/assistants/{r}"), self.get_assistant),
            ("POST", re.compile(rf"/assistants/{r}"), self.update_assistant),
            ("DELETE", re.compile(rf"/assistants/{r}"), self.delete_assistant),
            ("POST", re.compile(r"/threads"), self.create_thread),
            ("POST", re.compile(r"/threads/runs"), self.create_thread_and_run),
            ("GET", re.compile(rf"/threads/{r}"), self.get_thread),
            ("POST", re.compile(rf"/threads/{r}"), self.update_thread),
            ("DELETE", re.compile(rf"/threads/{r}"), self.delete_thread),
            ("POST", re.compile(rf"/threads/{r}/messages"), self.create_message),
            ("GET", re.compile(rf"/threads/{r}/messages"), self.list_messages),
            ("GET", re.compile(rf"/threads/{r}/messages/{r}"), self.get_message),
            ("POST", re.compile(rf"/threads/{r}/messages/{r}"), self.update_message),
            ("DELETE", re.compile(rf"/threads/{r}/messages/{r}"), self.delete_message),
            ("POST", re.compile(rf"/threads/{r}/runs"), self.create_run),
            ("GET", re.compile(rf"/threads/{r}/runs"), self.list_runs),
            ("GET", re.compile(rf"/threads/{r}/runs/{r}"), self.get_run),
            ("POST", re.compile(rf"/threads/{r}/runs/{r}"), self.update_run),
            ("POST", re.compile(rf"/threads/{r}/runs/{r}/cancel"), self.cancel_run),
            ("POST", re.compile(rf"/threads/{r}/runs/{r}/submit_tool_outputs"), self.submit_tool_outputs),
            ("GET", re.compile(rf"/threads/{r}/runs/{r}/steps"), self.list_steps),
            ("GET", re.compile(rf"/threads/{r}/runs/{r}/steps/{r}"), self.get_step),
        ]

    def handle(self, method: str, path: str, query: Dict[str, Any], body: Obj) -> Result:
        """``path`` is relative to ``/v1``. Raises ``NotFound`` / ``BadRequest`` for the caller to answer."""
        for verb, pattern, handler in self.routes:
            match = pattern.fullmatch(path)
            if verb == method and match:
                with self.world.lock:
                    return handler(*match.groups(), query=query, body=body)
        raise NotFound("route", path, f"Invalid URL ({method} /v1{path})")

    # -- assistants ---------------------------------------------------------------------------
    def create_assistant(self, *, query: Obj, body: Obj) -> Result:
        _check_fields("assistant.create", body)
        if not body.get("model"):
            raise BadRequest("Missing required parameter: 'model'.", "model")
        assistant = {
            "id": new_id("asst"),
            "object": "assistant",
            "created_at": self.world.clock.now(),
            "name": None,
            "description": None,
            "model": body["model"],
            "instructions": None,
            "tools": [],
            "tool_resources": {},
            "metadata": {},
            "top_p": 1.0,
            "temperature": 1.0,
            "response_format": "auto",
        }
        self._apply_assistant(assistant, body)
        return Reply(200, snap(self.world.assistants.add(assistant)))

    @staticmethod
    def _apply_assistant(assistant: Obj, body: Obj) -> None:
        for key in ("name", "description", "model", "instructions", "tools", "tool_resources", "metadata"):
            if key in body and body[key] is not None:
                assistant[key] = body[key]
        for key in ("top_p", "temperature"):
            if body.get(key) is not None:
                assistant[key] = float(body[key])
        if body.get("response_format") is not None:
            assistant["response_format"] = body["response_format"]

    def list_assistants(self, *, query: Obj, body: Obj) -> Result:
        return Reply(200, snap(page(list(self.world.assistants), query)))

    def get_assistant(self, assistant_id: str, *, query: Obj, body: Obj) -> Result:
        return Reply(200, snap(self.world.assistants.get(assistant_id)))

    def update_assistant(self, assistant_id: str, *, query: Obj, body: Obj) -> Result:
        _check_fields("assistant.update", body)
        assistant = self.world.assistants.get(assistant_id)
        self._apply_assistant(assistant, body)
        return Reply(200, snap(assistant))

    def delete_assistant(self, assistant_id: str, *, query: Obj, body: Obj) -> Result:
        self.world.assistants.delete(assistant_id)
        return Reply(200, {"id": assistant_id, "object": "assistant.deleted", "deleted": True})

    # -- threads ------------------------------------------------------------------------------
    def _new_thread(self, body: Obj) -> Obj:
        thread: Obj = {
            "id": new_id("thread"),
            "object": "thread",
            "created_at": self.world.clock.now(),
            "metadata": body.get("metadata") or {},
            "tool_resources": body.get("tool_resources") or {},
        }
        self.world.threads.add(thread)
        for message in body.get("messages") or []:
            self._new_message(thread["id"], message)
        return thread

    def create_thread(self, *, query: Obj, body: Obj) -> Result:
        _check_fields("thread.create", body)
        return Reply(200, snap(self._new_thread(body)))

    def get_thread(self, thread_id: str, *, query: Obj, body: Obj) -> Result:
        return Reply(200, snap(self.world.threads.get(thread_id)))

    def update_thread(self, thread_id: str, *, query: Obj, body: Obj) -> Result:
        _check_fields("thread.update", body)
        thread = self.world.threads.get(thread_id)
        for key in ("metadata", "tool_resources"):
            if body.get(key) is not None:
                thread[key] = body[key]
        return Reply(200, snap(thread))

    def delete_thread(self, thread_id: str, *, query: Obj, body: Obj) -> Result:
        self.world.threads.delete(thread_id)
        return Reply(200, {"id": thread_id, "object": "thread.deleted", "deleted": True})

    # -- messages -----------------------------------------------------------------------------
    def _new_message(self, thread_id: str, body: Obj) -> Obj:
        role = body.get("role")
        if role not in ("user", "assistant"):
            raise BadRequest("Invalid value for 'role': expected 'user' or 'assistant'.", "role")
        now = self.world.clock.now()
        message = {
            "id": new_id("msg"),
            "object": "thread.message",
            "created_at": now,
            "thread_id": thread_id,
            "role": role,
            "content": _content(body.get("content", "")),
            "assistant_id": None,
            "run_id": None,
            "attachments": body.get("attachments") or [],
            "metadata": body.get("metadata") or {},
            "status": "completed",
            "completed_at": now,
            "incomplete_at": None,
            "incomplete_details": None,
        }
        return self.world.messages.add(message)

    def _message(self, thread_id: str, message_id: str) -> Obj:
        self.world.threads.get(thread_id)
        message = self.world.messages.get(message_id)
        if message["thread_id"] != thread_id:
            raise NotFound("message", message_id)
        return message

    def create_message(self, thread_id: str, *, query: Obj, body: Obj) -> Result:
        _check_fields("message.create", body)
        self.world.threads.get(thread_id)
        return Reply(200, snap(self._new_message(thread_id, body)))

    def list_messages(self, thread_id: str, *, query: Obj, body: Obj) -> Result:
        self.world.threads.get(thread_id)
        match: Obj = {"thread_id": thread_id}
        if query.get("run_id"):
            match["run_id"] = query["run_id"]
        return Reply(200, snap(page(self.world.messages.where(**match), query)))

    def get_message(self, thread_id: str, message_id: str, *, query: Obj, body: Obj) -> Result:
        return Reply(200, snap(self._message(thread_id, message_id)))

    def update_message(self, thread_id: str, message_id: str, *, query: Obj, body: Obj) -> Result:
        _check_fields("message.update", body)
        message = self._message(thread_id, message_id)
        if body.get("metadata") is not None:
            message["metadata"] = body["metadata"]
        return Reply(200, snap(message))

    def delete_message(self, thread_id: str, message_id: str, *, query: Obj, body: Obj) -> Result:
        self._message(thread_id, message_id)
        self.world.messages.delete(message_id)
        return Reply(200, {"id": message_id, "object": "thread.message.deleted", "deleted": True})

    # -- runs ---------------------------------------------------------------------------------
    def _script(self, run: Obj, assistant: Obj) -> Script:
        name = (run.get("metadata") or {}).get("script") or (assistant.get("metadata") or {}).get("script")
        name = name or "text"
        found = self.scripts.get(name, BUILTIN_SCRIPTS.get(name))
        if found is None:
            raise BadRequest(f"Unknown fake API script {name!r}.", "metadata")
        return as_script(found)

    def _new_run(self, thread_id: str, body: Obj) -> Tuple[Obj, LiveRun]:
        assistant_id = body.get("assistant_id")
        if not assistant_id:
            raise BadRequest("Missing required parameter: 'assistant_id'.", "assistant_id")
        assistant = self.world.assistants.get(assistant_id)
        for other in self.world.runs.where(thread_id=thread_id):
            if other["status"] not in TERMINAL:
                raise BadRequest(f"Thread {thread_id} already has an active run {other['id']}.")
        for message in body.get("additional_messages") or []:
            self._new_message(thread_id, message)
        now = self.world.clock.now()
        instructions = body.get("instructions")
        if instructions is None:
            instructions = assistant.get("instructions") or ""
        if body.get("additional_instructions"):
            instructions = f"{instructions}{body['additional_instructions']}"
        run = {
            "id": new_id("run"),
            "object": "thread.run",
            "created_at": now,
            "assistant_id": assistant_id,
            "thread_id": thread_id,
            "status": "queued",
            "started_at": None,
            "expires_at": now + EXPIRES_AFTER_S,
            "cancelled_at": None,
            "failed_at": None,
            "completed_at": None,
            "required_action": None,
            "last_error": None,
            "model": body.get("model") or assistant["model"],
            "instructions": instructions,
            "tools": body["tools"] if body.get("tools") is not None else assistant["tools"],
            "metadata": body.get("metadata") or {},
            "temperature": _number(body, "temperature", 1.0),
            "top_p": _number(body, "top_p", 1.0),
            "max_completion_tokens": body.get("max_completion_tokens"),
            "max_prompt_tokens": body.get("max_prompt_tokens"),
            "truncation_strategy": body.get("truncation_strategy") or {"type": "auto", "last_messages": None},
            "incomplete_details": None,
            "usage": None,
            "response_format": body.get("response_format") or assistant.get("response_format") or "auto",
            "tool_choice": body.get("tool_choice") or "auto",
            "parallel_tool_calls": bool(body.get("parallel_tool_calls", True)),
        }
        live = LiveRun(self.world, run, self._script(run, assistant), self.report_usage())
        self.world.runs.add(run)
        self.live[run["id"]] = live
        return run, live

    def _stream(self, first: List[Event], live: LiveRun) -> Iterator[Event]:
        """Events of a run until it stops; each transition is taken under the lock, then sent."""
        yield from first
        while True:
            with self.world.lock:
                batch = live.advance()
                stop = live.stopped() or not batch
            yield from batch
            if stop:
                return

    def _started(self, run: Obj, live: LiveRun, body: Obj, first: List[Event]) -> Result:
        if body.get("stream"):
            first = [*first, ("thread.run.created", snap(run)), ("thread.run.queued", snap(run))]
            return StreamReply(self._stream(first, live))
        return Reply(200, snap(run))

    def create_run(self, thread_id: str, *, query: Obj, body: Obj) -> Result:
        _check_fields("run.create", body)
        self.world.threads.get(thread_id)
        run, live = self._new_run(thread_id, body)
        return self._started(run, live, body, [])

    def create_thread_and_run(self, *, query: Obj, body: Obj) -> Result:
        _check_fields("thread.run", body)
        if not body.get("assistant_id"):
            raise BadRequest("Missing required parameter: 'assistant_id'.", "assistant_id")
        self.world.assistants.get(body["assistant_id"])
        thread = self._new_thread(body.get("thread") or {})
        run, live = self._new_run(thread["id"], body)
        return self._started(run, live, body, [("thread.created", snap(thread))])

    def _run(self, thread_id: str, run_id: str) -> Obj:
        self.world.threads.get(thread_id)
        run = self.world.runs.get(run_id)
        if run["thread_id"] != thread_id:
            raise NotFound("run", run_id)
        return run

    def list_runs(self, thread_id: str, *, query: Obj, body: Obj) -> Result:
        self.world.threads.get(thread_id)
        return Reply(200, snap(page(self.world.runs.where(thread_id=thread_id), query)))

    def get_run(self, thread_id: str, run_id: str, *, query: Obj, body: Obj) -> Result:
        run = self._run(thread_id, run_id)
        self.live[run_id].advance()
        return Reply(200, snap(run))

    def update_run(self, thread_id: str, run_id: str, *, query: Obj, body: Obj) -> Result:
        _check_fields("run.update", body)
        run = self._run(thread_id, run_id)
        if body.get("metadata") is not None:
            run["metadata"] = body["metadata"]
        return Reply(200, snap(run))

    def cancel_run(self, thread_id: str, run_id: str, *, query: Obj, body: Obj) -> Result:
        run = self._run(thread_id, run_id)
        if run["status"] not in ("queued", "in_progress", "requires_action"):
            raise BadRequest(f"Cannot cancel run with status '{run['status']}'.")
        run["status"] = "cancelling"
        return Reply(200, snap(run))

    def submit_tool_outputs(self, thread_id: str, run_id: str, *, query: Obj, body: Obj) -> Result:
        _check_fields("run.submit", body)
        run = self._run(thread_id, run_id)
        if run["status"] != "requires_action":
            raise BadRequest(f'Runs in status "{run["status"]}" do not accept tool outputs.')
        outputs = {o.get("tool_call_id"): str(o.get("output", "")) for o in body.get("tool_outputs") or []}
        wanted = [c["id"] for c in run["required_action"]["submit_tool_outputs"]["tool_calls"]]
        if sorted(outputs) != sorted(wanted):
            message = f"Expected tool outputs for call_ids {wanted}, got {sorted(outputs)}."
            raise BadRequest(message, "tool_outputs")
        live = self.live[run_id]
        first = live.submit(outputs)
        if body.get("stream"):
            return StreamReply(self._stream(first, live))
        return Reply(200, snap(run))

    def _steps(self, thread_id: str, run_id: str) -> List[Obj]:
        self._run(thread_id, run_id)
        return self.world.steps.where(run_id=run_id)

    def list_steps(self, thread_id: str, run_id: str, *, query: Obj, body: Obj) -> Result:
        return Reply(200, snap(page(self._steps(thread_id, run_id), query)))

    def get_step(self, thread_id: str, run_id: str, step_id: str, *, query: Obj, body: Obj) -> Result:
        for step in self._steps(thread_id, run_id):
            if step["id"] == step_id:
                return Reply(200, snap(step))
        raise NotFound("run step", step_id)
