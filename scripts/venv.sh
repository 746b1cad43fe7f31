#!/usr/bin/env bash
# Create or update ./.venv from requirements.txt; safe to run any number of times.
# Sourced by scripts/build_site.sh and scripts/test.sh.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${D2LRNN_VENV:-$ROOT/.venv}"
PY="${PYTHON:-python3}"
if ! "$PY" -c 'import sys; sys.exit(sys.version_info[:2] < (3, 10))'; then
  echo "error: $PY is $("$PY" --version 2>&1); Python 3.10+ is needed (3.11 is tested)" >&2
  exit 1
fi
if [ ! -x "$VENV/bin/python" ]; then
  echo "creating virtualenv $VENV"
  "$PY" -m venv "$VENV"
fi
stamp="$VENV/.requirements.sha1"
want="$(cat "$ROOT/requirements.txt" "$ROOT/pyproject.toml" | sha1sum | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "installing requirements into $VENV (first run takes a few minutes)"
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
  "$VENV/bin/python" -m pip install --quiet -r "$ROOT/requirements.txt"
  # d2l 0.17.6 (the release the source notes use) for the parity tests only; its
  # pins (numpy 1.21, matplotlib 3.5) would downgrade the course, hence --no-deps.
  "$VENV/bin/python" -m pip install --quiet --no-deps d2l==0.17.6
  "$VENV/bin/python" -m pip install --quiet --no-deps -e "$ROOT"
  echo "$want" > "$stamp"
fi
export PATH="$VENV/bin:$PATH"
