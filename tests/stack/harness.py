"""Real Prometheus / Alertmanager processes for the stack tests: found, started, polled, stopped."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest

T = TypeVar("T")


def require_binary(name: str, package: str) -> str:
    """Return the path of a binary; fail (never skip) naming the Debian package that provides it."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"`{name}` not found: install the Debian package `{package}` (apt-get install {package})")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get_json(url: str, params: dict[str, str] | None = None) -> Any:
    if params:
        url += "?" + urllib.parse.urlencode(params)
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


def wait_for(probe: Callable[[], T | None], timeout: float, what: str, interval: float = 0.2) -> T:
    """Poll ``probe`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            result = probe()
            if result:
                return result
        except Exception as error:  # the server may not be up yet
            last_error = error
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout}s waiting for {what} (last error: {last_error!r})")


def _ready(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=2) as response:
        return bool(response.status == 200)


@contextmanager
def running(
    args: list[str], log: Path, ready_url: str, timeout: float = 20
) -> Iterator[subprocess.Popen[bytes]]:
    """Start a server process, wait until its readiness URL answers, and always stop it."""
    with log.open("wb") as out:
        process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
    try:

        def probe() -> bool:
            if process.poll() is not None:
                pytest.fail(f"{args[0]} exited with {process.returncode}:\n{log.read_text()[-3000:]}")
            return _ready(ready_url)

        wait_for(probe, timeout, f"{args[0]} at {ready_url}")
        yield process
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


class Prometheus:
    """A thin client of the Prometheus HTTP API."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url

    def query(self, expr: str) -> list[dict[str, Any]]:
        body = get_json(self.base_url + "/api/v1/query", {"query": expr})
        assert body["status"] == "success", body
        return list(body["data"]["result"])

    def label_values(self, label: str, match: str) -> list[str]:
        body = get_json(self.base_url + f"/api/v1/label/{label}/values", {"match[]": match})
        return list(body["data"])

    def alerts(self) -> list[dict[str, Any]]:
        return list(get_json(self.base_url + "/api/v1/alerts")["data"]["alerts"])
