"""Pytest fixtures for the fake API, loaded by pytest through the ``pytest11`` entry point once
``openai-fake-api`` is installed (no ``conftest.py`` line needed).

``fake_api`` is a started server per test (``fake_api.scripts``, ``fake_api.faults``,
``fake_api.requests`` to plan and inspect); ``fake_client`` an ``OpenAI`` client pointed at it.
"""

from __future__ import annotations

from typing import Any, Iterator, Union

import pytest
from openai import AsyncOpenAI, OpenAI

from .server import FakeAssistantsAPI


def make_client(
    fake_api: FakeAssistantsAPI, kind: str = "sync", **options: Any
) -> Union[OpenAI, AsyncOpenAI]:
    """An ``OpenAI`` (``kind="sync"``) or ``AsyncOpenAI`` (``kind="async"``) client for the fake API."""
    options.setdefault("api_key", "sk-test")
    options.setdefault("base_url", fake_api.base_url)
    if kind == "sync":
        return OpenAI(**options)
    if kind == "async":
        return AsyncOpenAI(**options)
    raise ValueError(f"kind must be 'sync' or 'async', not {kind!r}")


@pytest.fixture
def fake_api() -> Iterator[FakeAssistantsAPI]:
    """A started fake API; the test fails if the fake emitted any payload the SDK's models reject."""
    server = FakeAssistantsAPI().start()
    try:
        yield server
    finally:
        server.stop()
    assert not server.validation_errors, server.validation_errors


@pytest.fixture
def fake_client(fake_api: FakeAssistantsAPI) -> Iterator[OpenAI]:
    """A sync ``OpenAI`` client of ``fake_api``; use ``make_client(fake_api, "async")`` for the async one."""
    client = make_client(fake_api)
    assert isinstance(client, OpenAI)
    try:
        yield client
    finally:
        client.close()
