#!/usr/bin/env bash
# Runs every test suite against one or more build directories: unit tests (ctest), end-to-end
# tests on the real binary with the npm socket.io-client, interoperability tests with a second
# client implementation (python-socketio), browser tests in Chromium, a shutdown
# under valgrind, a short smoke run of the benchmark tool, and in a build with the libFuzzer
# targets (build-asan) a few seconds of each fuzzer; once, whatever the builds, the layering
# check of core/. Prints one closing line "suites: N passed, N failed" and exits
# non-zero if any suite failed.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
[ $# -gt 0 ] || set -- build
passed=0; failed=0; failed_names=()

run_suite() {
  local name=$1; shift
  echo "=== $name"
  local start=$SECONDS
  if "$@"; then passed=$((passed + 1)); else failed=$((failed + 1)); failed_names+=("$name"); fi
  echo "=== $name: $((SECONDS - start)) s"
}

# source checks: they do not depend on a build
run_suite "check-layers" tests/tools/check-layers.sh

for build in "$@"; do
  # sanitizer reports fail the run; leaks are checked by valgrind and LeakSanitizer alike
  export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
  run_suite "$build/unit" ctest --test-dir "$build" --output-on-failure --timeout 120 -j 2
  for suite in e2e interop browser cluster; do
    if [ -x "tests/$suite/run.sh" ]; then
      run_suite "$build/$suite" "tests/$suite/run.sh" "$build"
    fi
  done
  run_suite "$build/valgrind-shutdown" tests/tools/valgrind-shutdown.sh "$build"
  # the default configuration: the bundled plugins and scripts are unloaded cleanly too
  run_suite "$build/valgrind-shutdown-bundled" tests/tools/valgrind-shutdown.sh "$build" --bundled
  # each fuzzer for 3 s on a copy of its seeds (their one-pass replay is in the unit suite)
  if [ -x "$build/tests/fuzz/fuzz_json" ]; then
    run_suite "$build/fuzz-smoke" tests/fuzz/run.sh --smoke "$build" 3
  fi
  if [ -x tests/bench/smoke.sh ]; then
    run_suite "$build/bench-smoke" tests/bench/smoke.sh "$build"
  fi
done

echo
[ $failed -gt 0 ] && echo "failed suites: ${failed_names[*]}"
echo "suites: $passed passed, $failed failed"
[ $failed -eq 0 ]
