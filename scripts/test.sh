#!/usr/bin/env bash
# Run every test, in two passes.
#
# Pass 1: the exporter check, unit tests, nbval on every notebook (cells tagged
# nbval-check-output must reproduce their stored output) and the browser test of the
# website (tests/test_site.py), which needs the site built strictly from the committed
# outputs and Debian's Chromium installed: both are done here first.
# Pass 2, perturbed (tests/perturbed): every notebook again on a fresh kernel with
# another seed offset, torch's and MKL's AVX2 kernels and another thread count; stored
# outputs are not compared, every hidden assertion must hold.
#
# Extra arguments go to pass 1's pytest (e.g. `bash scripts/test.sh -k vocab`); pass 2
# then runs only the notebooks among them (none: pass 2 is left out, and says so).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
source scripts/venv.sh
start=$(date +%s)
bash scripts/build_site.sh
bash scripts/install_browser.sh
# One thread per worker: two workers with two threads each on two cores thrash.
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
export MKL_NUM_THREADS="$OMP_NUM_THREADS"
workers="${D2LRNN_TEST_WORKERS:-2}"
targets=(tests book)
notebooks=()
if [ $# -gt 0 ]; then
  targets=()
  for arg in "$@"; do
    case "$arg" in *.ipynb) notebooks+=("$arg") ;; esac
  done
fi
pass1=$(date +%s)
python -m pytest -n "$workers" --dist loadfile --no-loadscope-reorder --nbval-lax --nbval-current-env \
  --ignore=tests/perturbed --durations=15 -ra "${targets[@]}" "$@"
echo "pass 1 took $(( $(date +%s) - pass1 )) s"
if [ $# -gt 0 ] && [ ${#notebooks[@]} -eq 0 ]; then
  echo "pass 2 (perturbed) left out: no notebook among the arguments"
  exit 0
fi
pass2=$(date +%s)
# Two workers, each pinned to a core of its own, one notebook at a time, longest
# first; each kernel runs two threads that take turns on its core (see
# tests/perturbed/test_notebooks_perturbed.py).
D2LRNN_PERTURBED_NOTEBOOKS="${notebooks[*]:-}" python -m pytest -n "$workers" \
  --dist load --maxschedchunk 1 -ra tests/perturbed
echo "pass 2 (perturbed) took $(( $(date +%s) - pass2 )) s;" \
  "the whole test command $(( $(date +%s) - start )) s"
