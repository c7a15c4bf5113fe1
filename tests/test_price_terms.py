"""A response's price terms, decided once (accounting/terms.py) and priced on the production path:
the client's host -> regional processing, the completion window only with its preconditions, the
served tier. Expected dollars are worked by hand from this override table (USD per 1M tokens):

gpt-5.6-hand (a GPT-5.6 model, so the regional rule for GPT-5.4 and later applies):
input 2, cached 0.50, cache write 2.50, output 8. The fake's "cached" response reports 2,000 input
tokens (1,200 cached reads, 500 cache writes, so 300 ordinary) and 300 output tokens:
standard: 300 x 2 = $0.0006; 1,200 x 0.5 = $0.0006; 500 x 2.5 = $0.00125; 300 x 8 = $0.0024.
"""

from __future__ import annotations

from typing import Any, Optional

import pytest
from regional import driver
from responses_helpers import drain, total
from spanutil import attrs, one

from opentelemetry.instrumentation.openai_assistants.accounting.terms import TermFacts, decide, response_terms
from opentelemetry.instrumentation.openai_assistants.model import PriceTerms, Response, ResponseRequest

REGIONAL_MODEL = "gpt-5.6-hand"
OLDER_MODEL = "gpt-hand"  # not a GPT-5.4-or-later name: no regional uplift
RATES = {"input_per_1m": "2", "output_per_1m": "8", "cached_input_per_1m": "0.5", "cache_write_per_1m": "2.5"}
PRICES = {"models": {REGIONAL_MODEL: RATES, OLDER_MODEL: RATES}}
STANDARD = {"input_tokens": 0.0006, "cached_input_tokens": 0.0006, "cache_write_tokens": 0.00125,
            "output_tokens": 0.0024}
# +10%: 300 x 2.2 = $0.00066; 1,200 x 0.55 = $0.00066; 500 x 2.75 = $0.001375; 300 x 8.8 = $0.00264.
REGIONAL = {"input_tokens": 0.00066, "cached_input_tokens": 0.00066, "cache_write_tokens": 0.001375,
            "output_tokens": 0.00264}
# 8h window, 40% off: 300 x 1.2 = $0.00036; 1,200 x 0.3 = $0.00036; 500 x 1.5 = $0.00075; 300 x 4.8 = $0.00144.
EIGHT_HOURS = {"input_tokens": 0.00036, "cached_input_tokens": 0.00036, "cache_write_tokens": 0.00075,
               "output_tokens": 0.00144}
# flex at Batch rates (half), no window discount: $0.0003; $0.0003; $0.000625; $0.0012.
FLEX = {"input_tokens": 0.0003, "cached_input_tokens": 0.0003, "cache_write_tokens": 0.000625,
        "output_tokens": 0.0012}


