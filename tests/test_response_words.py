"""A response span speaks the Responses API's words: no run vocabulary (``openai_cost.usage.scope``,
``openai_cost.usage.run_level.*``, ``assistants.*``), reported or estimated; runs keep theirs."""

from __future__ import annotations

from typing import Any

import pytest
from responses_helpers import MODEL, PRICES
from spanutil import attrs, one

RUN_WORDS = ("openai_cost.usage.scope", "openai_cost.usage.run_level.", "assistants.", "openai_cost.run.")


@pytest.mark.parametrize("script", ["cached", "text"])
def test_a_response_span_has_no_run_vocabulary(api: Any, otel: Any, script: str) -> None:
    otel.instrument(prices=PRICES)
    api(api.client.responses.create, model=MODEL, input="Hello there", metadata={"script": script})
    a = attrs(one(otel.spans(), "chat "))
    assert a["gen_ai.usage.input_tokens"] > 0 and a["openai_cost.input_tokens_usd"] > 0
    assert [key for key in a if key.startswith(RUN_WORDS)] == []


def test_a_run_without_step_usage_keeps_its_run_level_words(api: Any, otel: Any, fake_api: Any) -> None:
    from openai_fake_api import Say

    fake_api.scripts["one"] = [Say("Hi", usage=(40, 2))]
    otel.instrument(fetch_steps=False)
    assistant = api(api.client.beta.assistants.create, model="gpt-4o-mini", metadata={"script": "one"})
    api(api.client.beta.threads.create_and_run_poll, assistant_id=assistant.id)
    a = attrs(one(otel.spans(), "invoke_agent"))
    assert a["openai_cost.usage.scope"] == "run"
    assert (a["openai_cost.usage.run_level.input_tokens"], a["openai_cost.usage.run_level.output_tokens"]) == (40, 2)
