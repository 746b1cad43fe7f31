#!/usr/bin/env bash
# Build the course website into _build/html from the committed notebook outputs.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
source scripts/venv.sh
start=$(date +%s)
rm -rf _build/html _build/.doctrees
jupyter-book build . --builder html --warningiserror --nitpick --keep-going
echo "site built in $(( $(date +%s) - start )) s: $ROOT/_build/html/index.html"
