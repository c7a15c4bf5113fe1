"""Several processes serving one thread bill one Code Interpreter session through Redis (a real
redis-server), where per-process memory would bill one each."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import openai
import pytest

WORKER = Path(__file__).with_name("session_worker.py")
ROOT = Path(__file__).resolve().parents[1]


def _sessions_billed(fake_api: Any, store_url: str, workers: int = 3) -> list[int]:
    client = openai.OpenAI(base_url=fake_api.base_url, api_key="sk-test")
    assistant = client.beta.assistants.create(model="gpt-4o-mini", tools=[{"type": "code_interpreter"}],
                                              metadata={"script": "code_interpreter"})
    thread = client.beta.threads.create()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
    billed = []
    for _ in range(workers):  # one after another: a thread has one active run at a time
        out = subprocess.run([sys.executable, str(WORKER), fake_api.base_url, thread.id, assistant.id, store_url],
                             env=env, capture_output=True, text=True, timeout=60, check=True)
        billed.append(json.loads(out.stdout.strip().splitlines()[-1])["sessions"])
    return billed


@pytest.mark.parametrize("store", ["redis", "memory"])
def test_sessions_across_processes(fake_api: Any, redis_url: str, store: str) -> None:
    billed = _sessions_billed(fake_api, redis_url if store == "redis" else "")
    if store == "redis":
        assert billed == [1, 0, 0]  # the first process opened the session; the others joined it
    else:
        assert billed == [1, 1, 1]  # what per-process memory would bill: why the Redis store exists
