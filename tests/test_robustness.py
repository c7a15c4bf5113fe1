"""Defects found by trying the instrumentor the way real services run: SDK drift, many short-lived
clients, environment settings, background lookups that fail. Each test drives the real SDK over HTTP
against the fake API where the defect is on that path."""

from __future__ import annotations

import logging
from typing import Any

import openai._base_client
import openai._legacy_response
import openai._response
import openai._streaming
from spanutil import named
from test_runs import start

from opentelemetry.instrumentation.openai_assistants import _PATCHES

_MODULES = {m.__name__: m for m in (openai._base_client, openai._response, openai._legacy_response,
                                    openai._streaming)}


def _patched_hook_points() -> list[str]:
    found = []
    for module, name, _ in _PATCHES:
        owner, attr = name.split(".")
        if hasattr(vars(getattr(_MODULES[module], owner)).get(attr), "__wrapped__"):
            found.append(name)
    return found


def test_an_sdk_missing_a_hook_point_is_left_untouched(api: Any, otel: Any, monkeypatch: Any,
                                                       caplog: Any) -> None:
    monkeypatch.delattr(openai._streaming.AsyncStream, "__stream__")
    with caplog.at_level(logging.WARNING):
        otel.instrument()
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "AsyncStream.__stream__" in warnings[0].getMessage()
    assert _patched_hook_points() == []  # all or none: the five present hook points stay as they were
    assistant, thread = start(api, "text")
    api(api.client.beta.threads.runs.create_and_poll, thread_id=thread.id, assistant_id=assistant.id)
    assert named(otel.spans(), "invoke_agent") == []
    otel.instrumentor.uninstrument()
    assert _patched_hook_points() == []
    monkeypatch.undo()
    otel.instrument()  # the same instrumentor works once the SDK matches
    assert len(_patched_hook_points()) == len(_PATCHES)
    otel.instrumentor.uninstrument()
    assert _patched_hook_points() == []
