#!/usr/bin/env bash
# System-level test dependencies that pip cannot install: Node.js packages (ical.js for the feed
# check, axe-core for the accessibility check), Debian's Chromium for the browser tests
# (Playwright drives it; it never downloads a browser of its own) and Debian's nginx for the
# production set-up's test (tests/integration/test_production.py starts it as a plain process;
# the package's own service is not needed). Idempotent; safe to run on every `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."
# Installs whenever a package of package.json is missing or at another version (`npm ls` fails),
# so a checkout from before a package was added gets it too, not only a fresh clone.
if command -v npm >/dev/null 2>&1 && [ -f tests/js/package.json ]; then
  if ! (cd tests/js && npm ls --depth=0 >/dev/null 2>&1); then
    if [ -f tests/js/package-lock.json ]; then
      (cd tests/js && npm ci --no-audit --no-fund --silent)
    else
      (cd tests/js && npm install --no-audit --no-fund --silent)
    fi
  fi
fi
if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "install-test-deps: /usr/bin/chromium is missing; install Debian's chromium package (as root) for the" \
         "browser tests, or run pytest with -m 'not e2e'" >&2
  fi
fi
if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq
    # The package would start its own service on port 80: a policy-rc.d that refuses (101) for
    # the time of the install, unless the machine has one already.
    policy=/usr/sbin/policy-rc.d
    if [ ! -e "$policy" ]; then
      printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy"
      trap 'rm -f "$policy"' EXIT
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null
  else
    echo "install-test-deps: nginx is missing; install Debian's nginx package (as root) for the" \
         "production set-up's test, which skips without it" >&2
  fi
fi
# libical's validator for the feeds' RFC 5545/5546 check (compiled by the test with gcc).
if ! pkg-config --exists libical 2>/dev/null; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libical-dev pkg-config >/dev/null
  else
    echo "install-test-deps: libical-dev is missing; install Debian's libical-dev (as root) for the" \
         "feeds' libical check, which skips without it" >&2
  fi
fi
