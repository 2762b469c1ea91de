#!/usr/bin/env bash
# Make sure the test tools from Debian are installed: Chromium (Playwright drives it; it cannot
# download its own here), poppler-utils (pdftotext reads the review pack in tests) and the DejaVu
# fonts (the review pack embeds them for text outside Latin-1).
set -euo pipefail
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || missing+=(fonts-dejavu-core)
command -v pdftotext >/dev/null || missing+=(poppler-utils)
if [ ${#missing[@]} -gt 0 ]; then
  echo "Installing Debian packages for the tests: ${missing[*]}..." >&2
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  elif command -v sudo >/dev/null && command -v apt-get >/dev/null; then
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
fi
if [ ! -x /usr/bin/chromium ] || ! command -v pdftotext >/dev/null; then
  if [ "${CI:-}" = "true" ]; then
    echo "ERROR: /usr/bin/chromium or pdftotext is not available and CI=true: those tests cannot be skipped." >&2
    exit 1
  fi
  echo "WARNING: Chromium or pdftotext not available; those tests will be skipped." >&2
fi
