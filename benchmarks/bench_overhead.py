"""Overhead of the instrumentation on the app's calls, against the uninstrumented SDK and against peers.

The real ``openai`` SDK talks to an in-process ``httpx2`` transport (no sockets) that replays Assistants
and Responses JSON and SSE recorded from the fake API's own logic (``openai_fake_api.api``,
``openai_fake_api.responses_api``), so the numbers are the cost of the
SDK plus the instrumentation, not of a server. Instrumented and uninstrumented blocks alternate
(ABBA...), toggled with ``instrument()``/``uninstrument()``, and each pair of adjacent blocks gives one
ratio; the table shows the median and the 10th-90th percentiles of those ratios.

Run: ``python benchmarks/bench_overhead.py [--quick] [--peers]`` (prints a markdown report; not a test).
``--peers`` builds one virtualenv per peer instrumentation under ``benchmarks/.venvs/`` and re-runs this
script there with ``--peer NAME``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import gc
import json
import os
import platform
import pstats
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
import warnings
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "openai-fake-api")]  # the fake API, in the peers' virtualenvs too
_CACHE = next((d / "shared" / "tiktoken-cache" for d in REPO.parents if (d / "shared" / "tiktoken-cache").is_dir()),
              None)  # beside the checkout, or a level up from a worktree
if "TIKTOKEN_CACHE_DIR" not in os.environ and _CACHE is not None:
    os.environ["TIKTOKEN_CACHE_DIR"] = str(_CACHE)

import httpx2  # noqa: E402
import openai  # noqa: E402
import otel_floor  # noqa: E402
from opentelemetry.sdk.metrics import MeterProvider  # noqa: E402
from opentelemetry.sdk.metrics.export import InMemoryMetricReader  # noqa: E402
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult  # noqa: E402

from openai_fake_api.api import Api, Reply, StreamReply  # noqa: E402
from openai_fake_api.chat_api import ChatApi  # noqa: E402
from openai_fake_api.chat_scripts import ChatScript, ChatUsage  # noqa: E402
from openai_fake_api.clock import FakeClock  # noqa: E402
from openai_fake_api.responses_api import ResponsesApi  # noqa: E402
from openai_fake_api.responses_scripts import CodeCall, FunctionCall, ResponseScript, Text, Usage  # noqa: E402
from openai_fake_api.scripts import Code, Say, Script  # noqa: E402
from openai_fake_api.state import World  # noqa: E402
from openai_fake_api.validate import check_event, check_object  # noqa: E402

warnings.filterwarnings("ignore", category=DeprecationWarning)  # the Assistants API is deprecated

VENVS = Path(__file__).resolve().parent / ".venvs"
PEERS = {
    "openai-v2": "opentelemetry-instrumentation-openai-v2",  # the official contrib instrumentation
    "openllmetry": "opentelemetry-instrumentation-openai",
    "openinference": "openinference-instrumentation-openai",
}
# openai-v2 2.4b0 imports httpx, which openai 3.x (httpx2) no longer brings, and a module that
# opentelemetry-util-genai dropped in 1.2b0
PEER_NEEDS = {"openai-v2": ["httpx", "opentelemetry-util-genai==1.1b0"]}
MODEL = "gpt-4o"
BASE_URL = "http://assistants.bench/v1"

# --- payloads recorded from the fake API's logic ------------------------------------------------------

# A run id is ``run_`` + a scenario letter + 23 hex digits, as long as the recorded ids, so one byte
# replacement turns a recorded body into the body of another run. The letter tells the transport what
# the run does, so the transport keeps no per-run state (which would show up in the memory numbers).
HOLD, QUICK, MULTI, STREAM = "h", "q", "m", "s"
_PLACEHOLDER = "run_" + "@" * 24
_RESP_PLACEHOLDER = "resp_" + "@" * 24  # the same trick for response ids: ``resp_`` + letter + 23 hex
BACKGROUND = "b"


def _run_id(kind: str, n: int) -> str:
    return f"run_{kind}{n:023x}"


@dataclass
class Payloads:
    thread_id: str
    assistant_id: str
    assistant: bytes
    created: bytes  # queued
    polls: list[bytes]  # what successive reads of a multi-step run return, the last one completed
    steps: bytes
    messages: bytes
    sse: bytes
    sse_cuts: list[int]  # where to cut the SSE body into the chunks a server would send
    stream_events: int
    responses: ResponsePayloads


@dataclass
class ResponsePayloads:
    """What the Responses API answered: a finished response, a background one and its polls, a stream."""

    completed: bytes
    queued: bytes
    polls: list[bytes]  # successive reads of a background response, the last one completed
    sse: bytes
    sse_cuts: list[int]
    stream_events: int


def _encode(body: Any, run_id: str) -> bytes:
    return json.dumps(body).replace(run_id, _PLACEHOLDER).encode()


def _sse(events: list[tuple[str, Any]], object_id: str, placeholder: str) -> tuple[bytes, list[int]]:
    chunks = [f"event: {name}\ndata: {json.dumps(data)}\n\n".replace(object_id, placeholder).encode()
              for name, data in events]
    chunks.append(b"event: done\ndata: [DONE]\n\n")
    cuts, at = [], 0
    for chunk in chunks:
        at += len(chunk)
        cuts.append(at)
    return b"".join(chunks), cuts


def record_responses(api: Api, call: Callable[..., Any]) -> ResponsePayloads:
    """Play three responses through the fake Responses API in-process: one answered at once (a function
    call and a message), one in background mode polled to the end, one streamed (~300 events)."""
    tools = [{"type": "function", "name": "get_weather", "parameters": {}, "strict": True},
             {"type": "code_interpreter", "container": {"type": "auto"}}]
    answer = ResponseScript([FunctionCall("get_weather", '{"city": "Paris"}'), Text("Checking the weather.")],
                            usage=Usage(input=320, output=40, cached=128, reasoning=12))
    code = "\n".join(f"row_{i} = [x * {i} for x in range(10)]" for i in range(8))
    long_text = " ".join(f"Point {i} adds one more detail." for i in range(45))
    streamed = ResponseScript([CodeCall(code, logs=["done\n"]), Text(long_text, chunk=5)],
                              usage=Usage(input=900, output=420, cached=512))
    responses = ResponsesApi(api.world, {"answer": answer, "streamed": streamed}, lambda: True)
    api.routes.extend(responses.routes)
    base = {"model": MODEL, "input": "What is the weather in Paris?", "tools": tools}
    done = call("POST", "/responses", {**base, "metadata": {"script": "answer"}})
    queued = call("POST", "/responses", {**base, "background": True, "metadata": {"script": "answer"}})
    polls = []
    while not polls or polls[-1]["status"] not in ("completed", "failed"):
        polls.append(call("GET", f"/responses/{queued['id']}"))
    events = call("POST", "/responses", {**base, "stream": True, "metadata": {"script": "streamed"}})
    sid = events[0][1]["response"]["id"]
    sse, cuts = _sse(events, sid, _RESP_PLACEHOLDER)

    def encode(body: Any, response_id: str) -> bytes:
        return json.dumps(body).replace(response_id, _RESP_PLACEHOLDER).encode()

    return ResponsePayloads(
        completed=encode(done, done["id"]), queued=encode(queued, queued["id"]),
        polls=[encode(p, queued["id"]) for p in polls], sse=sse, sse_cuts=cuts, stream_events=len(events),
    )


def record() -> Payloads:
    """Play two runs through the fake API in-process and keep what it answered, validated by the SDK's models."""
    multi = Script([Code("import math\nprint(math.pi)", logs=["3.14159\n"]),
                    Code("print(sum(range(10)))", logs=["45\n"]),
                    Say("Pi is about 3.14159 and the sum is 45.")])
    long_code = "\n".join(f"values_{i} = [x * {i} for x in range(100)]" for i in range(20))
    long_text = " ".join(f"Sentence {i} of the answer explains one more detail." for i in range(40))
    streamed = Script([Code(long_code, logs=["done\n"]), Say(long_text, chunk=8)])
    api = Api(World(FakeClock()), {"multi": multi, "streamed": streamed}, lambda: True)

    def call(method: str, path: str, body: Optional[dict[str, Any]] = None, **query: Any) -> Any:
        reply = api.handle(method, path, query, body or {})
        if isinstance(reply, Reply):
            check_object(reply.body)
            return reply.body
        assert isinstance(reply, StreamReply)
        events = list(reply.events)
        for name, data in events:
            check_event(name, data)
        return events

    assistant = call("POST", "/assistants", {"model": MODEL, "name": "bench-assistant",
                                             "instructions": "You answer briefly.",
                                             "tools": [{"type": "code_interpreter"}]})
    thread = call("POST", "/threads", {"messages": [{"role": "user", "content": "What is pi?"}]})
    run = call("POST", f"/threads/{thread['id']}/runs", {"assistant_id": assistant["id"],
                                                          "metadata": {"script": "multi"}})
    rid = run["id"]
    polls = []
    while not polls or polls[-1]["status"] not in ("completed", "failed"):
        polls.append(call("GET", f"/threads/{thread['id']}/runs/{rid}"))
    steps = call("GET", f"/threads/{thread['id']}/runs/{rid}/steps", order="asc", limit="100")
    messages = call("GET", f"/threads/{thread['id']}/messages", order="desc", limit="100")
    events = call("POST", f"/threads/{thread['id']}/runs", {"assistant_id": assistant["id"], "stream": True,
                                                             "metadata": {"script": "streamed"}})
    sid = next(data["id"] for name, data in events if name == "thread.run.created")
    sse, cuts = _sse(events, sid, _PLACEHOLDER)
    return Payloads(
        thread_id=thread["id"], assistant_id=assistant["id"], assistant=json.dumps(assistant).encode(),
        created=_encode(run, rid), polls=[_encode(p, rid) for p in polls], steps=_encode(steps, rid),
        messages=_encode(messages, rid), sse=sse, sse_cuts=cuts, stream_events=len(events),
        responses=record_responses(api, call),
    )


