"""What lines our metrics up with the bill: the client's project id as a label, sync and async."""

from __future__ import annotations

from typing import Any

from openai_fake_api import Code, FileSearch, Say
from tests.test_money import run_script

PROJECT = "proj_billing_a"


def _projects(otel: Any, name: str) -> set[Any]:
    return {p.attributes.get("openai_cost.project") for p in otel.metrics().get(name, [])}


def test_the_clients_project_labels_cost_tokens_sessions_and_tool_calls(api: Any, instrumented: Any,
                                                                         fake_api: Any) -> None:
    old, api.client = api.client, api.new_client(project=PROJECT)
    api.wait(old.close())
    run_script(api, fake_api, [Code("print(1)", logs=["1\n"], usage=(300, 20)), FileSearch(usage=(10, 2)),
                               Say("Done.", usage=(350, 5))],
               tools=[{"type": "code_interpreter"}, {"type": "file_search"}])
    for name in ("openai_cost.spend", "gen_ai.client.token.usage", "openai_cost.code_interpreter.sessions",
                 "openai_cost.tool_calls", "openai_cost.run.spend"):
        assert _projects(instrumented, name) == {PROJECT}, name


def test_no_project_no_label(api: Any, instrumented: Any, fake_api: Any) -> None:
    run_script(api, fake_api, [Say("Hi.", usage=(5, 1))])
    assert _projects(instrumented, "openai_cost.spend") == {None}
