#!/bin/sh
# Browser tests for web/: tests/browser/run.sh BUILD_DIR
# Needs /usr/bin/chromium (Debian package) and npm packages in tests/ and web/ (installed here if missing).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
if [ -z "${PARLEY_BIN:-}" ]; then
    PARLEY_BIN=$(cd "${1:-$repo/build}" && pwd)/parley
fi
export PARLEY_BIN
[ -d "$repo/tests/node_modules/playwright-core" ] || (cd "$repo/tests" && npm ci --no-audit --no-fund)
[ -d "$repo/web/node_modules/socket.io-client" ] || (cd "$repo/web" && npm ci --no-audit --no-fund)
exec node --test --test-timeout=240000 "$here/chat.test.js"