# --- the in-process transport ------------------------------------------------------------------------


class _Chunks(httpx2.SyncByteStream):
    def __init__(self, body: bytes, cuts: list[int]) -> None:
        self._body, self._cuts = body, cuts

    def __iter__(self) -> Iterator[bytes]:
        start = 0
        for end in self._cuts:
            yield self._body[start:end]
            start = end


class ReplayTransport(httpx2.BaseTransport):
    """Answers the SDK's requests from ``Payloads``; the run id's letter says what each run does."""

    _JSON = (("content-type", "application/json"), ("openai-poll-after-ms", "0"), ("x-request-id", "req_bench"))
    _SSE = (("content-type", "text/event-stream; charset=utf-8"), ("x-request-id", "req_bench"))

    def __init__(self, payloads: Payloads) -> None:
        self.p = payloads
        self.finishing = False  # held runs read as completed from now on
        self._counter = 0
        self.last_run = ""  # the messages of a thread are those of its last run
        self._polled: dict[str, int] = {}  # multi-step runs in flight -> reads so far
        self._lock = threading.Lock()

    def new_id(self, kind: str) -> str:
        with self._lock:
            self._counter += 1
            self.last_run = _run_id(kind, self._counter)
            return self.last_run

    def _json(self, body: bytes, run_id: str = "", thread_id: str = "") -> httpx2.Response:
        if run_id:
            body = body.replace(_PLACEHOLDER.encode(), run_id.encode())
        if thread_id and thread_id != self.p.thread_id:  # a run on another thread (ids of the same length)
            body = body.replace(self.p.thread_id.encode(), thread_id.encode())
        return httpx2.Response(200, headers=self._JSON, content=body)

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        request.read()
        parts = request.url.path.split("/")[2:]  # after /v1
        post = request.method == "POST"
        if parts[0] == "responses":
            return self._responses(request, parts)
        if parts[0] in ("chat", "embeddings"):
            return chat_reply(request, parts, self._response_id)
        if parts[0] == "assistants":
            return self._json(self.p.assistant)
        thread_id = parts[1]
        if len(parts) == 3 and parts[2] == "messages":
            return self._json(self.p.messages, self.last_run, thread_id)
        if len(parts) == 3 and post:  # threads/{id}/runs
            options = json.loads(request.content or b"{}")
            kind = (options.get("metadata") or {}).get("kind", HOLD)
            if options.get("stream"):
                body = self.p.sse.replace(_PLACEHOLDER.encode(), self.new_id(STREAM).encode())
                return httpx2.Response(200, headers=self._SSE, stream=_Chunks(body, self.p.sse_cuts))
            return self._json(self.p.created, self.new_id(kind), thread_id)
        run_id = parts[3]
        if len(parts) == 5 and parts[4] == "steps":
            return self._json(self.p.steps, run_id, thread_id)
        kind = run_id[4]
        if kind == MULTI:
            with self._lock:
                n = self._polled.get(run_id, 0)
                self._polled[run_id] = n + 1
                if n + 1 >= len(self.p.polls):
                    del self._polled[run_id]
            return self._json(self.p.polls[min(n, len(self.p.polls) - 1)], run_id, thread_id)
        done = kind == QUICK or (kind == HOLD and self.finishing)
        return self._json(self.p.polls[-1] if done else self.p.polls[0], run_id, thread_id)


    def _responses(self, request: httpx2.Request, parts: list[str]) -> httpx2.Response:
        r = self.p.responses
        if request.method == "POST":
            options = json.loads(request.content or b"{}")
            if options.get("stream"):
                body = r.sse.replace(_RESP_PLACEHOLDER.encode(), self._response_id(STREAM).encode())
                return httpx2.Response(200, headers=self._SSE, stream=_Chunks(body, r.sse_cuts))
            if options.get("background"):
                return self._resp_json(r.queued, self._response_id(BACKGROUND))
            return self._resp_json(r.completed, self._response_id(QUICK))
        response_id = parts[1]
        with self._lock:
            n = self._polled.get(response_id, 0)
            self._polled[response_id] = n + 1
            if n + 1 >= len(r.polls):
                del self._polled[response_id]
        return self._resp_json(r.polls[min(n, len(r.polls) - 1)], response_id)

    def _response_id(self, kind: str) -> str:
        with self._lock:
            self._counter += 1
            return f"resp_{kind}{self._counter:023x}"

    def _resp_json(self, body: bytes, response_id: str) -> httpx2.Response:
        body = body.replace(_RESP_PLACEHOLDER.encode(), response_id.encode())
        return httpx2.Response(200, headers=self._JSON, content=body)

class LatencyTransport(httpx2.BaseTransport):
    """The same replay, each request answered after ``delay_s`` (a real API's latency)."""

    def __init__(self, replay: ReplayTransport, delay_s: float) -> None:
        self.replay, self.delay_s = replay, delay_s

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        time.sleep(self.delay_s)
        return self.replay.handle_request(request)


class _AsyncChunks(httpx2.AsyncByteStream):
    def __init__(self, chunks: Any) -> None:
        self._chunks = chunks

    async def __aiter__(self) -> Any:
        for chunk in self._chunks:
            yield chunk


class AsyncReplayTransport(httpx2.AsyncBaseTransport):
    """The same replay for ``AsyncOpenAI``: answers from the sync transport's logic, no I/O."""

    def __init__(self, sync: ReplayTransport, delay_s: float = 0.0) -> None:
        self.sync = sync
        self.delay_s = delay_s
        # the instrumentation's own sync reads reach it too
        self.handle_request = LatencyTransport(sync, delay_s).handle_request if delay_s else sync.handle_request

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        await request.aread()
        response = self.sync.handle_request(request)
        if isinstance(response.stream, _Chunks):
            return httpx2.Response(200, headers=response.headers, stream=_AsyncChunks(response.stream))
        return response


