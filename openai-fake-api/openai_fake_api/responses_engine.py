"""Plays one response's script as the real API does: the ``Response`` object and its event log.

Every event a response causes is kept in ``LiveResponse.events`` with its ``sequence_number`` (its
index), so a stream can be resumed ``starting_after`` any event. A stream drives the response to its
end; a background response not being streamed moves on as it is polled (``poll``): ``queued`` ->
``in_progress`` -> terminal, one stage per poll, each stage waiting ``queued_s`` / ``work_s`` on the
fake clock when the script says so. All methods are called with the world lock held.
"""

from __future__ import annotations

import base64
import contextlib
from typing import Any, Callable, Dict, Iterator, List, Optional

from .engine import Event, chunks, snap
from .responses_scripts import (
    CodeCall,
    ComputerCall,
    Fail,
    FileSearchCall,
    FunctionCall,
    ImageGen,
    Incomplete,
    Item,
    McpApproval,
    McpCall,
    McpListTools,
    Reasoning,
    ResponseScript,
    ShellCall,
    Text,
    UnknownItem,
    Usage,
    WebSearch,
)
from .state import Obj, new_id

TERMINAL = frozenset({"completed", "failed", "cancelled", "incomplete"})
TINY_PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n fake image").decode()


def words(text: str) -> int:
    return len(text.split())


