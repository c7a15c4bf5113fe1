"""Readers of hosted-tool facts: SDK models and plain dicts, any shape, never an exception."""

from __future__ import annotations

from typing import Any

import pytest
from openai.types import ContainerCreateResponse
from openai.types.responses import ResponseCodeInterpreterToolCall, ResponseFunctionWebSearch

from opentelemetry.instrumentation.openai_assistants.model import Container, ImageGenUsage
from opentelemetry.instrumentation.openai_assistants.responses.hosted_observe import (
    NamedContainer,
    RequestTools,
    container_from_object,
    containers_named,
    request_tools,
    response_time,
    tool_usage,
)

CONTAINER = {"id": "cntr_1", "object": "container", "created_at": 100, "name": "n", "status": "running",
             "expires_after": {"anchor": "last_active_at", "minutes": 30}, "last_active_at": 160,
             "memory_limit": "4g"}


@pytest.mark.parametrize("shape", ["dict", "sdk"])
def test_container_object(shape: str) -> None:
    obj: Any = CONTAINER if shape == "dict" else ContainerCreateResponse.model_validate(CONTAINER)
    assert container_from_object(obj) == Container(
        "cntr_1", memory_limit="4g", created_at=100, last_active_at=160, expires_after_minutes=30, observed=True
    )


def test_containers_named_by_code_and_shell_calls() -> None:
    code = ResponseCodeInterpreterToolCall.model_validate(
        {"id": "ci_1", "type": "code_interpreter_call", "code": "1+1", "container_id": "cntr_a",
         "outputs": None, "status": "completed"}
    )
    reference = {"type": "container_reference", "container_id": "cntr_b"}
    shell = {"id": "sh_1", "type": "shell_call", "environment": reference}
    local = {"id": "sh_2", "type": "shell_call", "environment": {"type": "local"}}
    assert containers_named([{"type": "message"}, code, shell, local]) == [
        NamedContainer("cntr_a", "ci_1", "code_interpreter_call"),
        NamedContainer("cntr_b", "sh_1", "shell_call"),
    ]


def test_request_tools() -> None:
    tools = [
        {"type": "code_interpreter", "container": {"type": "auto", "memory_limit": "16g"}},
        {"type": "code_interpreter", "container": "cntr_x"},
        {"type": "shell", "environment": {"type": "container_reference", "container_id": "cntr_y"}},
        {"type": "web_search_preview_2025_03_11"},
        {"type": "image_generation", "model": "gpt-image-1-mini"},
    ]
    assert request_tools(tools) == RequestTools(True, "16g", ("cntr_x", "cntr_y"), "web_search_preview",
                                                "gpt-image-1-mini")
    assert request_tools([{"type": "code_interpreter"}]).auto_container  # no container: auto


def test_tool_usage_from_reported_counts_and_items() -> None:
    search = ResponseFunctionWebSearch.model_validate(
        {"id": "ws_1", "type": "web_search_call", "status": "completed", "action": {"type": "search", "query": "q"}}
    )
    response = {
        "created_at": 10, "completed_at": 20,
        "tool_usage": {"web_search": {"num_requests": 3},
                       "image_gen": {"input_tokens": 100, "output_tokens": 50, "total_tokens": 150,
                                     "input_tokens_details": {"image_tokens": 40, "text_tokens": 60}}},
        "output": [search, {"type": "web_search_call", "action": {"type": "open_page"}},
                   {"type": "file_search_call"}, {"type": "file_search_call"}, {"type": "mcp_call"}],
    }
    usage = tool_usage(response, RequestTools(web_search_tool="web_search"))
    assert usage.web_search_requests == 3
    assert usage.web_search_actions == {"search": 1, "open_page": 1}
    assert usage.file_search_calls == 2 and usage.other_calls == {"mcp_call": 1}
    assert usage.image_gen == ImageGenUsage(100, 50, input_image_tokens=40)
    assert response_time(response) == 20
    bare = tool_usage({"output": [search]}, RequestTools())
    assert bare.web_search_requests is None and bare.web_search_actions == {"search": 1}


@pytest.mark.parametrize("junk", [None, 3, "x", [1, None], {"output": 5}, {"tool_usage": "?"}, object()])
def test_bad_input_gives_best_effort_records(junk: Any) -> None:
    assert container_from_object(junk) is None
    assert containers_named(junk) == [] or isinstance(junk, list)
    request_tools(junk)
    tool_usage(junk, RequestTools())
    response_time(junk)