def make_client(payloads: Payloads) -> tuple[openai.OpenAI, ReplayTransport]:
    transport = ReplayTransport(payloads)
    return slow_client(transport, 0.0), transport


def slow_client(transport: ReplayTransport, delay_s: float) -> openai.OpenAI:
    """A client over the replay, each request answered after ``delay_s`` (none: the transport itself)."""
    http: httpx2.BaseTransport = LatencyTransport(transport, delay_s) if delay_s else transport
    return openai.OpenAI(api_key="sk-bench", base_url=BASE_URL, max_retries=0,
                         http_client=openai.DefaultHttpxClient(transport=http))


def make_async_client(transport: ReplayTransport, delay_s: float = 0.0) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(api_key="sk-bench", base_url=BASE_URL, max_retries=0,
                              http_client=openai.DefaultAsyncHttpxClient(
                                  transport=AsyncReplayTransport(transport, delay_s)))


# --- telemetry sinks and the instrumentations under test ---------------------------------------------


class CountingExporter(SpanExporter):
    """Counts spans and keeps none (so memory numbers measure the instrumentation, not the exporter)."""

    def __init__(self) -> None:
        self.count = 0
        self.names: dict[str, int] = {}

    def export(self, spans: Any) -> SpanExportResult:
        for span in spans:
            assert isinstance(span, ReadableSpan)
            self.count += 1
            self.names[span.name.split(" ")[0]] = self.names.get(span.name.split(" ")[0], 0) + 1
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        pass


class Subject:
    """One instrumentation, switched on and off between blocks."""

    name = "ours"

    def __init__(self) -> None:
        self.exporter = CountingExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.reader])
        self.instrumentor = self._make()

    def _make(self) -> Any:
        from opentelemetry.instrumentation.openai_assistants import AssistantsInstrumentor

        return AssistantsInstrumentor()

    def on(self) -> None:
        self.instrumentor.instrument(tracer_provider=self.tracer_provider, meter_provider=self.meter_provider)

    def off(self) -> None:
        self.instrumentor.uninstrument()

    def flush(self) -> None:
        flush = getattr(self.instrumentor, "force_flush", None)
        if flush is not None:
            flush()
        self.tracer_provider.force_flush()

    def version(self) -> str:
        return importlib_metadata.version("opentelemetry-instrumentation-openai-assistants")


class Peer(Subject):
    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__()

    def _make(self) -> Any:
        if self.name == "openai-v2":
            from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor
        elif self.name == "openllmetry":
            from opentelemetry.instrumentation.openai import OpenAIInstrumentor  # type: ignore[no-redef]
        else:
            from openinference.instrumentation.openai import OpenAIInstrumentor  # type: ignore[no-redef]
        return OpenAIInstrumentor()

    def version(self) -> str:
        return importlib_metadata.version(PEERS[self.name])


# --- background CPU: time spent inside the instrumentation's worker threads ---------------------------


class BackgroundClock:
    """Wraps ``Background._run`` to add up the CPU time (``thread_time``) of every piece of background work."""

    def __init__(self) -> None:
        self.cpu_s = 0.0
        self.jobs = 0
        self.profile: Optional[cProfile.Profile] = None  # counts the background work's function calls when set
        self._lock = threading.Lock()
        try:
            from opentelemetry.instrumentation.openai_assistants.background import Background
        except ImportError:
            return
        original = Background._run

        def timed(background: Any, fn: Any, args: Any, *rest: Any) -> None:
            start = time.thread_time()
            profile = self.profile
            if profile is not None:
                profile.enable()
            try:
                original(background, fn, args, *rest)
            finally:
                if profile is not None:
                    profile.disable()
                spent = time.thread_time() - start
                with self._lock:
                    self.cpu_s += spent
                    self.jobs += 1

        Background._run = timed  # type: ignore[method-assign]


# --- workloads -----------------------------------------------------------------------------------------


@dataclass
class Workload:
    name: str
    calls: int  # per block
    op: Callable[[], Any]
    setup: Callable[[], None] = lambda: None  # before each block, untimed
    runs_per_call: float = 0.0  # runs that end per call (for background CPU and spans per run)


def workloads(client: openai.OpenAI, transport: ReplayTransport, p: Payloads, scale: float,
              delay_s: float = 0.0) -> list[Workload]:
    runs = client.beta.threads.runs
    held: dict[str, str] = {}
    loop = asyncio.new_event_loop()
    aruns = make_async_client(transport, delay_s).beta.threads.runs

    def run(coro: Any) -> Any:
        return loop.run_until_complete(coro)

    async def astream() -> None:
        async with aruns.stream(thread_id=p.thread_id, assistant_id=p.assistant_id) as events:
            await events.until_done()

    def hold() -> None:  # a run in flight, created (so tracked) in the block's own arm
        transport.finishing = False
        held["id"] = runs.create(thread_id=p.thread_id, assistant_id=p.assistant_id).id

    def finish_one() -> None:  # a finished run whose messages the app then reads
        runs.create_and_poll(thread_id=p.thread_id, assistant_id=p.assistant_id, metadata={"kind": MULTI},
                             poll_interval_ms=0)

    def stream() -> None:
        with runs.stream(thread_id=p.thread_id, assistant_id=p.assistant_id) as events:
            events.until_done()

    def n(calls: int) -> int:
        return max(2, int(calls * scale))

    r = p.responses
    question = {"model": MODEL, "input": "What is the weather in Paris?"}

    def background_polled() -> None:  # background mode, read until it ends (as the app's poll loop does)
        response = client.responses.create(**question, background=True)
        while response.status in ("queued", "in_progress"):
            response = client.responses.retrieve(response.id)

    def response_stream() -> None:
        for _ in client.responses.create(**question, stream=True):
            pass

    return [
        Workload("runs.create", n(400), lambda: runs.create(thread_id=p.thread_id, assistant_id=p.assistant_id)),
        Workload("runs.retrieve (polling)", n(400), lambda: runs.retrieve(held["id"], thread_id=p.thread_id),
                 setup=hold),
        Workload(f"create_and_poll ({len(p.polls)} reads, 3 steps)", n(60),
                 lambda: runs.create_and_poll(thread_id=p.thread_id, assistant_id=p.assistant_id,
                                              metadata={"kind": MULTI}, poll_interval_ms=0),
                 runs_per_call=1.0),
        Workload(f"runs.stream().until_done() ({p.stream_events} events)", n(12), stream, runs_per_call=1.0),
        Workload("steps.list (3 steps)", n(400), lambda: runs.steps.list(held["id"], thread_id=p.thread_id),
                 setup=hold),
        Workload("messages.list (after the run)", n(400),
                 lambda: client.beta.threads.messages.list(thread_id=p.thread_id), setup=finish_one),
        Workload("async runs.retrieve (polling)", n(400),
                 lambda: run(aruns.retrieve(held["id"], thread_id=p.thread_id)), setup=hold),
        Workload(f"async create_and_poll ({len(p.polls)} reads, 3 steps)", n(60),
                 lambda: run(aruns.create_and_poll(thread_id=p.thread_id, assistant_id=p.assistant_id,
                                                   metadata={"kind": MULTI}, poll_interval_ms=0)),
                 runs_per_call=1.0),
        Workload(f"async runs.stream().until_done() ({p.stream_events} events)", n(12), lambda: run(astream()),
                 runs_per_call=1.0),
        Workload("responses.create", n(400), lambda: client.responses.create(**question), runs_per_call=1.0),
        Workload(f"responses.create(stream=True) ({r.stream_events} events)", n(12), response_stream,
                 runs_per_call=1.0),
        Workload(f"responses.create(background=True) + {len(r.polls)} polls", n(60), background_polled,
                 runs_per_call=1.0),
        *chat_workloads(client, n),
    ]


