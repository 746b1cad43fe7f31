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
# MathJax's files (Django is not needed). The pages load MathJax as components, only
# those they use (TeX in, HTML-CSS out, the hidden MathML for screen readers); the
# context menu is loaded when a reader opens it (_ext/static/d2lrnn-mathjax-menu.js),
# and TeX extensions, fonts and what the menu needs (accessibility, speech rules) load
# on demand. They are copied into the git-ignored _build/vendor/mathjax;
# _config.yml serves them as _static/mathjax/.
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
# SHA-256 of the wheel's components (its own build of MathJax 3.2.2): a different
# file means a different MathJax, so the build stops.
python - "$es5" <<'PY'
import hashlib
import pathlib
import sys

PINNED = {
    "startup.js": "84f4ec49041b12a6dadc5d1689babc80f417435cfcbd890ec712e374152bbb88",
    "core.js": "44d9c29f77d89537e024d165e2c0d7e981a98d75ed53b6c236fac899ed631abb",
    "input/tex.js": "fa6524c5b16c20bed3f040c9833e88c7b8ab25ffe988af9cda8395016a0b643c",
    "output/chtml.js": "287022a5672cb02108104df6a0c4d1ae219cc9d9e53e06ccb8c023c47ff867ce",
    "output/chtml/fonts/tex.js":
        "b525b71e41a7fdb124ef6a2b44d5250cb7fc2f56d7e73494ad03d090d0e4f28a",
    "a11y/assistive-mml.js":
        "5b8414e36cd63d154b90beab67e5e3399c7439aff97f4b556761224f8176f657",
    "ui/menu.js": "018c17688206385540a3807b72e24395c22aa7e402d58a3e1996328534d04c57",
}
es5 = pathlib.Path(sys.argv[1])
for name, want in PINNED.items():
    path = es5 / name
    got = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "missing"
    if got != want:
        raise SystemExit(f"error: {path} has SHA-256 {got!r}, expected {want}")
PY
vendor="$ROOT/_build/vendor"
new="$vendor/mathjax.new"
rm -rf "$new"
mkdir -p "$new/output/chtml" "$new/input/tex"
cp "$es5/startup.js" "$es5/core.js" "$mathjax_src/LICENSE" "$new/"
cp "$es5/input/tex.js" "$new/input/"
cp "$es5/output/chtml.js" "$new/output/"
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
