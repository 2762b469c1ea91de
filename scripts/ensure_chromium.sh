#!/usr/bin/env bash
# Make sure Debian's Chromium is installed (Playwright drives it; it cannot download its own here).
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  exit 0
fi
echo "Chromium is missing: installing Debian's chromium package..." >&2
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-dejavu-core >/dev/null
elif command -v sudo >/dev/null && command -v apt-get >/dev/null; then
  sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-dejavu-core >/dev/null
fi
if [ ! -x /usr/bin/chromium ]; then
  if [ "${CI:-}" = "true" ]; then
    echo "ERROR: /usr/bin/chromium is not available and CI=true: browser tests cannot be skipped." >&2
    exit 1
  fi
  echo "WARNING: Chromium not available; browser tests will be skipped." >&2
fi