@dataclass
class Result:
    name: str
    ratios: list[float] = field(default_factory=list)
    base_us: list[float] = field(default_factory=list)  # per call, uninstrumented
    inst_us: list[float] = field(default_factory=list)
    own_ratios: list[float] = field(default_factory=list)  # CPU of the calling thread
    cpu_ratios: list[float] = field(default_factory=list)  # process CPU (all threads)
    drained_cpu_ratios: list[float] = field(default_factory=list)  # process CPU incl. the background drain
    cpu_added_us: list[float] = field(default_factory=list)  # per call, instrumented minus bare, drain included
    own_added_us: list[float] = field(default_factory=list)  # per call, calling thread's CPU, inst minus bare
    errors: dict[str, int] = field(default_factory=dict)  # exception type -> count, instrumented arm
    base_errors: dict[str, int] = field(default_factory=dict)
    bg_cpu_s: float = 0.0
    runs: float = 0.0
    caller_calls: dict[str, float] = field(default_factory=dict)  # "inst"/"base" -> Python calls per call


def _block(w: Workload, errors: dict[str, int]) -> tuple[float, float, float]:
    """Wall time, the calling thread's CPU time, and the whole process's CPU time of one block."""
    w.setup()
    gc.collect()
    wall, own, cpu = time.perf_counter(), time.thread_time(), time.process_time()
    for _ in range(w.calls):
        try:
            w.op()
        except Exception as error:  # an instrumentation that raises into the app: counted and reported
            errors[type(error).__name__] = errors.get(type(error).__name__, 0) + 1
    return time.perf_counter() - wall, time.thread_time() - own, time.process_time() - cpu


def measure(subject: Subject, loads: list[Workload], pairs: int, bg: BackgroundClock,
            count: bool = True) -> list[Result]:
    results = []
    for w in loads:
        r = Result(w.name)
        subject.on()  # warm-up, both arms
        _block(w, {})
        subject.flush()
        subject.off()
        _block(w, {})
        for i in range(pairs):
            times: dict[bool, tuple[float, float, float]] = {}
            drained: dict[bool, float] = {}
            for instrumented in ((False, True) if i % 2 == 0 else (True, False)):
                if instrumented:
                    subject.on()
                    bg_cpu = bg.cpu_s
                    times[True] = _block(w, r.errors)
                    drain = time.process_time()
                    subject.flush()
                    drained[True] = times[True][2] + time.process_time() - drain
                    r.bg_cpu_s += bg.cpu_s - bg_cpu
                    subject.off()  # ends runs still in flight
                    r.runs += w.runs_per_call * w.calls
                else:
                    times[False] = _block(w, r.base_errors)
                    drained[False] = times[False][2]  # nothing in the background to drain
            r.ratios.append(times[True][0] / times[False][0])
            r.drained_cpu_ratios.append(drained[True] / drained[False])
            r.cpu_added_us.append((drained[True] - drained[False]) / w.calls * 1e6)
            r.own_ratios.append(times[True][1] / times[False][1])
            r.own_added_us.append((times[True][1] - times[False][1]) / w.calls * 1e6)
            r.cpu_ratios.append(times[True][2] / times[False][2])
            r.base_us.append(times[False][0] / w.calls * 1e6)
            r.inst_us.append(times[True][0] / w.calls * 1e6)
        if count:
            r.caller_calls = caller_calls(subject, w)
        results.append(r)
    return results


def _count_calls(w: Workload, calls: int) -> float:
    """Python function calls per call on the calling thread (``sys.setprofile`` is per thread: the
    background workers are not counted)."""
    w.setup()
    count = 0

    def profile(frame: Any, event: str, arg: Any) -> None:
        nonlocal count
        if event == "call":
            count += 1

    sys.setprofile(profile)
    try:
        for _ in range(calls):
            with contextlib.suppress(Exception):  # errors are counted by ``measure``
                w.op()
    finally:
        sys.setprofile(None)
    return count / calls


def caller_calls(subject: Subject, w: Workload) -> dict[str, float]:
    """The caller's path as a number that does not move with the machine's load."""
    calls = max(2, min(w.calls, 20))
    subject.on()
    _count_calls(w, 2)  # warm: first-use work is not the per-call path
    inst = _count_calls(w, calls)
    subject.flush()
    subject.off()
    _count_calls(w, 2)
    return {"inst": inst, "base": _count_calls(w, calls)}


def _spans_per_call(subject: Subject, w: Workload) -> float:
    """Spans one call makes, counted on its own (runs still in flight are ended by uninstrument: excluded)."""
    subject.on()
    w.setup()
    subject.flush()
    before = subject.exporter.count
    for _ in range(5):
        with contextlib.suppress(Exception):  # errors are counted by ``measure``
            w.op()
    subject.flush()
    spans = subject.exporter.count - before
    subject.off()
    return spans / 5


@contextlib.contextmanager
def _logging_sums(log: list[otel_floor.Measurement]) -> Iterator[None]:
    """Log every amount our in-process counters (``metrics.Sums``) take, as a synchronous counter's ``add``:
    the floor is what the SDK needs for the same telemetry written the usual way."""
    try:
        from opentelemetry.instrumentation.openai_assistants.metrics import Sums
    except ImportError:  # counters are synchronous instruments: the recording meter sees them
        yield
        return
    original = Sums.add

    def logged(sums: Any, amount: Any, attributes: Any = None, *args: Any, **kwargs: Any) -> None:
        log.append((sums.name, "add", amount, dict(attributes or {})))
        original(sums, amount, attributes, *args, **kwargs)

    Sums.add = logged  # type: ignore[method-assign]
    try:
        yield
    finally:
        Sums.add = original  # type: ignore[method-assign]


def floor(loads: list[Workload], bg: BackgroundClock, runs: int) -> list[dict[str, Any]]:
    """Per workload that ends runs: what one run emits, the OpenTelemetry SDK's own cost of writing
    exactly that (``otel_floor``), and the Python calls of our whole background work per run."""
    from opentelemetry.instrumentation.openai_assistants import AssistantsInstrumentor  # ours only: not in peers' venvs

    rows = []
    for w in (w for w in loads if w.runs_per_call):
        meters = otel_floor.RecordingMeterProvider(MeterProvider(metric_readers=[InMemoryMetricReader()]))
        tracer_provider = TracerProvider()
        exporter = otel_floor.KeepingExporter()
        tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
        instrumentor = AssistantsInstrumentor()
        instrumentor.instrument(tracer_provider=tracer_provider, meter_provider=meters)
        calls = max(1, round(runs / w.runs_per_call))
        try:
            w.setup()
            for _ in range(10):  # warm: rates cached, assistant known
                w.op()
            instrumentor.force_flush()
            exporter.spans.clear()
            meters.log.clear()
            with _logging_sums(meters.log):  # what the runs emit ...
                for _ in range(calls):
                    w.op()
                instrumentor.force_flush()
            emitted_spans, emitted_measurements = list(exporter.spans), list(meters.log)
            bg.profile = cProfile.Profile()  # ... and, unlogged, the Python calls of our background work
            for _ in range(calls):
                w.op()
            instrumentor.force_flush()
            profile, bg.profile = bg.profile, None
        finally:
            instrumentor.uninstrument()
        finished = round(calls * w.runs_per_call)
        emitted = otel_floor.Emitted(finished, emitted_spans, emitted_measurements)
        rows.append({"name": w.name, "spans": len(emitted.spans) / finished,
                     "measurements": len(emitted.measurements) / finished,
                     "sync_measurements": sum(1 for m in emitted.measurements if m[1] == "record") / finished,
                     "floor_us": otel_floor.floor_us(emitted), "woken_floor_us": otel_floor.woken_floor_us(emitted),
                     "floor_calls": otel_floor.floor_calls(emitted),
                     "our_calls": pstats.Stats(profile).total_calls / finished})  # type: ignore[attr-defined]
    return rows


