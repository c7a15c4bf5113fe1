"""A local HTTP server speaking the Assistants v2 API, for the real openai SDK to talk to in tests."""

from __future__ import annotations

import json
import re
import secrets
import socket
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, List, NamedTuple, Optional, Union
from urllib.parse import parse_qs, urlsplit

from .api import Api, Reply, StreamReply
from .billing import FakeBilling
from .chat_api import ChatApi
from .clock import FakeClock
from .engine import Event
from .faults import ERROR_BODIES, ERROR_KINDS, WEIRD_KINDS, Fault, Faults, weird
from .media_api import MediaApi
from .responses_api import RawReply, ResponsesApi, parse_body
from .scripts import PlannedStep, Script
from .state import BadRequest, NotFound, World
from .validate import PayloadError, check_event, check_object

POLL_AFTER_MS = "5"
API_PREFIX = "/v1"


class RecordedRequest(NamedTuple):
    """One request the server received."""

    method: str
    path: str
    query: Dict[str, Any]
    body: Any


def _error(
    message: str, kind: str, param: Optional[str] = None, code: Optional[str] = None
) -> Dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


class _Server(ThreadingHTTPServer):
    """Quiet about clients that drop their connection (timeouts and resets are part of the tests)."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


class FakeAssistantsAPI:
    """The fake API: start it, point ``OpenAI(base_url=api.base_url)`` at it, stop it.

    ``scripts`` maps names to ``Script`` (or lists of steps) chosen by the assistant's or run's
    metadata key ``"script"``; ``faults`` plans failures; ``clock`` gives every timestamp.
    It speaks the Responses, Conversations and Containers APIs too (``responses_api.py``), playing
    ``response_scripts`` (``ResponseScript`` by name, chosen by the request's ``metadata["script"]``).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        clock: Optional[FakeClock] = None,
        report_usage: bool = True,
        event_delay_s: float = 0.0,
    ) -> None:
        self.host = host
        self.port = port
        self.clock = clock or FakeClock()
        self.report_usage = report_usage
        self.event_delay_s = event_delay_s
        self.scripts: Dict[str, Union[Script, List[PlannedStep]]] = {}
        self.response_scripts: Dict[str, Any] = {}
        self.chat_scripts: Dict[str, Any] = {}  # ChatScript by name (chat_scripts.py)
        self.faults = Faults()
        self.validation_errors: List[str] = []
        self._log_lock = threading.Lock()
        self._requests: List[RecordedRequest] = []
        self._httpd: Optional[ThreadingHTTPServer] = None
        self._thread: Optional[threading.Thread] = None
        self._new_world()

    def _new_world(self) -> None:
        self.world = World(self.clock)
        self.api = Api(self.world, self.scripts, lambda: self.report_usage)
        self.responses = ResponsesApi(self.world, self.response_scripts, lambda: self.report_usage)
        self.api.routes.extend(self.responses.routes)
        self.chat = ChatApi(self.world, self.chat_scripts, lambda: self.report_usage)
        self.api.routes.extend(self.chat.routes)
        self.media = MediaApi(self.world, lambda: self.report_usage)
        self.api.routes.extend(self.media.routes)
        self.billing = FakeBilling(self.world)
        self.media.bill = self.billing.charge

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self) -> FakeAssistantsAPI:
        if self._httpd is not None:
            return self
        httpd = _Server((self.host, self.port), _Handler)
        httpd.daemon_threads = True
        httpd.fake = self  # type: ignore[attr-defined]
        self._httpd = httpd
        self.port = httpd.server_address[1]
        self._thread = threading.Thread(target=httpd.serve_forever, args=(0.01,), name="fakeapi", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeAssistantsAPI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def reset(self) -> None:
        """Forget every object, request, fault, custom script and validation error (the clock stays)."""
        self.scripts.clear()
        self.response_scripts.clear()
        self.chat_scripts.clear()
        self.faults.clear()
        self.validation_errors.clear()
        with self._log_lock:
            self._requests.clear()
        self._new_world()

    # -- inspection ---------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}{API_PREFIX}"

    @property
    def requests(self) -> List[RecordedRequest]:
        """A copy of the request log, oldest first."""
        with self._log_lock:
            return list(self._requests)

    def count(self, method: str, path_regex: str) -> int:
        """How many requests matched ``method`` and ``path_regex`` (``re.search`` on ``/v1/...``)."""
        pattern = re.compile(path_regex)
        return sum(1 for r in self.requests if r.method == method and pattern.search(r.path))

    def _record(self, request: RecordedRequest) -> None:
        with self._log_lock:
            self._requests.append(request)

    def _invalid(self, problem: str) -> None:
        with self._log_lock:
            self.validation_errors.append(problem)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 60

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes: without this, Nagle's algorithm and delayed
        # ACKs add ~40 ms to every response.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    @property
    def fake(self) -> FakeAssistantsAPI:
        return self.server.fake  # type: ignore[attr-defined, no-any-return]

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read ``FakeAssistantsAPI.requests`` instead."""

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    # -- request ------------------------------------------------------------------------------
    def _dispatch(self) -> None:
        url = urlsplit(self.path)
        query = {k: v[0] if len(v) == 1 else v for k, v in parse_qs(url.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = parse_body(raw, self.headers.get("Content-Type"))
        except ValueError:
            body = None
        fake = self.fake
        fake._record(RecordedRequest(self.command, url.path, query, body))
        fault = fake.faults.take(self.command, url.path)
        if fault is not None and fault.kind == "delay":
            time.sleep(fault.seconds)
        streaming = (isinstance(body, dict) and bool(body.get("stream"))) or query.get("stream") == "true"
        if fault is not None and fault.kind == "reset" and not streaming:
            self._reset()
            return
        if fault is not None and fault.kind in ERROR_KINDS:
            self._send_json(ERROR_KINDS[fault.kind], {"error": dict(ERROR_BODIES[fault.kind])}, None)
            return
        if not isinstance(body, dict):
            problem = "We could not parse the JSON body of your request."
            self._send_json(400, _error(problem, "invalid_request_error"))
            return
        if not url.path.startswith(API_PREFIX + "/"):
            self._send_json(404, _error(f"Invalid URL ({self.command} {url.path})", "invalid_request_error"))
            return
        if url.path.startswith(API_PREFIX + "/organization/"):
            self._billing(url.path[len(API_PREFIX) :], query, fault)
            return
        try:
            reply = fake.api.handle(self.command, url.path[len(API_PREFIX) :], query, body)
        except NotFound as exc:
            self._send_json(404, _error(str(exc), "invalid_request_error"), fault)
            return
        except BadRequest as exc:
            self._send_json(400, _error(str(exc), "invalid_request_error", exc.param), fault)
            return
        except Exception as exc:  # a bug in the fake: make the test fail loudly
            fake._invalid(f"{self.command} {url.path}: {type(exc).__name__}: {exc}")
            self._send_json(500, _error(f"fake API crashed: {exc}", "server_error"))
            return
        if isinstance(reply, StreamReply):
            self._send_stream(reply, fault)
        elif isinstance(reply, RawReply):
            self._send_raw(reply)
        else:
            assert isinstance(reply, Reply)
            self._send_json(reply.status, reply.body, fault)

    def _billing(self, path: str, query: Dict[str, Any], fault: Optional[Fault]) -> None:
        """The organization Costs and Usage endpoints: admin key first, as the real API checks it."""
        billing = self.fake.billing
        if not billing.authorized(self.headers.get("Authorization")):
            problem = "Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys."
            self._send_json(401, _error(problem, "invalid_request_error", code="invalid_api_key"))
            return
        try:
            page = billing.handle(path, query)
        except BadRequest as exc:
            self._send_json(400, _error(str(exc), "invalid_request_error", exc.param), fault)
            return
        if page is None:
            self._send_json(404, _error(f"Invalid URL ({self.command} /v1{path})", "invalid_request_error"))
            return
        self._send_json(200, page, fault)

    # -- response -----------------------------------------------------------------------------
    def _headers(self, status: int, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("openai-poll-after-ms", POLL_AFTER_MS)
        self.send_header("retry-after-ms", POLL_AFTER_MS)
        self.send_header("x-request-id", f"req_{secrets.token_hex(16)}")
        self.send_header("openai-version", "2020-10-01")
        self.send_header("openai-processing-ms", "1")

    def _send_json(self, status: int, body: Dict[str, Any], fault: Optional[Fault] = None) -> None:
        if fault is not None and fault.kind in WEIRD_KINDS:
            body = weird(fault.kind, body)
        else:
            try:
                check_object(body)
            except PayloadError as exc:
                self.fake._invalid(f"{self.command} {self.path}: {exc}")
                status, body = 500, _error(f"fake API produced an invalid payload: {exc}", "server_error")
        data = json.dumps(body).encode()
        self._headers(status, "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _send_raw(self, reply: RawReply) -> None:
        self._headers(reply.status, reply.content_type)
        self.send_header("Content-Length", str(len(reply.data)))
        self.end_headers()
        self.wfile.write(reply.data)

    def _send_stream(self, reply: StreamReply, fault: Optional[Fault]) -> None:
        self._headers(200, "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        delay = self.fake.event_delay_s
        try:
            for sent, (name, data) in enumerate(reply.events):
                if fault is not None and fault.kind == "reset" and sent >= fault.after_events:
                    self._reset()
                    return
                if not self._send_event(name, data, fault):
                    break
                if delay:
                    time.sleep(delay)
            self._chunk(b"event: done\ndata: [DONE]\n\n")
            self._chunk(b"")
        except OSError:  # the client went away
            self.close_connection = True

    def _send_event(self, name: str, data: Dict[str, Any], fault: Optional[Fault]) -> bool:
        if fault is not None and fault.kind in WEIRD_KINDS:
            data = weird(fault.kind, data)
        else:
            try:
                check_event(name, data)
            except PayloadError as exc:
                self.fake._invalid(f"{self.command} {self.path}: {exc}")
                error = {"message": f"fake API produced an invalid event: {exc}", "type": "server_error"}
                self._chunk(f"event: error\ndata: {json.dumps(error)}\n\n".encode())
                return False
        head = f"event: {name}\n" if name else ""  # chat and completion chunks come as bare data lines
        self._chunk(f"{head}data: {json.dumps(data)}\n\n".encode())
        return True

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def _reset(self) -> None:
        """Drop the connection with a TCP reset."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass


__all__ = ["Event", "FakeAssistantsAPI", "RecordedRequest"]
