"""What this installation would do, said before any app runs.

    python -m opentelemetry.instrumentation.openai_assistants

Reads only local facts (installed packages, the shipped price files, ``OTEL_*`` and tiktoken's
environment); never patches the SDK, never opens a connection.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from importlib import metadata, resources
from typing import Optional

from .accounting.tokens import CL100K, O200K, _cache_dir, cached_file

PRICE_FILES = ("code_interpreter.json", "containers.json", "token_modifiers.json", "tool_fees.json", "aliases.json")
ENCODINGS = (O200K, CL100K)


def _version(distribution: str) -> Optional[str]:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def _dates(node: object) -> Iterator[str]:
    """Every ``effective_from`` in a price file, however deep."""
    if isinstance(node, Mapping):
        for key, value in node.items():
            if key == "effective_from" and isinstance(value, str):
                yield value
            else:
                yield from _dates(value)
    elif isinstance(node, list):
        for item in node:
            yield from _dates(item)


def price_data_date() -> Optional[str]:
    """The newest dated entry of the shipped price files: how recent our own price data is."""
    folder = resources.files(__package__) / "accounting" / "prices"
    dates: list[str] = []
    for name in PRICE_FILES:
        try:
            dates.extend(_dates(json.loads((folder / name).read_text())))
        except (OSError, ValueError):
            continue
    return max(dates) if dates else None


def _signal_destination(signal: str, env: Mapping[str, str]) -> str:
    """Where ``opentelemetry-instrument`` would send one signal, read as the OpenTelemetry SDK reads it."""
    exporters = env.get(f"OTEL_{signal.upper()}_EXPORTER", "otlp").strip() or "otlp"
    if exporters == "none":
        return "nowhere (none)"
    if "otlp" not in exporters.split(","):
        return exporters
    protocol = env.get(f"OTEL_EXPORTER_OTLP_{signal.upper()}_PROTOCOL") or env.get(
        "OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
    path = "" if protocol == "grpc" else f"/v1/{signal}"  # over HTTP the SDK adds the signal's path
    own = env.get(f"OTEL_EXPORTER_OTLP_{signal.upper()}_ENDPOINT")
    common = env.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    default = "http://localhost:4317" if protocol == "grpc" else "http://localhost:4318"
    shown = own or (common.rstrip("/") + path if common else
                    f"{default}{path} (the default: no OTEL_EXPORTER_OTLP_ENDPOINT)")
    return f"{exporters} over {protocol} to {shown}"


def _hooks() -> tuple[Optional[str], list[str], int]:
    """The openai SDK's version, the hook points it lacks, and how many there are."""
    from . import _PATCHES, _missing_hook_points

    return _version("openai"), _missing_hook_points(), len(_PATCHES)


def report(env: Optional[Mapping[str, str]] = None) -> list[str]:
    """The self-check's lines, in the order a user asks the questions."""
    from .version import __version__

    env = os.environ if env is None else env
    sdk, missing, points = _hooks()
    lines = [f"opentelemetry-instrumentation-openai-assistants {__version__}"]
    if sdk is None:
        lines.append("openai SDK: not installed (pip install openai): nothing to instrument")
    elif missing:
        lines.append(f"openai SDK: {sdk}; hook points missing: {', '.join(missing)} "
                     "(instrument() would log a warning and stay a no-op)")
    else:
        lines.append(f"openai SDK: {sdk}; all {points} hook points present")
    genai_prices = _version("genai-prices")
    lines.append(f"prices: shipped data dated up to {price_data_date() or '?'}; "
                 f"model token prices from genai-prices {genai_prices or 'not installed'}")
    service = env.get("OTEL_SERVICE_NAME") or "unknown_service (OTEL_SERVICE_NAME unset)"
    lines.append(f"service name: {service}")
    lines.append(f"spans: {_signal_destination('traces', env)}")
    lines.append(f"metrics: {_signal_destination('metrics', env)}")
    lines.append("  (as opentelemetry-instrument would configure them; instrument(tracer_provider=..., "
                 "meter_provider=...) uses the providers you pass)")
    lines.extend(_tiktoken_lines(env))
    return lines


def _tiktoken_lines(env: Mapping[str, str]) -> list[str]:
    directory = _cache_dir()
    source = ("TIKTOKEN_CACHE_DIR" if "TIKTOKEN_CACHE_DIR" in env
              else "DATA_GYM_CACHE_DIR" if "DATA_GYM_CACHE_DIR" in env else "tiktoken's default")
    found = {name: cached_file(name) for name in ENCODINGS}
    present = [name for name, path in found.items() if path]
    lines = [f"tiktoken: looked in {directory} ({source}); found: {', '.join(present) or 'none'}"]
    absent = [name for name in ENCODINGS if name not in present]
    if absent:
        lines.append(f"  missing {', '.join(absent)}: estimates will be approximate (marked degraded) unless "
                     "tiktoken can download them; set TIKTOKEN_CACHE_DIR to a directory holding its files")
    return lines


def main() -> int:
    print("\n".join(report()))
    return 0
