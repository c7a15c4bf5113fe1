"""The OTLP export path end to end: the workload's telemetry reaches real OTLP receivers (HTTP and gRPC)
through ``examples/otlp_setup.py``, through ``opentelemetry-instrument`` with environment variables alone,
and from pre-forked workers, each with its own ``service.instance.id``."""

from __future__ import annotations

import os
import subprocess
import sys
import traceback
import uuid
from pathlib import Path
from typing import Any, Iterator

import openai
import pytest
from opentelemetry.proto.metrics.v1.metrics_pb2 import AggregationTemporality
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from otlp_receiver import GrpcReceiver, HttpReceiver, Received, attributes

from openai_fake_api import FakeAssistantsAPI
from opentelemetry.instrumentation.openai_assistants import AssistantsInstrumentor

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "examples"))

from otlp_setup import flush_telemetry, setup_telemetry  # noqa: E402
from workload import register_scripts, run_workload  # noqa: E402

UNITS = {
    "gen_ai.client.token.usage": "{token}",
    "gen_ai.client.operation.duration": "s",
    "openai_cost.spend": "USD",
    "openai_cost.run.spend": "USD",
    "openai_cost.runs": "{run}",
    "openai_cost.tool_calls": "{call}",
}
WORKLOAD_RUNS = 8  # examples/workload.py: see its docstring
DEMO_RESPONSES = 10  # examples/responses_workload.py, which the demo runs too: see its docstring
OPERATIONS = {"invoke_agent", "chat", "execute_tool"}
RECEIVERS = {"http/protobuf": HttpReceiver, "grpc": GrpcReceiver}


@pytest.fixture
def otlp_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No OTLP settings from the outer environment leak in."""
    for name in list(os.environ):
        if name.startswith("OTEL_"):
            monkeypatch.delenv(name)
    return monkeypatch


@pytest.fixture(params=sorted(RECEIVERS))
def receiver(request: pytest.FixtureRequest) -> Iterator[Any]:
    """A running receiver for the protocol of the test's parameter (``receiver.protocol``)."""
    with RECEIVERS[request.param]() as running:
        running.protocol = request.param
        yield running


@pytest.fixture
def teardown(receiver: Any) -> Iterator[list[Any]]:
    """Providers to shut down after the test, while the receiver still runs (no export retries against a
    closed port); the instrumentor is uninstrumented too."""
    providers: list[Any] = []
    yield providers
    instrumentor = AssistantsInstrumentor()
    if instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.uninstrument()
    for provider in providers:
        provider.shutdown()


def _operations(received: Received) -> list[str]:
    return [str(attributes(span.attributes).get("gen_ai.operation.name")) for _, span in received.spans()]


def _resources(received: Received) -> list[dict[str, Any]]:
    return [resource for resource, _ in received.spans()] + [seen.resource for seen in received.metric_list()]


def _assert_our_metrics(received: Received) -> None:
    units = received.units()
    for name, unit in UNITS.items():
        assert units.get(name) == {unit}, (name, units.get(name))
    kinds = {seen.metric.name: seen for seen in received.metric_list()}
    assert kinds["gen_ai.client.token.usage"].kind == "histogram"
    assert kinds["gen_ai.client.operation.duration"].kind == "histogram"
    assert kinds["openai_cost.spend"].kind == "sum" and kinds["openai_cost.spend"].metric.sum.is_monotonic
    ours = [seen for seen in received.metric_list() if seen.metric.name in UNITS]
    assert all(seen.cumulative for seen in ours)


def _assert_the_workload_arrived(received: Any, responses: int = 0) -> None:
    """Our metrics with their units, one run count per run and response of the workload, and one
    ``invoke_agent`` span per run."""
    _assert_our_metrics(received)
    assert sum(received.latest_sums("openai_cost.runs").values()) == WORKLOAD_RUNS + responses
    operations = _operations(received)
    assert set(operations) >= OPERATIONS
    assert operations.count("invoke_agent") == WORKLOAD_RUNS


def test_setup_telemetry_exports_over_otlp(receiver: Any, otlp_env: pytest.MonkeyPatch, teardown: list[Any],
                                            fake_api: FakeAssistantsAPI) -> None:
    """Spans and metrics reach the receiver under the env's endpoint, protocol, headers and interval."""
    otlp_env.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint)
    otlp_env.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", receiver.protocol)
    otlp_env.setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-team=assistants")
    otlp_env.setenv("OTEL_METRIC_EXPORT_INTERVAL", "100")
    # shared by every worker of a server, so its instance id must not be used
    otlp_env.setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment.name=test,service.instance.id=shared")
    teardown.extend(setup_telemetry("otlp-test", set_global=False))
    register_scripts(fake_api)
    run_workload(fake_api.base_url)
    received = receiver.received
    # the 100 ms interval (default 60 s) exports without any flush
    assert received.wait_for(lambda: bool(received.metrics))
    assert flush_telemetry(*teardown)

    _assert_the_workload_arrived(received)
    resources = _resources(received)
    assert {r["service.name"] for r in resources} == {"otlp-test"}
    assert {r["deployment.environment.name"] for r in resources} == {"test"}
    instance_ids = {r["service.instance.id"] for r in resources}
    assert len(instance_ids) == 1 and "shared" not in instance_ids
    uuid.UUID(instance_ids.pop())
    assert received.headers and all(h.get("x-team") == "assistants" for h in received.headers)


