#!/usr/bin/env bash
# Build the course website into _build/html from the committed notebook outputs.
# The site is offline-complete: MathJax is served from the site itself (no CDN).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
source scripts/venv.sh
start=$(date +%s)

# MathJax 3.2.2 (Apache-2.0) comes from PyPI, pinned in requirements.txt as
# django-static-mathjax==3.2.2.1: a wheel with no dependencies that only carries
# MathJax's files (Django is not needed). The combined TeX component, its fonts and
# what the MathJax menu loads on demand (accessibility, speech rules) are copied into
# the git-ignored _build/vendor/mathjax; _config.yml serves them as _static/mathjax/.
mathjax_src="$(python - <<'PY'
import importlib.util
import pathlib

spec = importlib.util.find_spec("mathjax")  # locates the package without importing it
if spec is None or not spec.submodule_search_locations:
    raise SystemExit("error: MathJax is missing: pip install django-static-mathjax")
print(pathlib.Path(spec.submodule_search_locations[0]) / "static" / "mathjax")
PY
)"
es5="$mathjax_src/es5"
# SHA-256 of the wheel's es5/tex-chtml-full.js (its own build of MathJax 3.2.2): a
# different file means a different MathJax, so the build stops.
MATHJAX_SHA256=d8d977b0c6b2625a43cdf4baa4530ec26a2e18f983beae500300a8e8a2413279
got="$(python -c 'import hashlib, sys; print(hashlib.sha256(open(sys.argv[1], "rb").read()).hexdigest())' "$es5/tex-chtml-full.js" 2>/dev/null || true)"
if [ "$got" != "$MATHJAX_SHA256" ]; then
  echo "error: $es5/tex-chtml-full.js has SHA-256 '$got', expected $MATHJAX_SHA256" >&2
  exit 1
fi
vendor="$ROOT/_build/vendor"
new="$vendor/mathjax.new"
rm -rf "$new"
mkdir -p "$new/output/chtml" "$new/input/tex"
cp "$es5/tex-chtml-full.js" "$mathjax_src/LICENSE" "$new/"
cp -r "$es5/output/chtml/fonts" "$new/output/chtml/"
cp -r "$es5/input/tex/extensions" "$new/input/tex/"
cp -r "$es5/a11y" "$es5/ui" "$es5/sre" "$new/"
rm -rf "$vendor/mathjax"
mv "$new" "$vendor/mathjax"

rm -rf _build/html _build/.doctrees
status=0
jupyter-book build . --builder html --warningiserror --nitpick --keep-going || status=$?
if [ "$status" -ne 0 ]; then
  echo "site build FAILED after $(( $(date +%s) - start )) s: every warning above" \
    "is an error (-W -n)" >&2
  exit "$status"
fi
echo "site built in $(( $(date +%s) - start )) s: $ROOT/_build/html/index.html"
