#!/usr/bin/env bash
# Runs the demo: a scripted assistant workload against a local simulated Assistants API (no API
# key, no network), traced and metered by the instrumentor, printed as a cost summary.
# Creates the virtualenv (.venv, or $VENV) on first use. Extra arguments go to the demo
# (--tree prints the span tree). Set OTEL_EXPORTER_OTLP_ENDPOINT to also export over OTLP.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}
if [ ! -x "$VENV/bin/python" ]; then
  echo "== creating $VENV" >&2
  "$PYTHON" -m venv "$VENV"
fi
if ! "$VENV/bin/python" -c "import opentelemetry.instrumentation.openai_assistants, openai_fake_api, openai" 2>/dev/null; then
  echo "== installing Python packages" >&2
  "$VENV/bin/python" -m pip install -q --upgrade pip
  "$VENV/bin/python" -m pip install -q -e ".[test]" -e ./openai-fake-api
fi
# tiktoken's encodings from TIKTOKEN_CACHE_DIR or ../shared/tiktoken-cache; without them the
# instrumentor tries tiktoken's download itself, and the summary says when estimates were approximate.
if cache="$("$VENV/bin/python" scripts/tiktoken_cache.py --no-download)"; then
  export TIKTOKEN_CACHE_DIR="$cache"
fi
exec "$VENV/bin/python" examples/demo.py "$@"
