#!/usr/bin/env bash
# System-level test dependencies that pip cannot install: Node.js packages for the
# ical.js feed check. Idempotent; safe to run on every `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."
if command -v npm >/dev/null 2>&1 && [ -f tests/js/package.json ] && [ ! -d tests/js/node_modules ]; then
  (cd tests/js && npm install --no-audit --no-fund --silent)
fi
