#!/usr/bin/env bash
# Run every test: the exporter check, unit tests, and nbval on every notebook.
# Extra arguments go to pytest (e.g. `bash scripts/test.sh -k vocab`).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
source scripts/venv.sh
# One thread per worker: two workers with two threads each on two cores thrash.
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
export MKL_NUM_THREADS="$OMP_NUM_THREADS"
workers="${D2LRNN_TEST_WORKERS:-2}"
python -m pytest -n "$workers" --dist loadfile --nbval-lax --nbval-current-env \
  --durations=15 -ra tests book "$@"
