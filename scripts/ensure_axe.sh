#!/usr/bin/env bash
# Make sure axe-core (the accessibility engine the browser tests inject into the real pages) is
# installed from the npm registry into .cache/axe (pinned; not committed).
set -euo pipefail
cd "$(dirname "$0")/.."
AXE_VERSION=4.14.1
TARGET=.cache/axe/node_modules/axe-core/axe.min.js
if [ -f "$TARGET" ] && grep -q "axe v$AXE_VERSION" "$TARGET" 2>/dev/null; then
  exit 0
fi
if ! command -v npm >/dev/null; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >/dev/null || true
  fi
fi
if command -v npm >/dev/null; then
  mkdir -p .cache/axe
  npm install --silent --no-audit --no-fund --prefix .cache/axe "axe-core@$AXE_VERSION" >/dev/null 2>&1 || true
fi
if [ ! -f "$TARGET" ]; then
  if [ "${CI:-}" = "true" ]; then
    echo "ERROR: axe-core could not be installed and CI=true: accessibility tests cannot be skipped." >&2
    exit 1
  fi
  echo "WARNING: axe-core not available; accessibility tests will be skipped." >&2
fi