# --- memory --------------------------------------------------------------------------------------------


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def memory(subject: Subject, client: openai.OpenAI, transport: ReplayTransport, p: Payloads,
           in_flight: int, finished: int) -> dict[str, Any]:
    runs = client.beta.threads.runs
    out: dict[str, Any] = {"in_flight": in_flight, "finished": finished}

    def hold_many() -> int:
        transport.finishing = False
        gc.collect()
        start = tracemalloc.get_traced_memory()[0]
        ids = [runs.create(thread_id=p.thread_id, assistant_id=p.assistant_id).id for _ in range(in_flight)]
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - start
        transport.finishing = True
        for run_id in ids:
            runs.retrieve(run_id, thread_id=p.thread_id)
        return held

    tracemalloc.start()
    for instrumented in (False, True):
        if instrumented:
            subject.on()
        hold_many()  # warm-up: first-use allocations (pools, caches, interned strings)
        subject.flush()
        gc.collect()
        base = tracemalloc.get_traced_memory()[0]
        held = hold_many()
        subject.flush()
        gc.collect()
        key = "inst" if instrumented else "sdk"
        out[f"in_flight_bytes_{key}"] = held
        out[f"after_in_flight_bytes_{key}"] = tracemalloc.get_traced_memory()[0] - base
        if instrumented:
            subject.off()
    # in-flight responses: background responses created and held (queued), then read to their end
    def hold_responses() -> int:
        gc.collect()
        start = tracemalloc.get_traced_memory()[0]
        ids = [client.responses.create(model=MODEL, input="Hi", background=True).id for _ in range(in_flight)]
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - start
        for response_id in ids:
            while client.responses.retrieve(response_id).status in ("queued", "in_progress"):
                pass
        return held

    hold_responses()  # uninstrumented: the SDK alone
    out["in_flight_response_bytes_sdk"] = hold_responses()
    subject.on()
    hold_responses()
    subject.flush()
    out["in_flight_response_bytes_inst"] = hold_responses()
    subject.flush()
    subject.off()

    # finished runs, each on a new thread (a Code Interpreter call each: the session store keeps the
    # thread), and finished responses, each in a new conversation; background drained at checkpoints
    def run_on_new_thread(i: int) -> None:
        thread_id = f"thread_{i:024x}"
        run = runs.create(thread_id=thread_id, assistant_id=p.assistant_id, metadata={"kind": QUICK})
        runs.retrieve(run.id, thread_id=thread_id)

    def response_in_new_conversation(i: int) -> None:
        client.responses.create(model=MODEL, input="What is the weather in Paris?", conversation=f"conv_{i:024x}")

    subject.on()
    for key, one in (("finished_trail", run_on_new_thread), ("responses_trail", response_in_new_conversation)):
        for i in range(200):
            one(10**9 + i)
        subject.flush()
        gc.collect()
        base, rss0 = tracemalloc.get_traced_memory()[0], _rss_mb()
        checkpoints = {min(finished, 10_000), finished}
        trail = []
        for i in range(1, finished + 1):
            one(i)
            if i % 1000 == 0 or i in checkpoints:
                subject.flush()  # the queue holds at most 1000 runs; drain so none is dropped
            if i in checkpoints:
                gc.collect()
                trail.append((i, tracemalloc.get_traced_memory()[0] - base, _rss_mb() - rss0))
        out[key] = trail
    out["spans_after_finished"] = subject.exporter.count
    subject.off()
    gc.collect()
    out["after_uninstrument_bytes"] = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    return out


def _bytes_per_entry(fill: Callable[[int], Any], entries: int) -> float:
    """Bytes kept per entry by a store filled with ``entries`` (tracemalloc; the store kept alive)."""
    gc.collect()
    tracemalloc.start()
    start = tracemalloc.get_traced_memory()[0]
    kept = fill(entries)
    gc.collect()
    per_entry = (tracemalloc.get_traced_memory()[0] - start) / entries
    tracemalloc.stop()
    del kept
    return per_entry


