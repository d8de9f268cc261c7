#!/bin/sh
# Runs the end-to-end tests against BUILD_DIR/parley: tests/e2e/run.sh BUILD_DIR [TEST_DIR]
# TEST_DIR (default tests/e2e/) is another folder of such tests: tests/interop/run.sh passes its
# own. Exits non-zero when a test fails. Needs `npm ci` in tests/ (make deps does it).
set -eu
if [ $# -lt 1 ]; then
  echo "usage: $0 BUILD_DIR [TEST_DIR]" >&2
  exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "$1" && pwd)
PARLEY_BIN="$build/parley"
export PARLEY_BIN
if [ ! -x "$PARLEY_BIN" ]; then
  echo "e2e: $PARLEY_BIN not found or not executable" >&2
  exit 2
fi
if [ ! -d "$here/../node_modules/socket.io-client" ]; then
  echo "e2e: run 'npm ci' in $(dirname "$here") first" >&2
  exit 2
fi
cd "$here/../.."
# One file per process, two at a time; each test file bounds its own waits.
exec node --test --test-concurrency=2 --test-timeout=120000 \
  ${E2E_REPORTER:+--test-reporter="$E2E_REPORTER"} "${2:-tests/e2e/}"
