#!/usr/bin/env bash
# Runs the whole test suite, installing what it needs first:
#   - Python packages in a virtualenv (.venv, or $VENV);
#   - the real servers the tests start (Debian packages): when run as root they are installed with
#     apt-get, otherwise the script names exactly what to install and stops.
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -k stream`.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}
DEBIAN_PACKAGES=(prometheus prometheus-alertmanager redis-server)
BINARIES=(prometheus promtool prometheus-alertmanager amtool redis-server)

missing=()
for bin in "${BINARIES[@]}"; do command -v "$bin" >/dev/null 2>&1 || missing+=("$bin"); done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "== installing Debian packages: ${DEBIAN_PACKAGES[*]}"
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${DEBIAN_PACKAGES[@]}" >/dev/null
  else
    echo "The tests start real servers; missing: ${missing[*]}." >&2
    echo "Install them with: sudo apt-get install ${DEBIAN_PACKAGES[*]}" >&2
    exit 2
  fi
fi

if [ ! -x "$VENV/bin/python" ]; then
  echo "== creating $VENV"
  "$PYTHON" -m venv "$VENV"
fi
echo "== installing Python packages"
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q -e ".[test,docs]"
# The fake OpenAI API is a distribution of its own: installed as a user installs it, its pytest plugin
# loads through its entry point.
"$VENV/bin/python" -m pip install -q -e ./openai-fake-api

# tiktoken's encodings: TIKTOKEN_CACHE_DIR, else ../shared/tiktoken-cache, else tiktoken's download;
# when none works, the helper says exactly what to do and the tests do not start.
if ! cache="$("$VENV/bin/python" scripts/tiktoken_cache.py)"; then
  exit 1
fi
export TIKTOKEN_CACHE_DIR="$cache"

echo "== ruff"
"$VENV/bin/ruff" check src tests openai-fake-api examples benchmarks scripts docs/hooks
echo "== mypy"
"$VENV/bin/mypy"
echo "== mkdocs"
NO_MKDOCS_2_WARNING=1 "$VENV/bin/mkdocs" build --strict --quiet --site-dir "$(mktemp -d)"
echo "== pytest"
"$VENV/bin/python" -m pytest -q -p no:cacheprovider "$@"
