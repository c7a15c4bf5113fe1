"""The shape of the package: no API front end imports another's internals (issue 18 item 9)."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src/opentelemetry/instrumentation/openai_assistants"
FRONT_ENDS = ("assistants", "responses")


@pytest.mark.parametrize("front_end", FRONT_ENDS)
def test_a_front_end_imports_no_other_front_end(front_end: str) -> None:
    others = {f for f in FRONT_ENDS if f != front_end}
    found = []
    for path in sorted((PACKAGE / front_end).glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level >= 2 and (node.module or "").split(".")[0] in others:
                found.append(f"{path.name}: from {'.' * node.level}{node.module}")
    assert found == []


def test_the_container_read_parses_raw_json_through_the_apps_client(api: Any, otel: Any) -> None:
    otel.instrument()
    container = api(api.client.containers.create, name="work", memory_limit="4g")
    read = otel.instrumentor._hosted.retrieve(api.client, container.id)
    assert type(read) is dict
    assert (read["id"], read["memory_limit"]) == (container.id, "4g")