def _sessions(n: int) -> Any:  # each thread with two Code Interpreter calls in one session, as the runs above
    from opentelemetry.instrumentation.openai_assistants.accounting.sessions import MemorySessionStore

    store = MemorySessionStore(max_threads=n)
    for t in range(n):
        for c in range(2):
            store.claim(f"thread_{t:024x}", f"call_{t:012x}{c:012x}", 1_780_000_000 + t // 10 + c)
    return store


def _claims(kind: str) -> Callable[[int], Any]:
    from decimal import Decimal

    from opentelemetry.instrumentation.openai_assistants.accounting.sessions import MemorySessionStore

    def fill(n: int) -> Any:
        store = MemorySessionStore()
        store.max_containers = n
        for t in range(n):
            if kind == "billed":
                store.claim_container(f"cntr_{t:048x}", Decimal("0.03") * (t % 7 + 1), False)
            elif kind == "deleted":
                store.note_deletion(f"cntr_{t:048x}", 1_780_000_000 + t)
            else:
                store.claim_response(f"resp_{t:048x}")
        return store
    return fill


def _ended(n: int) -> Any:
    from opentelemetry.instrumentation.openai_assistants.ended import EndedIds

    ended = EndedIds(n)
    for t in range(n):
        ended.put(f"run_{t:024x}", 1_780_000_000 + t)
    return ended


def _ledger(n: int) -> Any:
    from opentelemetry.instrumentation.openai_assistants.accounting.container_ledger import ContainerLedger
    from opentelemetry.instrumentation.openai_assistants.accounting.containers import ContainerRules
    from opentelemetry.instrumentation.openai_assistants.accounting.sessions import MemorySessionStore
    from opentelemetry.instrumentation.openai_assistants.model import Container

    ledger = ContainerLedger(ContainerRules({}), MemorySessionStore(), max_containers=n)
    for t in range(n):
        ledger.learn(Container(f"cntr_{t:048x}", memory_limit="1g", created_at=1_780_000_000 + t))
    return ledger


def _labels(n: int) -> Any:  # what responses/hosted.py keeps per container for its settlement
    from collections import OrderedDict

    labels: OrderedDict[str, dict[str, Any]] = OrderedDict()
    for t in range(n):
        labels[f"cntr_{t:048x}"] = {"gen_ai.provider.name": "openai", "openai.api.type": "responses",
                                    "gen_ai.request.model": MODEL}
    return labels


def _recent(n: int) -> Any:
    from opentelemetry.instrumentation.openai_assistants.links import Recent

    recent = Recent(n)
    for t in range(n):
        recent.put(f"chatcmpl-{t:032x}", True)
    return recent


def store_bounds(mem: dict[str, Any]) -> list[dict[str, Any]]:
    """Every store of ours that grows with traffic, at its default bound: entries x measured bytes per entry."""
    from opentelemetry.instrumentation.openai_assistants.accounting.container_ledger import ContainerLedger
    from opentelemetry.instrumentation.openai_assistants.config import Settings
    from opentelemetry.instrumentation.openai_assistants.ended import LIMIT
    from opentelemetry.instrumentation.openai_assistants.responses.hosted import MAX_LABELS

    defaults = Settings()
    n = mem["in_flight"]
    tracked, claims = defaults.max_tracked_runs, defaults.claims_max_entries
    ledger_max = ContainerLedger.__init__.__kwdefaults__["max_containers"]
    sample = 10_000
    rows = [
        {"store": "Code Interpreter sessions, per thread (window + lateness)", "entries": defaults.session_max_threads,
         "bytes": _bytes_per_entry(_sessions, defaults.session_max_threads)},
        {"store": "runs in flight", "entries": tracked,
         "bytes": (mem["in_flight_bytes_inst"] - mem["in_flight_bytes_sdk"]) / n},
        {"store": "responses in flight", "entries": tracked,
         "bytes": (mem["in_flight_response_bytes_inst"] - mem["in_flight_response_bytes_sdk"]) / n},
        {"store": "thread history for estimates (its own byte budget)", "entries": 1,
         "bytes": defaults.history_max_bytes},
        {"store": "container claims (money billed per container)", "entries": claims,
         "bytes": _bytes_per_entry(_claims("billed"), claims)},
        {"store": "container deletions shared by workers", "entries": claims,
         "bytes": _bytes_per_entry(_claims("deleted"), claims)},
        {"store": "response claims (trace_observed_runs)", "entries": claims,
         "bytes": _bytes_per_entry(_claims("responses"), claims)},
        {"store": "runs ended here (trace_observed_runs)", "entries": tracked,
         "bytes": _bytes_per_entry(_ended, tracked)},
        {"store": "responses ended here", "entries": LIMIT, "bytes": _bytes_per_entry(_ended, LIMIT)},
        {"store": "containers known to the ledger", "entries": ledger_max,
         "bytes": _bytes_per_entry(_ledger, ledger_max)},
        {"store": "container labels kept for settlement", "entries": MAX_LABELS,
         "bytes": _bytes_per_entry(_labels, MAX_LABELS)},
        {"store": "chat completions accounted", "entries": sample, "bytes": _bytes_per_entry(_recent, sample)},
    ]
    for row in rows:
        row["mb"] = row["entries"] * row["bytes"] / 1e6
    return rows


# --- one subject, in this interpreter ------------------------------------------------------------------


def _result_row(r: Result, spans_per_call: float, bg: BackgroundClock) -> dict[str, Any]:
    return {
        "name": r.name, "ratios": r.ratios, "own_ratios": r.own_ratios, "cpu_ratios": r.cpu_ratios,
        "drained_cpu_ratios": r.drained_cpu_ratios, "cpu_added_us": r.cpu_added_us,
        "own_added_us": r.own_added_us, "caller_calls": r.caller_calls,
        "base_us": r.base_us, "inst_us": r.inst_us, "spans_per_call": spans_per_call, "errors": r.errors,
        "base_errors": r.base_errors,
        "bg_cpu_us_per_run": (r.bg_cpu_s / r.runs * 1e6) if r.runs and bg.jobs else None,
    }


def latency(subject: Subject, transport: ReplayTransport, payloads: Payloads, bg: BackgroundClock,
            only: tuple[str, ...], pairs: int) -> list[dict[str, Any]]:
    """The same calls against a transport that answers each request after ``BENCH_LATENCY_MS`` (200)."""
    delay_s = float(os.environ.get("BENCH_LATENCY_MS", 200)) / 1000
    loads = [w for w in workloads(slow_client(transport, delay_s), transport, payloads, 1.0, delay_s)
             if not only or any(o in w.name for o in only)]
    for w in loads:
        w.calls = 2 if w.runs_per_call and "stream" not in w.name and w.name != "responses.create" else 4
    return [_result_row(r, 0.0, bg) for r in measure(subject, loads, pairs=pairs, bg=bg, count=False)]


def run_subject(name: str, quick: bool, with_memory: bool, only: tuple[str, ...] = (),
                with_latency: bool = False, memory_only: bool = False) -> dict[str, Any]:
    payloads = record()
    client, transport = make_client(payloads)
    subject = Subject() if name == "ours" else Peer(name)
    bg = BackgroundClock()
    loads = [w for w in workloads(client, transport, payloads, scale=0.4 if quick else 1.0)
             if (not only or any(o in w.name for o in only)) and not memory_only]
    results = measure(subject, loads, pairs=int(os.environ.get("BENCH_PAIRS", 6 if quick else 24)), bg=bg) \
        if loads else []
    per_call = {w.name: _spans_per_call(subject, w) for w in loads}
    out: dict[str, Any] = {
        "subject": name,
        "version": subject.version(),
        "python": platform.python_version(),
        "openai": openai.__version__,
        "httpx2": importlib_metadata.version("httpx2"),
        "otel_sdk": importlib_metadata.version("opentelemetry-sdk"),
        "results": [],
    }
    out["results"] = [_result_row(r, per_call[r.name], bg) for r in results]
    if with_latency:
        out["latency"] = latency(subject, transport, payloads, bg, only,
                                 pairs=int(os.environ.get("BENCH_LATENCY_PAIRS", 3 if quick else 6)))
    if name == "ours" and loads:
        out["floor"] = floor(loads, bg, runs=30 if quick else 100)
    if with_memory or memory_only:  # peers too: what an instrumentation keeps per run is part of its cost
        out["memory"] = memory(subject, client, transport, payloads, in_flight=500 if quick else 2000,
                               finished=int(os.environ.get("BENCH_FINISHED", 10_000 if quick else 100_000)))
        if name == "ours":
            out["bounds"] = store_bounds(out["memory"])
    return out


# --- peers: one virtualenv each -----------------------------------------------------------------------


def _peer_python(name: str) -> Path:
    venv = VENVS / name
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    sdk = importlib_metadata.version("opentelemetry-sdk")
    packages = [f"openai=={openai.__version__}", f"opentelemetry-sdk=={sdk}", PEERS[name], *PEER_NEEDS.get(name, [])]
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", *packages],
                   check=True)
    return python


def run_peer(name: str, quick: bool, no_memory: bool, only: list[str], with_latency: bool) -> dict[str, Any]:
    try:
        python = _peer_python(name)
    except subprocess.CalledProcessError as error:
        return {"subject": name, "failed": f"could not install: {error}"}
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        cmd = [str(python), str(Path(__file__).resolve()), "--peer", name, "--json", out.name]
        cmd += ["--quick"] * quick + ["--no-memory"] * no_memory + ["--latency"] * with_latency
        cmd += [f"--only={o}" for o in only]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            return {"subject": name, "failed": done.stderr.strip().splitlines()[-1:] or [f"exit {done.returncode}"]}
        return json.loads(Path(out.name).read_text())


# --- chat completions and embeddings (issue 18): their payloads, replies and workloads --------------------

_CHAT_PLACEHOLDER = "chatcmpl_" + "@" * 24  # each reply gets an id of its own, as the real API's
CHAT_MODEL, EMBEDDING_MODEL = "gpt-4o-mini", "text-embedding-3-small"
CHAT_QUESTION = [{"role": "system", "content": "You answer briefly."},
                 {"role": "user", "content": "What is the weather in Paris today?"}]


@dataclass
class ChatPayloads:
    """What the Chat Completions and Embeddings APIs answered: a completion, a stream with usage, embeddings."""

    completion: bytes
    sse: bytes
    sse_cuts: list[int]
    stream_events: int
    embeddings: bytes


_CHAT: list[ChatPayloads] = []


def chat_payloads() -> ChatPayloads:
    """Recorded once from the fake API's logic, validated by the SDK's models."""
    if _CHAT:
        return _CHAT[0]
    text = " ".join(f"Point {i} adds one more detail." for i in range(20))
    api = ChatApi(World(FakeClock()), {"bench": ChatScript(text, usage=ChatUsage(320, 140, cached=128), chunk=6)},
                  lambda: True)
    body = {"model": CHAT_MODEL, "messages": CHAT_QUESTION, "metadata": {"script": "bench"}}
    done = api.create_chat(query={}, body=body)
    streamed = api.create_chat(query={}, body={**body, "stream": True, "stream_options": {"include_usage": True}})
    embedded = api.create_embedding(query={}, body={"model": EMBEDDING_MODEL, "encoding_format": "base64",
                                                   "input": ["The weather in Paris", "Today's forecast"]})
    assert isinstance(done, Reply) and isinstance(streamed, StreamReply) and isinstance(embedded, Reply)
    check_object(done.body)
    check_object(embedded.body)
    events = list(streamed.events)
    chunks = []
    for name, data in events:
        check_event(name, data)
        chunks.append(f"data: {json.dumps(data)}\n\n".replace(data["id"], _CHAT_PLACEHOLDER).encode())
    chunks.append(b"data: [DONE]\n\n")
    cuts, at = [], 0
    for chunk in chunks:
        at += len(chunk)
        cuts.append(at)
    _CHAT.append(ChatPayloads(
        completion=json.dumps(done.body).replace(done.body["id"], _CHAT_PLACEHOLDER).encode(),
        sse=b"".join(chunks), sse_cuts=cuts, stream_events=len(events),
        embeddings=json.dumps(embedded.body).encode()))
    return _CHAT[0]


