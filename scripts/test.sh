#!/usr/bin/env bash
# Run every test: the exporter check, unit tests, nbval on every notebook, and the
# browser test of the website (tests/test_site.py), which needs the site built strictly
# from the committed outputs and Debian's Chromium installed: both are done here first.
# Extra arguments go to pytest (e.g. `bash scripts/test.sh -k vocab`).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
source scripts/venv.sh
bash scripts/build_site.sh
bash scripts/install_browser.sh
# One thread per worker: two workers with two threads each on two cores thrash.
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
export MKL_NUM_THREADS="$OMP_NUM_THREADS"
workers="${D2LRNN_TEST_WORKERS:-2}"
python -m pytest -n "$workers" --dist loadfile --nbval-lax --nbval-current-env \
  --durations=15 -ra tests book "$@"
