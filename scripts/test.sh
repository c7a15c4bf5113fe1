#!/usr/bin/env bash
# Runs the whole test suite twice, on openai 3.x and on openai 2.x, installing what it needs first:
#   - Python packages in two virtualenvs: .venv (or $VENV) with the newest openai 3.x and the frameworks that
#     need 3.x; .venv-openai2 (or $VENV_OPENAI2) with openai $OPENAI2 (default 2.20.0, the oldest 2.x the
#     frameworks accept and the floor we support) and llama-index, which needs openai < 3;
#   - the real servers the tests start (Debian packages): when run as root they are installed with
#     apt-get, otherwise the script names exactly what to install and stops.
# Extra arguments go to both pytest runs, e.g. `bash scripts/test.sh -k stream`. OPENAI_MAJORS="3" (or "2")
# runs one major only.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
VENV_OPENAI2=${VENV_OPENAI2:-.venv-openai2}
OPENAI2=${OPENAI2:-2.20.0}
OPENAI_MAJORS=${OPENAI_MAJORS:-3 2}
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

install() {  # install VENV EXTRAS [PINS...]
  local venv=$1 extras=$2
  shift 2
  if [ ! -x "$venv/bin/python" ]; then
    echo "== creating $venv"
    "$PYTHON" -m venv "$venv"
  fi
  echo "== installing Python packages in $venv"
  "$venv/bin/python" -m pip install -q --upgrade pip
  "$venv/bin/python" -m pip install -q -e ".[$extras]" "$@"
  # The fake OpenAI API is a distribution of its own: installed as a user installs it, its pytest plugin
  # loads through its entry point.
  "$venv/bin/python" -m pip install -q -e ./openai-fake-api
}
for major in $OPENAI_MAJORS; do
  case $major in
    3) install "$VENV" test,frameworks,peers,docs ;;
    2) install "$VENV_OPENAI2" test,frameworks-openai2,docs "openai==$OPENAI2" ;;
    *) echo "OPENAI_MAJORS: 2 and/or 3, not $major" >&2; exit 2 ;;
  esac
done
LINT_VENV=$VENV
[ -x "$VENV/bin/ruff" ] || LINT_VENV=$VENV_OPENAI2

# tiktoken's encodings: TIKTOKEN_CACHE_DIR, else ../shared/tiktoken-cache, else tiktoken's download;
# when none works, the helper says exactly what to do and the tests do not start.
if ! cache="$("$LINT_VENV/bin/python" scripts/tiktoken_cache.py)"; then
  exit 1
fi
export TIKTOKEN_CACHE_DIR="$cache"

echo "== ruff"
"$LINT_VENV/bin/ruff" check src tests openai-fake-api examples benchmarks scripts docs/hooks
echo "== mypy"
"$LINT_VENV/bin/mypy"
if [ -x "$LINT_VENV/bin/mkdocs" ]; then
  echo "== mkdocs"
  NO_MKDOCS_2_WARNING=1 "$LINT_VENV/bin/mkdocs" build --strict --quiet --site-dir "$(mktemp -d)"
fi
status=0
for major in $OPENAI_MAJORS; do
  venv=$VENV
  [ "$major" = 2 ] && venv=$VENV_OPENAI2
  echo "== pytest on openai $("$venv/bin/python" -c 'import openai; print(openai.__version__)')"
  "$venv/bin/python" -m pytest -q -p no:cacheprovider "$@" || status=$?
done
exit $status
