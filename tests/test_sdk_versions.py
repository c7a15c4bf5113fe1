"""The instrumentation on the installed openai SDK (the suite runs on openai 3.x and again on 2.x): every
hook point is present and patched, streams find their request on either major, and the public names."""

from __future__ import annotations

import importlib
from importlib import metadata
from typing import Any

import openai
import pytest
import sdk
from packaging.requirements import Requirement
from responses_helpers import MODEL, PRICES, drain
from spanutil import attrs, one

import opentelemetry.instrumentation.openai_assistants as package
from openai_fake_api import responses_api, validate
from opentelemetry.instrumentation.openai_assistants import AssistantsInstrumentor, OpenAISpendInstrumentor


def _hook_points() -> list[tuple[Any, str]]:
    return [(package._hook_owner(module, name), name.split(".")[1]) for module, name, _ in package._PATCHES]


def test_every_hook_point_is_present_patched_and_restored(otel: Any) -> None:
    assert package._missing_hook_points() == []
    points = _hook_points()
    assert len(points) == 6 and all(owner is not None for owner, _ in points)
    originals = [vars(owner)[attr] for owner, attr in points]
    otel.instrument()
    for (owner, attr), original in zip(points, originals, strict=True):
        patched = vars(owner)[attr]
        assert patched is not original and patched.__wrapped__ is original, f"{owner.__name__}.{attr}"
    otel.instrumentor.uninstrument()
    assert [vars(owner)[attr] for owner, attr in points] == originals


def test_this_sdk_is_in_the_supported_range() -> None:
    (requirement,) = [Requirement(r) for r in OpenAISpendInstrumentor().instrumentation_dependencies()]
    assert requirement.name == "openai" and requirement.specifier.contains(openai.__version__)
    assert sdk.MAJOR in (2, 3)


def test_stream_hook_knows_where_this_sdk_keeps_a_streams_request() -> None:
    # openai >= 2.22 gives each stream its request options; older ones build streams in ``_parse`` without them.
    assert package._streams_carry_options() is not sdk.older_than("2.22")


@pytest.mark.parametrize("form", ["create", "raw_response", "streaming_response"])
def test_a_stream_parsed_in_every_form_is_one_priced_span(api: Any, otel: Any, form: str) -> None:
    otel.instrument(prices=PRICES)
    responses = api.client.responses
    request = {"model": MODEL, "input": "Hello", "stream": True, "metadata": {"script": "cached"}}
    if form == "create":
        events = drain(api, api(responses.create, **request))
    elif form == "raw_response":
        raw = api(responses.with_raw_response.create, **request)
        events = drain(api, api.wait(raw.parse()))  # the stream is built here, after the request returned
    else:
        events = api.wait(_read_streaming_response(api, responses.with_streaming_response.create(**request)))
    assert events[-1].type == "response.completed"
    a = attrs(one(otel.spans(), "chat "))
    assert (a["gen_ai.usage.input_tokens"], a["gen_ai.usage.output_tokens"]) == (2000, 300)
    assert a["openai_cost.usage.source"] == "reported" and a["openai_cost.rollup.total_usd"] > 0


def _read_streaming_response(api: Any, manager: Any) -> Any:
    if api.kind == "sync":
        with manager as response:
            return list(response.parse())

    async def read() -> Any:
        async with manager as response:
            return [event async for event in await response.parse()]

    return read()


def test_a_parameter_this_sdk_lacks_is_priced_when_sent_as_extra_body(api: Any, otel: Any) -> None:
    # background_options came with openai 3.x; an app on 2.x sends it with extra_body, and it still prices.
    otel.instrument(prices=PRICES)
    created = api(api.client.responses.create, model=MODEL, input="Hi", background=True,
                  metadata={"script": "cached"}, extra_body={"background_options": {"completion_window": "8h"}})
    response = created
    while response.status in ("queued", "in_progress"):
        response = api(api.client.responses.retrieve, created.id)
    a = attrs(one(otel.spans(), "chat "))
    assert "window:8h" in a["openai_cost.price.modifiers"].split(",")  # a standard-tier background request


def test_the_public_name_is_the_first_name_itself() -> None:
    assert OpenAISpendInstrumentor is AssistantsInstrumentor  # an alias, not a subclass
    assert OpenAISpendInstrumentor() is AssistantsInstrumentor()  # BaseInstrumentor's singleton stays one
    assert {"OpenAISpendInstrumentor", "AssistantsInstrumentor"} <= set(package.__all__)
    assert "OpenAIInstrumentor" not in vars(package)  # the official and OpenLLMetry packages' name
    ours = [ep for ep in metadata.entry_points(group="opentelemetry_instrumentor")
            if ep.value.startswith("opentelemetry.instrumentation.openai_assistants")]
    assert [ep.name for ep in ours] == ["openai_assistants"]
    assert ours[0].load() is OpenAISpendInstrumentor


@pytest.mark.openai_min("3", "the fake's allowances for older SDKs are checked against openai 3.x's models")
def test_keys_let_through_for_older_sdks_are_the_newest_sdks() -> None:
    for path, keys in validate.NEWER_KEYS.items():
        module, _, name = path.rpartition(".")
        model = getattr(importlib.import_module(module), name)
        assert keys <= set(model.model_fields), path
    for kind, params in responses_api.NEWER_PARAMS.items():
        assert params <= responses_api.ALLOWED[kind], kind
    events = validate._event_models(validate.ResponseStreamEvent)
    for event, keys in validate.DROPPED_KEYS.items():
        assert not set(keys) & set(events[event].model_fields), event
