#!/usr/bin/env bash
# Install what the browser test (tests/test_site.py) drives: Debian's Chromium, plus a
# small CJK font so that the glossary's Chinese terms show in the screenshots.
# Playwright (from PyPI) drives this Chromium; it never downloads a browser of its own.
# Idempotent: does nothing when both are there. Installing needs root (apt-get).
set -euo pipefail
CHROMIUM="${D2LRNN_CHROMIUM:-/usr/bin/chromium}"
need=()
if [ ! -x "$CHROMIUM" ]; then
  need+=(chromium)
fi
if ! { command -v fc-list >/dev/null && fc-list :lang=zh | grep -q .; }; then
  need+=(fonts-wqy-microhei)
fi
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    if [[ " ${need[*]} " == *" chromium "* ]]; then
      echo "error: the browser test needs $CHROMIUM (Debian's chromium package)." >&2
      echo "Install it as root: apt-get update && apt-get install -y ${need[*]}" >&2
      echo "(or point D2LRNN_CHROMIUM at an installed Chromium)" >&2
      exit 1
    fi
    echo "warning: no CJK font; Chinese terms show as boxes in the screenshots" \
      "(apt-get install -y fonts-wqy-microhei)" >&2
  else
    echo "installing ${need[*]} with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${need[@]}" >/dev/null
  fi
fi
echo "browser: $("$CHROMIUM" --version 2>/dev/null)"