def chat_reply(request: httpx2.Request, parts: list[str], new_id: Callable[[str], str]) -> httpx2.Response:
    """The transport's answer to ``POST /chat/completions`` (plain or streamed) and ``POST /embeddings``."""
    p = chat_payloads()
    if parts[0] == "embeddings":
        return httpx2.Response(200, headers=ReplayTransport._JSON, content=p.embeddings)
    ident = ("chatcmpl_" + new_id("c")[5:]).encode()
    if json.loads(request.content or b"{}").get("stream"):
        return httpx2.Response(200, headers=ReplayTransport._SSE,
                               stream=_Chunks(p.sse.replace(_CHAT_PLACEHOLDER.encode(), ident), p.sse_cuts))
    return httpx2.Response(200, headers=ReplayTransport._JSON,
                           content=p.completion.replace(_CHAT_PLACEHOLDER.encode(), ident))


def chat_workloads(client: openai.OpenAI, n: Callable[[int], int]) -> list[Workload]:
    """Rows for a chat completion (plain and streamed) and an embedding, beside ``responses.create``."""
    p = chat_payloads()

    def chat_stream() -> None:
        for _ in client.chat.completions.create(model=CHAT_MODEL, messages=CHAT_QUESTION, stream=True,
                                                stream_options={"include_usage": True}):
            pass

    return [
        Workload("chat.completions.create", n(400),
                 lambda: client.chat.completions.create(model=CHAT_MODEL, messages=CHAT_QUESTION), runs_per_call=1.0),
        Workload(f"chat.completions.create(stream=True) ({p.stream_events} chunks)", n(60), chat_stream,
                 runs_per_call=1.0),
        Workload("embeddings.create", n(400),
                 lambda: client.embeddings.create(model=EMBEDDING_MODEL, input=["The weather in Paris",
                                                                                 "Today's forecast"]),
                 runs_per_call=1.0),
    ]


# --- report --------------------------------------------------------------------------------------------


def _spread(values: list[float]) -> tuple[float, float, float]:
    if len(values) < 2:
        return values[0], values[0], values[0]
    deciles = statistics.quantiles(values, n=10, method="inclusive")
    return statistics.median(values), deciles[0], deciles[-1]


def _ratio(values: list[float]) -> str:
    med, lo, hi = _spread(values)
    return f"{med:.3f} ({lo:.3f}-{hi:.3f})"


def _cell(result: dict[str, Any], subject: str) -> str:
    errors = ", ".join(f"{k} x{v}" for k, v in result["errors"].items() if k not in result["base_errors"])
    if errors:
        return f"raises into the app: {errors}; {_ratio(result['ratios'])}"
    if subject != "ours" and not result["spans_per_call"]:
        return f"unsupported (0 spans); {_ratio(result['ratios'])}"
    return _ratio(result["ratios"])


def _drained(result: dict[str, Any]) -> str:
    if not result.get("cpu_added_us"):
        return "-"
    return f"{statistics.median(result['cpu_added_us']):+.0f} us ({_ratio(result['drained_cpu_ratios'])})"


def _calls(row: Optional[dict[str, Any]]) -> str:
    counts = (row or {}).get("caller_calls") or {}
    if not counts:
        return "-"
    return f"{counts['inst'] - counts['base']:+.0f} ({counts['base']:.0f})"


def _added(values: list[float], scale: float = 1.0, unit: str = "") -> str:
    if not values:
        return "-"
    med, lo, hi = _spread([v * scale for v in values])
    return f"{med:+.1f}{unit} ({lo:+.1f} to {hi:+.1f})"


def _latency_table(all_results: list[dict[str, Any]]) -> list[str]:
    with_latency = [r for r in all_results if r.get("latency")]
    if not with_latency:
        return []
    ours = with_latency[0]["latency"]
    lines = ["", f"## With a real API's latency: {os.environ.get('BENCH_LATENCY_MS', 200)} ms per request", "",
             "The same calls, the transport answering each request after the delay (background reads too). "
             "Wall time per call: the bare SDK's median and the spread of its blocks (p10-p90: the noise), "
             "then the wall time each instrumentation adds (median of per-pair differences, p10-p90).", "",
             "| call | SDK alone, ms/call (p10-p90) | " + " | ".join(f"{r['subject']}: ms added" for r in with_latency)
             + " |", "|---|---|" + "---|" * len(with_latency)]
    for i, res in enumerate(ours):
        med, lo, hi = _spread([b / 1000 for b in res["base_us"]])
        cells = [_added([(a - b) for a, b in zip(r["latency"][i]["inst_us"], r["latency"][i]["base_us"], strict=True)],
                        1e-3) for r in with_latency]
        lines.append(f"| {res['name']} | {med:.1f} ({lo:.1f}-{hi:.1f}) | " + " | ".join(cells) + " |")
    return lines