@pytest.fixture(params=["sync", "async"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def respond(kind: str, fake_api: Any, host: str, model: str, **kwargs: Any) -> Any:
    """One response through a client addressed to ``host`` ("fake": the fake's own address), followed
    to its end: a background one polled, a streamed one read."""
    api = driver(kind, fake_api.base_url, host)
    try:
        created = api(api.client.responses.create, model=model, input="Hello", metadata={"script": "cached"},
                      **kwargs)
        if kwargs.get("stream"):
            return drain(api, created)[-1].response
        response = created
        while response.status in ("queued", "in_progress"):
            response = api(api.client.responses.retrieve, created.id)
        return response
    finally:
        api.close()


def dollars(otel: Any) -> tuple[dict[str, float], dict[str, float]]:
    """Token dollars by kind on the response's span and on the spend counter."""
    a = attrs(one(otel.spans(), "chat "))
    span = {k: a[f"openai_cost.{k}_usd"] for k in STANDARD}
    counter = {k: total(otel, "openai_cost.spend", **{"openai.api.type": "responses", "openai_cost.kind": k})
               for k in STANDARD}
    return span, counter


def assert_priced(otel: Any, expected: dict[str, float]) -> None:
    span, counter = dollars(otel)
    for k, usd in expected.items():
        assert span[k] == pytest.approx(usd, rel=1e-12), k
        assert counter[k] == pytest.approx(usd, rel=1e-12), k


# --- defect 5: regional processing, from the client's host to the dollars -------------------------

@pytest.mark.parametrize("host", ["eu.api.openai.com", "us.api.openai.com", "jp.api.openai.com"])
def test_a_client_on_a_regional_host_pays_the_regional_uplift(otel: Any, fake_api: Any, kind: str,
                                                               host: str) -> None:
    otel.instrument(prices=PRICES)
    respond(kind, fake_api, host, REGIONAL_MODEL)
    assert attrs(one(otel.spans(), "chat "))["server.address"] == host
    assert_priced(otel, REGIONAL)
    assert "regional" in attrs(one(otel.spans(), "chat "))["openai_cost.price.modifiers"].split(",")


def test_the_global_host_and_older_models_pay_no_uplift(otel: Any, fake_api: Any, kind: str) -> None:
    otel.instrument(prices=PRICES)
    respond(kind, fake_api, "api.openai.com", REGIONAL_MODEL)
    respond(kind, fake_api, "eu.api.openai.com", OLDER_MODEL)  # released before 2026-03-05
    spend = {k: total(otel, "openai_cost.spend", **{"openai.api.type": "responses", "openai_cost.kind": k})
             for k in STANDARD}
    assert spend == pytest.approx({k: 2 * v for k, v in STANDARD.items()}, rel=1e-12)


def test_a_data_residency_project_on_the_global_host_is_told_by_a_setting(otel: Any, fake_api: Any,
                                                                          kind: str) -> None:
    otel.instrument(prices=PRICES, regional_processing=True)
    respond(kind, fake_api, "fake", REGIONAL_MODEL)
    assert_priced(otel, REGIONAL)


def test_regional_hosts_are_data_an_override_can_extend(otel: Any, fake_api: Any, kind: str) -> None:
    otel.instrument(prices={**PRICES, "token_modifiers": {"regional_hosts": {"hosts": ["openai.eu-gw.example"]}}})
    respond(kind, fake_api, "openai.eu-gw.example", REGIONAL_MODEL)
    assert_priced(otel, REGIONAL)


# --- defect 8: the completion window needs background, no stream, the standard tier ---------------

@pytest.mark.parametrize(("options", "expected"), [
    ({"background": True}, EIGHT_HOURS),  # eligible: 40% off
    ({}, STANDARD),  # not background
    ({"background": True, "stream": True}, STANDARD),  # streamed
    ({"background": True, "service_tier": "flex"}, FLEX),  # served at flex: flex rates, no window discount
], ids=["background", "foreground", "streamed", "flex"])
def test_the_window_discount_only_with_its_preconditions(otel: Any, fake_api: Any, kind: str,
                                                        options: dict[str, Any], expected: dict[str, float]) -> None:
    otel.instrument(prices=PRICES)
    respond(kind, fake_api, "fake", OLDER_MODEL, background_options={"completion_window": "8h"}, **options)
    assert_priced(otel, expected)
    modifiers = attrs(one(otel.spans(), "chat ")).get("openai_cost.price.modifiers", "")
    assert ("window:8h" in modifiers.split(",")) is (expected is EIGHT_HOURS)


# --- the decision itself ------------------------------------------------------------------------------

def facts(**changes: Any) -> TermFacts:
    base: dict[str, Any] = {"served_tier": "default", "completion_window": "2h", "background": True, "stream": False,
                            "host": "api.openai.com", "regional_hosts": frozenset({"eu.api.openai.com"}),
                            "regional_setting": False}
    return TermFacts(**{**base, **changes})


@pytest.mark.parametrize(("changes", "window", "waived"), [
    ({}, "2h", None),
    ({"served_tier": "auto"}, "2h", None),
    ({"served_tier": None}, "2h", None),
    ({"background": False}, None, "background"),
    ({"stream": True}, None, "not streamed"),
    ({"served_tier": "priority"}, None, "standard tier"),
    ({"background": False, "stream": True, "served_tier": "flex"}, None, "background, not streamed, standard tier"),
    ({"completion_window": "soonest", "background": False}, "soonest", None),
])
def test_window_preconditions(changes: dict[str, Any], window: Optional[str], waived: Optional[str]) -> None:
    terms = decide(facts(**changes))
    assert terms.completion_window == window
    assert (terms.window_waived or "").endswith(waived or "") and (terms.window_waived is None) is (waived is None)


def test_the_served_tier_wins_over_the_requested_one() -> None:
    request = ResponseRequest(service_tier="priority", background=True, completion_window="8h")
    served = response_terms(request, Response(id="r", status="completed", service_tier="default"), None)
    assert served == PriceTerms(service_tier="default", completion_window="8h")
    unnamed = response_terms(request, Response(id="r", status="failed"), "EU.api.openai.com.",
                             frozenset({"eu.api.openai.com"}))
    assert unnamed.service_tier == "priority" and unnamed.completion_window is None and unnamed.regional