def text_of(value: Any) -> str:
    """All the text inside request input or instructions, for the derived usage."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return " ".join(text_of(v) for v in value)
    if isinstance(value, dict):
        return " ".join(text_of(v) for k, v in value.items() if k in ("content", "text", "output", "arguments"))
    return ""


class LiveResponse:
    """One response being played. ``container`` gives the container of a code or shell call (and
    marks it used); ``write_file(container_id, path)`` stores a file a code call wrote; ``ended`` is
    told when the response reaches its terminal status (not on cancel)."""

    def __init__(
        self,
        response: Obj,
        script: ResponseScript,
        report_usage: bool,
        include: List[str],
        container: Callable[[], str],
        write_file: Callable[[str, str], None],
        now: Callable[[], int],
        input_text: str,
        ended: Callable[[Obj], None],
    ) -> None:
        self.response = response
        self.script = script
        self.report_usage = report_usage if script.report_usage is None else script.report_usage
        self.include = include
        self._container = container
        self._write_file = write_file
        self._now = now
        self._input_text = input_text
        self._ended = ended
        self.events: List[Event] = []
        self.started_at: Optional[int] = None
        self._output_tokens = 0
        self._gen: Iterator[None] = self._play()
        self.step()  # response.created (and response.queued)

    # -- driving -------------------------------------------------------------------------------
    @property
    def status(self) -> str:
        return str(self.response["status"])

    @property
    def done(self) -> bool:
        return self.status in TERMINAL

    def step(self) -> None:
        """Play the next stage of the script (a few events)."""
        if self.done:
            return
        with contextlib.suppress(StopIteration):
            next(self._gen)

    def finish(self) -> None:
        while not self.done:
            self.step()

    def poll(self) -> None:
        """A read of a background response: move at most one stage, as the clock allows."""
        if self.done:
            return
        now = self._now()
        if self.status == "queued" and now - self.response["created_at"] >= self.script.queued_s:
            self.step()
        elif self.status == "in_progress" and now - (self.started_at or now) >= self.script.work_s:
            self.finish()

    def cancel(self) -> None:
        close = getattr(self._gen, "close", None)
        if close is not None:
            close()
        self.response.update(status="cancelled", usage=None, tool_usage=None)

    # -- events -------------------------------------------------------------------------------
    def _emit(self, kind: str, **data: Any) -> None:
        self.events.append((kind, {"type": kind, "sequence_number": len(self.events), **data}))

    def _emit_response(self, kind: str) -> None:
        self._emit(kind, response=snap(self.response))

    def _item_event(self, kind: str, index: int, item: Obj, **data: Any) -> None:
        self._emit(kind, item_id=item["id"], output_index=index, **data)

    # -- the script ---------------------------------------------------------------------------
    def _play(self) -> Iterator[None]:
        background = bool(self.response.get("background"))
        self._emit_response("response.created")
        if background:
            self._emit_response("response.queued")
        yield
        self.response["status"] = "in_progress"
        self.started_at = self._now()
        self._emit_response("response.in_progress")
        yield
        for planned in self.script.items:
            if isinstance(planned, Fail):
                error = {"code": planned.code, "message": planned.message}
                self._end("failed", "response.failed", error=error)
                return
            if isinstance(planned, Incomplete):
                self._end("incomplete", "response.incomplete", incomplete_details={"reason": planned.reason})
                return
            self._item(planned)
            yield
        self._end("completed", "response.completed", completed_at=self._now())

    def _end(self, status: str, event: str, **fields: Any) -> None:
        self.response.update(status=status, **fields)
        if self.report_usage:
            self.response["usage"] = self._usage()
            self.response["tool_usage"] = self._tool_usage()
        self._ended(self.response)
        self._emit_response(event)

    def _usage(self) -> Obj:
        usage = self.script.usage or Usage(words(self._input_text) + 20, self._output_tokens)
        return {
            "input_tokens": usage.input,
            "input_tokens_details": {
                "cached_tokens": usage.cached,
                "cache_write_tokens": usage.cache_write,
                "cache_write_tokens_details": {
                    "ttl_30m_tokens": usage.cache_write - usage.cache_write_12h,
                    "ttl_12h_tokens": usage.cache_write_12h,
                },
            },
            "output_tokens": usage.output,
            "output_tokens_details": {"reasoning_tokens": usage.reasoning},
            "total_tokens": usage.input + usage.output,
        }

    def _tool_usage(self) -> Obj:
        searches = self.script.web_searches
        if searches is None:
            searches = sum(1 for i in self.script.items if isinstance(i, WebSearch) and i.action == "search")
        image = self.script.image_gen
        image_in, image_out, image_img = (
            (image.input_tokens, image.output_tokens, image.input_image_tokens) if image else (0, 0, 0)
        )
        return {
            "web_search": {"num_requests": searches},
            "image_gen": {
                "input_tokens": image_in,
                "input_tokens_details": {"image_tokens": image_img, "text_tokens": image_in - image_img},
                "output_tokens": image_out,
                "total_tokens": image_in + image_out,
            },
        }

    # -- items --------------------------------------------------------------------------------
    def _item(self, planned: Item) -> None:
        builder = _BUILDERS[type(planned)]
        index = len(self.response["output"])
        item, final = builder(self, planned)
        self.response["output"].append(item)
        self._emit("response.output_item.added", output_index=index, item=snap(item))
        self._between(planned, index, final)
        self.response["output"][index] = final
        self._emit("response.output_item.done", output_index=index, item=snap(final))

    def _between(self, planned: Item, index: int, final: Obj) -> None:
        """The per-type events between ``output_item.added`` and ``output_item.done``."""
        if isinstance(planned, Text):
            self._text_events(planned, index, final)
        elif isinstance(planned, FunctionCall):
            for piece in chunks(planned.arguments, 8):
                self._item_event("response.function_call_arguments.delta", index, final, delta=piece)
            self._item_event("response.function_call_arguments.done", index, final, arguments=planned.arguments)
        elif isinstance(planned, CodeCall):
            self._item_event("response.code_interpreter_call.in_progress", index, final)
            for piece in chunks(planned.code, 10):
                self._item_event("response.code_interpreter_call_code.delta", index, final, delta=piece)
            self._item_event("response.code_interpreter_call_code.done", index, final, code=planned.code)
            self._item_event("response.code_interpreter_call.interpreting", index, final)
            self._item_event("response.code_interpreter_call.completed", index, final)
        elif isinstance(planned, (WebSearch, FileSearchCall)):
            family = "web_search_call" if isinstance(planned, WebSearch) else "file_search_call"
            for stage in ("in_progress", "searching", "completed"):
                self._item_event(f"response.{family}.{stage}", index, final)
        elif isinstance(planned, ImageGen):
            for stage in ("in_progress", "generating", "completed"):
                self._item_event(f"response.image_generation_call.{stage}", index, final)
        elif isinstance(planned, McpListTools):
            for stage in ("in_progress", "completed"):
                self._item_event(f"response.mcp_list_tools.{stage}", index, final)
        elif isinstance(planned, McpCall):
            self._item_event("response.mcp_call.in_progress", index, final)
            self._item_event("response.mcp_call_arguments.delta", index, final, delta=planned.arguments)
            self._item_event("response.mcp_call_arguments.done", index, final, arguments=planned.arguments)
            end = "failed" if planned.failed else "completed"
            self._item_event(f"response.mcp_call.{end}", index, final)

    def _text_events(self, planned: Text, index: int, final: Obj) -> None:
        empty = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
        at = {"content_index": 0}
        self._item_event("response.content_part.added", index, final, part=empty, **at)
        for piece in chunks(planned.text, planned.chunk):
            self._item_event("response.output_text.delta", index, final, delta=piece, logprobs=[], **at)
        self._item_event("response.output_text.done", index, final, text=planned.text, logprobs=[], **at)
        part = {**empty, "text": planned.text}
        self._item_event("response.content_part.done", index, final, part=part, **at)

    # Each builder returns (the item as added, the item as done) and counts its output tokens.
    def _message(self, planned: Text) -> tuple[Obj, Obj]:
        self._output_tokens += words(planned.text) + 2
        item = {"id": new_id("msg"), "type": "message", "role": "assistant", "status": "in_progress", "content": []}
        part = {"type": "output_text", "text": planned.text, "annotations": [], "logprobs": []}
        return item, {**item, "status": "completed", "content": [part]}

    def _reasoning(self, planned: Reasoning) -> tuple[Obj, Obj]:
        self._output_tokens += words(planned.summary)
        item = {"id": new_id("rs"), "type": "reasoning", "summary": []}
        return item, {**item, "summary": [{"type": "summary_text", "text": planned.summary}]}

    def _function(self, planned: FunctionCall) -> tuple[Obj, Obj]:
        self._output_tokens += len(planned.arguments) // 4 + 6
        item = {
            "id": new_id("fc"),
            "type": "function_call",
            "call_id": new_id("call"),
            "name": planned.name,
            "arguments": "",
            "status": "in_progress",
        }
        return item, {**item, "arguments": planned.arguments, "status": "completed"}

    def _code(self, planned: CodeCall) -> tuple[Obj, Obj]:
        self._output_tokens += words(planned.code) + 6
        container_id = self._container()
        for name in planned.files:
            self._write_file(container_id, f"/mnt/data/{name}")
        item = {
            "id": new_id("ci"),
            "type": "code_interpreter_call",
            "code": "",
            "container_id": container_id,
            "outputs": None,
            "status": "in_progress",
        }
        outputs: Optional[List[Obj]] = None
        if "code_interpreter_call.outputs" in self.include:
            outputs = [{"type": "logs", "logs": log} for log in planned.logs]
            outputs += [{"type": "image", "url": f"https://files.example/{new_id('img')}.png"}] * planned.images
        return item, {**item, "code": planned.code, "outputs": outputs, "status": "completed"}

    def _web_search(self, planned: WebSearch) -> tuple[Obj, Obj]:
        action: Obj
        if planned.action == "search":
            action = {"type": "search", "query": planned.query, "queries": [planned.query]}
        elif planned.action == "open_page":
            action = {"type": "open_page", "url": planned.url}
        else:
            action = {"type": "find_in_page", "url": planned.url, "pattern": planned.query}
        item = {"id": new_id("ws"), "type": "web_search_call", "status": "in_progress", "action": action}
        return item, {**item, "status": "completed"}

    def _file_search(self, planned: FileSearchCall) -> tuple[Obj, Obj]:
        item = {
            "id": new_id("fs"),
            "type": "file_search_call",
            "queries": list(planned.queries),
            "status": "in_progress",
            "results": None,
        }
        results = None
        if "file_search_call.results" in self.include:
            results = [
                {
                    "file_id": new_id("file"),
                    "filename": f"doc{i + 1}.pdf",
                    "score": round(0.9 - i * 0.1, 2),
                    "text": "The launch is in May.",
                    "attributes": {},
                }
                for i in range(planned.results)
            ]
        return item, {**item, "status": "completed", "results": results}

    def _image(self, planned: ImageGen) -> tuple[Obj, Obj]:
        item = {"id": new_id("ig"), "type": "image_generation_call", "status": "in_progress", "result": None}
        return item, {**item, "status": "completed", "result": TINY_PNG, "revised_prompt": planned.prompt}

    def _mcp_list(self, planned: McpListTools) -> tuple[Obj, Obj]:
        tools = [{"name": name, "input_schema": {"type": "object"}} for name in planned.tools]
        item = {"id": new_id("mcpl"), "type": "mcp_list_tools", "server_label": planned.server_label, "tools": []}
        return item, {**item, "tools": tools}

    def _mcp_call(self, planned: McpCall) -> tuple[Obj, Obj]:
        self._output_tokens += len(planned.arguments) // 4 + 6
        item = {
            "id": new_id("mcp"),
            "type": "mcp_call",
            "name": planned.name,
            "arguments": planned.arguments,
            "server_label": planned.server_label,
            "status": "in_progress",
        }
        if planned.failed:
            return item, {**item, "status": "failed", "output": None}
        return item, {**item, "status": "completed", "output": planned.output}

    def _mcp_approval(self, planned: McpApproval) -> tuple[Obj, Obj]:
        item = {
            "id": new_id("mcpr"),
            "type": "mcp_approval_request",
            "name": planned.name,
            "arguments": planned.arguments,
            "server_label": planned.server_label,
        }
        return item, dict(item)

    def _shell(self, planned: ShellCall) -> tuple[Obj, Obj]:
        environment = {"type": "container_reference", "container_id": self._container()}
        item = {
            "id": new_id("sh"),
            "type": "shell_call",
            "call_id": new_id("call"),
            "action": {"commands": list(planned.commands)},
            "environment": environment,
            "status": "in_progress",
        }
        return item, {**item, "status": "completed"}

    def _computer(self, planned: ComputerCall) -> tuple[Obj, Obj]:
        item = {
            "id": new_id("cu"),
            "type": "computer_call",
            "call_id": new_id("call"),
            "action": {"type": "screenshot"},
            "pending_safety_checks": [],
            "status": "in_progress",
        }
        return item, {**item, "status": "completed"}

    def _unknown(self, planned: UnknownItem) -> tuple[Obj, Obj]:
        item = {"id": new_id("xx"), "type": planned.type, "status": "in_progress"}
        return item, {**item, "status": "completed"}


_BUILDERS: Dict[type, Callable[[LiveResponse, Any], tuple[Obj, Obj]]] = {
    Text: LiveResponse._message,
    Reasoning: LiveResponse._reasoning,
    FunctionCall: LiveResponse._function,
    CodeCall: LiveResponse._code,
    WebSearch: LiveResponse._web_search,
    FileSearchCall: LiveResponse._file_search,
    ImageGen: LiveResponse._image,
    McpListTools: LiveResponse._mcp_list,
    McpCall: LiveResponse._mcp_call,
    McpApproval: LiveResponse._mcp_approval,
    ShellCall: LiveResponse._shell,
    ComputerCall: LiveResponse._computer,
    UnknownItem: LiveResponse._unknown,
}