def test_opentelemetry_instrument_with_environment_only() -> None:
    """``opentelemetry-instrument python examples/demo.py`` with ``OTEL_*`` variables: no setup code at all."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    with HttpReceiver() as receiver:
        env.update({
            "OTEL_TRACES_EXPORTER": "otlp", "OTEL_METRICS_EXPORTER": "otlp", "OTEL_LOGS_EXPORTER": "none",
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint, "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
            "OTEL_SERVICE_NAME": "demo-auto", "PYTHONPATH": str(ROOT / "src"),
            "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "openai",  # the test extra installs other OpenAI instrumentations
        })
        done = subprocess.run(
            [str(Path(sys.executable).parent / "opentelemetry-instrument"), sys.executable,
             str(ROOT / "examples" / "demo.py")],
            env=env, cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
        )
        assert done.returncode == 0, done.stderr
        assert f"{WORKLOAD_RUNS} runs" in done.stdout
        assert f"{DEMO_RESPONSES} responses" in done.stdout
        received = receiver.received
        assert received.wait_for(lambda: bool(received.metrics and received.traces))

    _assert_the_workload_arrived(received, responses=DEMO_RESPONSES)
    resources = _resources(received)
    assert {r["service.name"] for r in resources} == {"demo-auto"}
    # the SDK's own service_instance resource detector gives the process an id
    assert len({r.get("service.instance.id") for r in resources}) == 1
    assert all(r.get("service.instance.id") for r in resources)


def _worker(base_url: str, runs: int) -> None:
    """What a pre-forked worker does: set up in the child (a ``post_fork`` hook), serve, flush."""
    providers = setup_telemetry("prefork-test", set_global=False)
    client = openai.OpenAI(base_url=base_url, api_key="sk-test")
    assistant = client.beta.assistants.create(name="Greeter", model="gpt-4o-mini", metadata={"script": "text"})
    for _ in range(runs):
        client.beta.threads.create_and_run_poll(
            assistant_id=assistant.id, thread={"messages": [{"role": "user", "content": "Hi"}]})
    client.close()
    if not flush_telemetry(*providers):
        raise RuntimeError("flush timed out")


def _fork(body: Any, *args: Any) -> int:
    pid = os.fork()
    if pid == 0:  # the child never returns into pytest
        code = 0
        try:
            body(*args)
        except BaseException:
            traceback.print_exc()
            code = 1
        finally:
            os._exit(code)
    return pid


def _wait(pids: list[int]) -> list[int]:
    return [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in pids]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_preforked_workers_have_their_own_identity(otlp_env: pytest.MonkeyPatch,
                                                   fake_api: FakeAssistantsAPI) -> None:
    """Two workers forked after import: two instance ids, each with its own cumulative ``openai_cost.runs``."""
    assert not AssistantsInstrumentor().is_instrumented_by_opentelemetry  # as in a master that set up nothing
    with HttpReceiver() as receiver:
        otlp_env.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint)
        otlp_env.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
        otlp_env.setenv("OTEL_RESOURCE_ATTRIBUTES", "service.instance.id=shared")  # one value for all workers
        assert _wait([_fork(_worker, fake_api.base_url, runs) for runs in (1, 2)]) == [0, 0]

    received = receiver.received
    runs = received.latest_sums("openai_cost.runs")
    assert len(runs) == 2
    assert sorted(runs.values()) == [1, 2]  # neither worker's total overwrote or absorbed the other's
    for seen in received.metric_list():
        if seen.metric.name == "openai_cost.runs":
            assert seen.metric.sum.aggregation_temporality == AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE
    by_instance: dict[str, int] = {}
    for resource, span in received.spans():
        if attributes(span.attributes).get("gen_ai.operation.name") == "invoke_agent":
            instance = resource["service.instance.id"]
            by_instance[instance] = by_instance.get(instance, 0) + 1
    assert by_instance == runs


def _child_instance_id(provider: TracerProvider, write_fd: int) -> None:
    os.write(write_fd, str(provider.resource.attributes["service.instance.id"]).encode())


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_sdk_renews_instance_id_after_fork(otlp_env: pytest.MonkeyPatch) -> None:
    """What ``otlp_setup``'s docstring says of the SDK: providers made before a fork (as
    ``opentelemetry-instrument`` makes them in a pre-forking master) get a new ``service.instance.id`` in
    the child, even over one from ``OTEL_RESOURCE_ATTRIBUTES``."""
    otlp_env.setenv("OTEL_RESOURCE_ATTRIBUTES", "service.instance.id=shared")
    provider = TracerProvider(resource=Resource.create())
    meter_provider = MeterProvider(resource=provider.resource)
    assert provider.resource.attributes["service.instance.id"] == "shared"
    read_fd, write_fd = os.pipe()
    try:
        assert _wait([_fork(_child_instance_id, provider, write_fd)]) == [0]
        child_id = os.read(read_fd, 100).decode()
    finally:
        os.close(read_fd)
        os.close(write_fd)
        provider.shutdown()
        meter_provider.shutdown()
    assert child_id not in ("", "shared")
    uuid.UUID(child_id)
