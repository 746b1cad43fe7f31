#!/usr/bin/env bash
# Build the course website into _build/html from the committed notebook outputs.
# The site is offline-complete: MathJax is served from the site itself (no CDN).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
source scripts/venv.sh
start=$(date +%s)

# MathJax, pinned, from the npm registry (Apache-2.0). Fetched once into a git-ignored
# cache; _config.yml serves it as _static/mathjax/ (html_static_path, mathjax_path).
MATHJAX_VERSION=3.2.2
MATHJAX_SHA256=1b9c0a1c44df864e915690558e72adb9cc5203360daefd385084ced3b6c64c09
vendor="$ROOT/_build/vendor"
stamp="$vendor/mathjax/.stamp"
if [ "$(cat "$stamp" 2>/dev/null)" != "$MATHJAX_VERSION $MATHJAX_SHA256" ]; then
  if ! command -v npm >/dev/null; then
    echo "error: npm is needed once to fetch MathJax $MATHJAX_VERSION" \
      "(Debian: apt-get install npm)" >&2
    exit 1
  fi
  echo "fetching MathJax $MATHJAX_VERSION from the npm registry"
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent "mathjax@$MATHJAX_VERSION" >/dev/null)
  tgz="$tmp/mathjax-$MATHJAX_VERSION.tgz"
  got="$(sha256sum "$tgz" | cut -d' ' -f1)"
  if [ "$got" != "$MATHJAX_SHA256" ]; then
    echo "error: mathjax-$MATHJAX_VERSION.tgz has SHA-256 $got," \
      "expected $MATHJAX_SHA256" >&2
    exit 1
  fi
  tar -xzf "$tgz" -C "$tmp"
  es5="$tmp/package/es5"
  new="$tmp/mathjax"
  # The combined TeX component, its fonts, and what the MathJax menu loads on demand
  # (accessibility, speech rules), so every feature works without a network.
  mkdir -p "$new/output/chtml" "$new/input/tex"
  cp "$es5/tex-chtml-full.js" "$tmp/package/LICENSE" "$new/"
  cp -r "$es5/output/chtml/fonts" "$new/output/chtml/"
  cp -r "$es5/input/tex/extensions" "$new/input/tex/"
  cp -r "$es5/a11y" "$es5/ui" "$es5/sre" "$new/"
  echo "$MATHJAX_VERSION $MATHJAX_SHA256" > "$new/.stamp"
  mkdir -p "$vendor"
  rm -rf "$vendor/mathjax"
  mv "$new" "$vendor/mathjax"
fi

rm -rf _build/html _build/.doctrees
status=0
jupyter-book build . --builder html --warningiserror --nitpick --keep-going || status=$?
if [ "$status" -ne 0 ]; then
  echo "site build FAILED after $(( $(date +%s) - start )) s: every warning above" \
    "is an error (-W -n)" >&2
  exit "$status"
fi
echo "site built in $(( $(date +%s) - start )) s: $ROOT/_build/html/index.html"
