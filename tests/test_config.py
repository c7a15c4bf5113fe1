"""Configuration mistakes are loud: one warning naming the option, the value given and the value used;
every setting documents its bounds next to it (dataclass field metadata, read by the docs)."""

from __future__ import annotations

import logging
from dataclasses import fields
from typing import Any

import pytest

from opentelemetry.instrumentation.openai_assistants.config import ENV_PREFIX, Settings, bounds

LOGGER = "opentelemetry.instrumentation.openai_assistants.config"


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER and r.levelno == logging.WARNING]


@pytest.mark.parametrize(("options", "environ", "name", "given", "used"), [
    ({"fetch_timout_s": 3}, {}, "fetch_timout_s", "3", "fetch_timeout_s"),  # misspelt: what it meant
    ({}, {ENV_PREFIX + "FETCH_CONCURRENCY": "four"}, "FETCH_CONCURRENCY", "'four'", "2"),
    ({}, {ENV_PREFIX + "FETCH_STEPS": "maybe"}, "FETCH_STEPS", "'maybe'", "True"),
    ({}, {ENV_PREFIX + "FETCH_TIMEOUT_S": "nan"}, "FETCH_TIMEOUT_S", "'nan'", "5.0"),
    ({"estimate_sample_rate": 1.5}, {}, "estimate_sample_rate", "1.5", "1.0"),
    ({}, {ENV_PREFIX + "FETCH_CONCURRENCY": "0"}, "fetch_concurrency", "0", "1"),
    ({"fetch_queue_size": "lots"}, {}, "fetch_queue_size", "'lots'", "1000"),
    ({"container_sessions": "idle"}, {}, "container_sessions", "'idle'", "'life'"),
    ({}, {"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "spans"}, "CAPTURE_MESSAGE_CONTENT", "'spans'",
     "false"),
], ids=["misspelt-keyword", "env-not-a-number", "env-not-a-boolean", "env-nan", "above-max", "env-below-min",
        "keyword-wrong-type", "not-a-choice", "env-content-switch"])
def test_one_warning_names_the_option_the_value_given_and_the_value_used(
    caplog: pytest.LogCaptureFixture, options: dict[str, Any], environ: dict[str, str], name: str, given: str,
    used: str,
) -> None:
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        Settings.load(options, environ)
    found = warnings_of(caplog)
    assert len(found) == 1, found
    assert name in found[0] and given in found[0] and used in found[0], found[0]


def test_values_used_are_the_clamped_or_default_ones() -> None:
    settings = Settings.load({"estimate_sample_rate": 1.5, "fetch_queue_size": "lots", "fetch_timeout_s": 7},
                             {ENV_PREFIX + "FETCH_CONCURRENCY": "0", ENV_PREFIX + "MAX_TRACKED_RUNS": "12"})
    assert settings.estimate_sample_rate == 1.0 and settings.fetch_queue_size == 1000
    assert settings.fetch_concurrency == 1 and settings.max_tracked_runs == 12
    assert settings.fetch_timeout_s == 7  # an int for a float setting is fine, and silent


def test_good_configuration_is_quiet(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        Settings.load({"tracer_provider": object(), "skip_dep_check": True, "session_idle_s": None,
                       "metadata_keys": ("team",), "prices": {"models": {}}},
                      {ENV_PREFIX + "FETCH_STEPS": "false", ENV_PREFIX + "SESSION_IDLE_S": "600",
                       ENV_PREFIX + "METADATA_KEYS": "team,app"})
    assert warnings_of(caplog) == []


def test_a_misspelt_keyword_through_instrument_warns(otel: Any, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        otel.instrument(trace_observed_run=True)
    assert any("trace_observed_run=True" in w and "trace_observed_runs" in w for w in warnings_of(caplog))


def test_every_setting_documents_itself_and_its_bounds() -> None:
    for f in fields(Settings):
        assert set(f.metadata) <= {"doc", "min", "max", "env"}, f.name
        assert f.metadata["doc"] and isinstance(f.metadata["env"], bool), f.name
        low, high = bounds(f.name)
        assert low is None or high is None or low <= high
    assert bounds("estimate_sample_rate") == (0.0, 1.0)
    assert bounds("prices") == (None, None)
