#!/usr/bin/env bash
# Runs every test suite against a build directory: unit tests (ctest), end-to-end tests on the
# real binary with the npm socket.io-client, and browser tests in Chromium. Prints one closing
# line "N passed, N failed" counting suites, and exits non-zero if any failed.
set -uo pipefail
build=${1:-build}
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
passed=0; failed=0; failed_names=()

run_suite() {
  local name=$1; shift
  echo "=== $name"
  if "$@"; then passed=$((passed + 1)); else failed=$((failed + 1)); failed_names+=("$name"); fi
}

run_suite unit ctest --test-dir "$build" --output-on-failure --timeout 120 -j 2
for suite in e2e browser; do
  if [ -x "tests/$suite/run.sh" ]; then
    run_suite "$suite" "tests/$suite/run.sh" "$build"
  fi
done
if [ -x tests/bench/smoke.sh ]; then
  run_suite bench-smoke tests/bench/smoke.sh "$build"
fi

echo
[ $failed -gt 0 ] && echo "failed suites: ${failed_names[*]}"
echo "suites: $passed passed, $failed failed"
[ $failed -eq 0 ]
