"""Next to the other OpenAI instrumentations (the official openai-v2, OpenLLMetry, OpenInference), each
instrumented before or after ours, each in a process of its own (``coexist_child.py``): every call
(plain, streamed, embeddings; sync and async) still gets exactly one span, the other's, carrying our
cost attributes; our money reaches the metrics; ``chat_spans="always"`` adds ours."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from chat_helpers import MODEL, chat_cost, usd

CHILD = Path(__file__).with_name("coexist_child.py")
ROOT = Path(__file__).resolve().parents[1]
OURS = "opentelemetry.instrumentation.openai_assistants"
EMBEDDING = "text-embedding-3-small"
# Legacy completions: the official openai-v2 makes no span for them (chat and embeddings only).
PEERS = ("openai-v2", "openllmetry", "openinference")
# The peers extra (openai 3.x virtualenv) brings all three.
pytestmark = [pytest.mark.needs_package(name) for name in (
    "opentelemetry-instrumentation-openai-v2", "opentelemetry-instrumentation-openai",
    "openinference-instrumentation-openai")]


def run(fake_api: Any, peer: str, order: str, spans: str = "auto") -> dict[str, Any]:
    done = subprocess.run([sys.executable, str(CHILD), fake_api.base_url, peer, order, spans], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def usage_of(raw: dict[str, Any]) -> Any:
    """The usage dict the child read, with attribute access for the hand table."""
    return SimpleNamespace(**{k: SimpleNamespace(**v) if isinstance(v, dict) else v for k, v in raw.items()})


def about_the_call(scenario: dict[str, Any]) -> list[dict[str, Any]]:
    """The spans made for the call itself (not tool spans, not HTTP spans)."""
    return [s for s in scenario["spans"] if s["kind"] in ("CLIENT", "INTERNAL")
            and not s["name"].startswith(("execute_tool", "POST", "GET"))]


def expected_usd(name: str, usage: Any) -> Decimal:
    return usd(EMBEDDING, "input", usage.prompt_tokens) if name == "embeddings" else chat_cost(MODEL, usage)


@pytest.mark.parametrize("order", ["theirs_first", "ours_first"])
@pytest.mark.parametrize("peer", PEERS)
def test_one_span_per_call_our_money_on_it_and_in_the_metrics(fake_api: Any, peer: str, order: str) -> None:
    result = run(fake_api, peer, order)
    for key, scenario in result.items():
        name = key.split(":")[1]
        spans = about_the_call(scenario)
        assert len(spans) == 1, (key, [(s["name"], s["scope"]) for s in spans])
        span = spans[0]
        assert span["scope"] != OURS, key
        usage = usage_of(scenario["usage"])
        expected = float(expected_usd(name, usage))
        api = "embeddings" if name == "embeddings" else "chat_completions"
        spent = sum(v for k, v in scenario["metrics"].items() if k.startswith(f"openai_cost.spend|{api}|"))
        assert spent == pytest.approx(expected, rel=1e-12), key
        assert scenario["metrics"][f"gen_ai.client.token.usage|{api}|input"] == usage.prompt_tokens, key
        money = span["attributes"].get("openai_cost.rollup.total_usd")  # theirs is open when the last chunk comes
        assert money == pytest.approx(expected, rel=1e-12), (key, span["attributes"])


@pytest.mark.parametrize("peer", PEERS)
def test_our_span_too_as_an_option(fake_api: Any, peer: str) -> None:
    result = run(fake_api, peer, "theirs_first", spans="always")
    for key, scenario in result.items():
        scopes = sorted(s["scope"] == OURS for s in about_the_call(scenario))
        assert scopes == [False, True], (key, scopes)