def report(all_results: list[dict[str, Any]], quick: bool) -> str:
    ours = all_results[0]
    lines = [
        "# Instrumentation overhead: OpenAI Assistants and Responses APIs",
        "",
        f"- date: {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}; mode: {'quick' if quick else 'full'}",
        f"- machine: {platform.platform()}, {platform.machine()}, {os.cpu_count()} CPUs, "
        f"{platform.processor() or 'unknown processor'}",
        f"- Python {ours['python']} ({platform.python_implementation()}); openai {ours['openai']}, "
        f"httpx2 {ours['httpx2']}, opentelemetry-sdk {ours['otel_sdk']}",
        "- subjects: " + ", ".join(f"{r['subject']} {r.get('version', '?')}" for r in all_results),
        "- transport: in-process httpx2 transport replaying fake-API JSON/SSE (no sockets); exporter counts "
        "spans and keeps none; metrics to an InMemoryMetricReader",
        "",
        "## Wall time per call, instrumented / uninstrumented (median of per-pair ratios, p10-p90)",
        "",
        "| call | SDK alone, us/call | ours, us added/call | " + " | ".join(r["subject"] for r in all_results) + " |",
        "|---|---|---|" + "---|" * len(all_results),
    ]
    for i, res in enumerate(ours["results"]):
        cells = []
        for subject in all_results:
            if "failed" in subject:
                cells.append(f"failed: {subject['failed']}")
                continue
            cells.append(_cell(subject["results"][i], subject["subject"]))
        added = statistics.median(i - b for i, b in zip(res["inst_us"], res["base_us"], strict=True))
        lines.append(f"| {res['name']} | {statistics.median(res['base_us']):.0f} | {added:.0f} | "
                     + " | ".join(cells) + " |")
    lines += ["", "## The caller's path: Python calls and CPU added per call on the calling thread", "",
              "Python calls counted with `sys.setprofile` on the calling thread (background workers excluded; "
              "they do not move with the machine's load); CPU is the calling thread's `thread_time`, "
              "median of the per-pair differences (p10-p90).", "",
              "| call | " + " | ".join(f"{r['subject']}: calls added (SDK alone) | {r['subject']}: CPU us added"
                                     for r in all_results) + " |",
              "|---|" + "---|---|" * len(all_results)]
    for i, res in enumerate(ours["results"]):
        cells = []
        for s in all_results:
            row = s["results"][i] if "failed" not in s else None
            cells.append(_calls(row) + " | " + (_added(row["own_added_us"]) if row else "-"))
        lines.append(f"| {res['name']} | " + " | ".join(cells) + " |")
    lines += _latency_table(all_results)
    lines += ["", "## CPU time of the calling thread, instrumented / uninstrumented (insensitive to other load)", "",
              "| call | " + " | ".join(r["subject"] for r in all_results) + " |",
              "|---|" + "---|" * len(all_results)]
    for i, res in enumerate(ours["results"]):
        cells = [_ratio(s["results"][i]["own_ratios"]) if "failed" not in s else "-" for s in all_results]
        lines.append(f"| {res['name']} | " + " | ".join(cells) + " |")
    lines += ["", "## Process CPU (all threads, background included), instrumented / uninstrumented", "",
              "| call | " + " | ".join(r["subject"] for r in all_results) + " |",
              "|---|" + "---|" * len(all_results)]
    for i, res in enumerate(ours["results"]):
        cells = [_ratio(s["results"][i]["cpu_ratios"]) if "failed" not in s else "-" for s in all_results]
        lines.append(f"| {res['name']} | " + " | ".join(cells) + " |")
    lines += ["", "## Process CPU per call, all threads, the background drain included: us added (ratio)", "",
              "The whole cost of watching a call: what the instrumented arm spends on every thread, the",
              "background work of the runs it ended included (drained before the clock stops), minus the bare SDK.",
              "",
              "| call | " + " | ".join(r["subject"] for r in all_results) + " |",
              "|---|" + "---|" * len(all_results)]
    for i, res in enumerate(ours["results"]):
        cells = [_drained(s["results"][i]) if "failed" not in s else "-" for s in all_results]
        lines.append(f"| {res['name']} | " + " | ".join(cells) + " |")
    lines += ["", "## Spans per call (counted on their own; ours emits a run's spans when it ends)", "",
              "| call | " + " | ".join(r["subject"] for r in all_results) + " |",
              "|---|" + "---|" * len(all_results)]
    for i, res in enumerate(ours["results"]):
        cells = [f"{s['results'][i]['spans_per_call']:.1f}" if "failed" not in s else "-" for s in all_results]
        lines.append(f"| {res['name']} | " + " | ".join(cells) + " |")
    lines += ["", "## Background CPU (ours; worker threads, per finished run)", ""]
    for res in ours["results"]:
        if res["bg_cpu_us_per_run"] is not None:
            lines.append(f"- {res['name']}: {res['bg_cpu_us_per_run']:.0f} us CPU per run")
    if ours.get("floor"):
        lines += ["", "## The OpenTelemetry SDK's floor (ours; per finished run)", "",
                  "What one run emits, replayed straight through a fresh SDK pipeline of the same shape: the CPU",
                  "and Python calls the SDK itself needs for those spans and measurements, warm (back to back) and",
                  "woken (once per run on a worker thread, as ours runs), next to our whole background work per",
                  "run (reads of steps or containers included).", "",
                  "| call | spans | measurements | ours: background CPU, us | SDK alone, woken, us | "
                  "SDK alone, warm, us | ours: Python calls | SDK alone: Python calls |",
                  "|---|---|---|---|---|---|---|---|"]
        background = {r["name"]: r["bg_cpu_us_per_run"] for r in ours["results"]}
        for row in ours["floor"]:
            cpu = background.get(row["name"])
            lines.append(f"| {row['name']} | {row['spans']:.1f} | {row['measurements']:.1f} | "
                         f"{cpu:.0f} | {row['woken_floor_us']:.0f} | {row['floor_us']:.0f} | {row['our_calls']:.0f} | "
                         f"{row['floor_calls']:.0f} |" if cpu is not None else f"| {row['name']} |" + " - |" * 7)
    with_memory = [r for r in all_results if r.get("memory")]
    if with_memory:
        first = with_memory[0]["memory"]
        lines += ["", "## Memory (tracemalloc; RSS where noted)", "",
                  f"In flight: {first['in_flight']:,} runs (or background responses) created and held in progress, "
                  "then finished; finished: runs created and read once, each on a new thread with a Code "
                  "Interpreter call, and responses each in a new conversation, background drained every 1,000, "
                  "measured above a baseline taken after 200 such.", "",
                  "| | " + " | ".join(r["subject"] for r in with_memory) + " |",
                  "|---|" + "---|" * len(with_memory)]

        def row(label: str, cell: Callable[[dict[str, Any]], str]) -> None:
            lines.append(f"| {label} | " + " | ".join(cell(r["memory"]) for r in with_memory) + " |")

        row("bytes per in-flight run (minus SDK alone)",
            lambda m: f"{(m['in_flight_bytes_inst'] - m['in_flight_bytes_sdk']) / m['in_flight']:.0f}")
        row("bytes per in-flight background response (minus SDK alone)",
            lambda m: f"{(m['in_flight_response_bytes_inst'] - m['in_flight_response_bytes_sdk']) / m['in_flight']:.0f}"
            if "in_flight_response_bytes_inst" in m else "-")
        row("KiB kept once those runs finished (SDK alone)",
            lambda m: f"{m['after_in_flight_bytes_inst'] / 1024:.1f} ({m['after_in_flight_bytes_sdk'] / 1024:.1f})")
        for key, what in (("finished_trail", "runs, each on a new thread"),
                          ("responses_trail", "responses, each in a new conversation")):
            for i, (n, _, _) in enumerate(first.get(key, [])):
                row(f"bytes kept per finished run or response after {n:,} {what}, drained (RSS MiB)",
                    lambda m, i=i, key=key: f"{m[key][i][1] / m[key][i][0]:.0f} ({m[key][i][2]:.1f})"
                    if key in m else "-")
        row("KiB kept after uninstrument()", lambda m: f"{m['after_uninstrument_bytes'] / 1024:.1f}")
        row("spans exported for those runs", lambda m: f"{m['spans_after_finished']:,}")
    if ours.get("bounds"):
        lines += ["", "## Stores at their default bounds (ours)", "",
                  "| store | entries at the bound | bytes per entry | MB |", "|---|---|---|---|"]
        for b in ours["bounds"]:
            lines.append(f"| {b['store']} | {b['entries']:,} | {b['bytes']:,.0f} | {b['mb']:.1f} |")
        lines.append(f"| total | | | {sum(b['mb'] for b in ours['bounds']):.1f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer blocks and runs")
    parser.add_argument("--peers", action="store_true", help="also measure peer instrumentations")
    parser.add_argument("--peer", help=argparse.SUPPRESS)
    parser.add_argument("--json", help="write the raw results here")
    parser.add_argument("--no-memory", action="store_true", help="skip the memory measurements")
    parser.add_argument("--memory-only", action="store_true", help="only the memory measurements and store bounds")
    parser.add_argument("--latency", action="store_true",
                        help="also measure the calls against a transport that waits BENCH_LATENCY_MS (200) per request")
    parser.add_argument("--only", action="append", default=[], help="only calls whose name contains this")
    parser.add_argument("--report-from", help="print the report of a --json file again, measuring nothing")
    args = parser.parse_args()
    if args.report_from:
        print(report(json.loads(Path(args.report_from).read_text()), args.quick))
        return
    if args.peer:
        results = run_subject(args.peer, args.quick, with_memory=not args.no_memory, only=tuple(args.only),
                              with_latency=args.latency)
        Path(args.json).write_text(json.dumps(results))
        return
    results = [run_subject("ours", args.quick, with_memory=not args.no_memory, only=tuple(args.only),
                           with_latency=args.latency and not args.memory_only, memory_only=args.memory_only)]
    if args.peers:
        results += [run_peer(name, args.quick, args.no_memory, args.only, args.latency) for name in PEERS]
    if args.json:
        Path(args.json).write_text(json.dumps(results))
    print(report(results, args.quick))


if __name__ == "__main__":
    main()
