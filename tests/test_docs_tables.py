"""The documentation's reference tables are generated from the code (``docs/hooks/generated.py``, a MkDocs
hook): every option, metric and attribute appears, field metadata is honoured, and words about a name
the code no longer has fail the build."""

from __future__ import annotations

import dataclasses
import importlib.util
import shutil
import sys
from pathlib import Path
from types import ModuleType
from typing import Any, Optional

import pytest
from mkdocs.exceptions import PluginError

from opentelemetry.instrumentation.openai_assistants import config, semconv
from opentelemetry.instrumentation.openai_assistants.metrics import Instruments

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def hook() -> ModuleType:
    spec = importlib.util.spec_from_file_location("docs_generated", ROOT / "docs" / "hooks" / "generated.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_every_option_has_a_row_with_its_environment_spelling(hook: ModuleType) -> None:
    table = hook.options_table()
    for f in dataclasses.fields(config.Settings):
        if f.name != "capture_content":
            assert f"| `{f.name}` | `{config.ENV_PREFIX}{f.name.upper()}` |" in table
    assert config.ENV_CAPTURE_CONTENT in table
    rows = [line for line in table.splitlines() if line.startswith("| `")]
    assert all(line.split(" | ")[-1].strip(" |") for line in rows), "an option without words"


def test_field_metadata_gives_the_words_and_the_bounds(hook: ModuleType, monkeypatch: pytest.MonkeyPatch,
                                                      tmp_path: Path) -> None:
    @dataclasses.dataclass
    class Settings:
        capture_content: bool = False
        fetch_timeout_s: float = dataclasses.field(default=5.0, metadata={"doc": "how long a read may take",
                                                                           "min": 0.1, "max": 60})
        fetch_queue_size: int = dataclasses.field(default=1000, metadata={"min": 1})
        redis_url: Optional[str] = None

    monkeypatch.setattr(config, "Settings", Settings)
    (tmp_path / "options.yml").write_text("{}")
    monkeypatch.setattr(hook, "HERE", tmp_path)
    table = hook.options_table()
    assert "| `fetch_timeout_s` | `OTEL_INSTRUMENTATION_OPENAI_ASSISTANTS_FETCH_TIMEOUT_S` | `float` | 0.1 … 60 | " \
           "`5.0` | how long a read may take |" in table
    assert "| `fetch_queue_size` | `OTEL_INSTRUMENTATION_OPENAI_ASSISTANTS_FETCH_QUEUE_SIZE` | `int` | ≥ 1 |" in table
    assert "| `redis_url` |" in table and "| none |" in table


def test_every_instrument_is_in_the_metrics_table_with_its_prometheus_name(hook: ModuleType) -> None:
    created: list[str] = []

    class Meter:
        def __getattr__(self, name: str) -> Any:
            return lambda metric, *a, **k: created.append(metric)

    Instruments(Meter())  # type: ignore[arg-type]
    table = hook.metrics_table("metrics")
    assert created and all(f"| `{name}` |" in table for name in created)
    assert "`openai_cost_spend_USD_total`" in table
    assert "`gen_ai_client_operation_duration_seconds_bucket`" in table
    assert "`gen_ai_client_token_usage_bucket`" in table  # a unit in braces adds nothing


def test_every_span_attribute_of_semconv_is_in_the_table(hook: ModuleType) -> None:
    table = hook.TABLES["span-attributes"]()
    for value in (getattr(semconv, name) for name in dir(semconv) if name.isupper() and "METRIC_" not in name):
        if isinstance(value, str) and hook._NAME.match(value) and not value.startswith("azure."):
            assert f"`{value}`" in table or value in hook.TABLES["metric-labels"](), value


def test_words_about_a_name_the_code_lacks_fail_the_build(hook: ModuleType, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("attributes.yml", "metric_labels.yml", "options.yml"):
        shutil.copy(ROOT / "docs" / "hooks" / name, tmp_path / name)
    (tmp_path / "attributes.yml").write_text((tmp_path / "attributes.yml").read_text().replace(
        "names: [assistants.run.steps]", "names: [assistants.run.step_count]"))
    monkeypatch.setattr(hook, "HERE", tmp_path)
    with pytest.raises(PluginError, match=r"assistants\.run\.step_count"):
        hook.TABLES["span-attributes"]()


def test_a_page_naming_an_unknown_table_fails_the_build(hook: ModuleType) -> None:
    page = type("Page", (), {"file": type("File", (), {"src_path": "x.md"})()})()
    with pytest.raises(PluginError, match="no generated table"):
        hook.on_page_markdown("<!-- generated: nonsense -->\n", page)
    assert "| `gen_ai.client.token.usage` |" in hook.on_page_markdown("<!-- generated: metrics -->\n", page)
