from __future__ import annotations

import logging
import math

import pytest
import tiktoken

from opentelemetry.instrumentation.openai_assistants.accounting.tokens import (
    APPROXIMATE,
    CL100K,
    O200K,
    TokenCounter,
    cached_file,
    encoding_name_for,
)


@pytest.mark.parametrize(
    ("model", "encoding"),
    [
        ("gpt-4o", O200K),
        ("gpt-4o-mini-2024-07-18", O200K),
        ("gpt-4.1-nano", O200K),
        ("gpt-5", O200K),
        ("o1", O200K),
        ("o3-mini", O200K),
        ("o4-mini", O200K),
        ("some-unknown-model", O200K),
        (None, O200K),
        ("gpt-4", CL100K),
        ("gpt-4-turbo", CL100K),
        ("gpt-4-turbo-preview", CL100K),
        ("gpt-4-1106-preview", CL100K),
        ("gpt-4-0613", CL100K),
        ("gpt-3.5-turbo-0125", CL100K),
        ("gpt-35-turbo", CL100K),
    ],
)
def test_encoding_by_model(model: str | None, encoding: str) -> None:
    assert encoding_name_for(model) == encoding


def test_counts_with_the_models_encoding(tiktoken_cache: object) -> None:
    counter = TokenCounter()
    text = "I need to solve the equation 3x + 11 = 14."
    for model, name in (("gpt-4-turbo-preview", CL100K), ("gpt-4o", O200K)):
        enc = counter.encoder(model)
        assert enc.name == name and not enc.degraded
        assert enc.count(text) == len(tiktoken.get_encoding(name).encode_ordinary(text))
    assert counter.count("", "gpt-4o") == 0


def test_special_tokens_in_user_text_are_text(tiktoken_cache: object) -> None:
    counter = TokenCounter()
    text = "quote <|endoftext|> and <|fim_prefix|> literally"
    assert counter.count(text, "gpt-4") == len(tiktoken.get_encoding(CL100K).encode_ordinary(text))


def test_no_encoding_degrades_with_one_warning(
    tmp_path: object, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))  # an empty cache: nothing to load
    assert cached_file(O200K) is None
    counter = TokenCounter()
    with caplog.at_level(logging.WARNING):
        counts = [counter.count("x" * 10, m) for m in ("gpt-4o", "gpt-4", "gpt-4o", "o3")]
    assert counts == [math.ceil(10 / 4)] * 4
    enc = counter.encoder("gpt-4o")
    assert enc.degraded and enc.name == APPROXIMATE
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "TIKTOKEN_CACHE_DIR" in warnings[0].getMessage()


def test_preload_loads_off_the_callers_thread(tiktoken_cache: object) -> None:
    counter = TokenCounter()
    thread = counter.preload(["gpt-4o", "gpt-4"])
    assert thread.daemon
    thread.join(30)
    assert not thread.is_alive()
    assert not counter.encoder("gpt-4o").degraded and not counter.encoder("gpt-4").degraded
