#!/usr/bin/env bash
# Runs every libFuzzer target for N seconds, one after the other. Two forms:
#
#   tests/fuzz/run.sh [seconds]             (make fuzz; default 30 s) builds the targets with
#       clang into build-fuzz/ and grows a corpus per target in build-fuzz/corpus/<target>/,
#       seeded from tests/fuzz/seeds/<target>/ (left unchanged); a failing input is saved under
#       build-fuzz/artifacts/<target>/.
#   tests/fuzz/run.sh --smoke BUILD [seconds]   (make test; default 3 s) runs the targets already
#       built in BUILD (configured with -DPARLEY_FUZZ=ON) on a temporary copy of the seeds, so
#       that regressions show in CI and the tree is not written; a failing input is kept and
#       its path printed.
#
# Each run ends with a line "<target>: <seconds> s, <runs> runs". Exits non-zero if any target
# found a failure.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
fuzzers=(fuzz_sio_decode fuzz_sio_binary fuzz_eio_payload fuzz_json fuzz_token fuzz_http fuzz_config
         fuzz_msgpack_decode)

if [ "${1:-}" = "--smoke" ]; then
  build=${2:?usage: run.sh --smoke BUILD [seconds]}
  secs=${3:-3}
  work=$(mktemp -d "${TMPDIR:-/tmp}/parley-fuzz-XXXXXX")
  keep=$work
else
  secs=${1:-30}
  build=${PARLEY_FUZZ_BUILD:-$root/build-fuzz}
  cmake -S "$root" -B "$build" -DCMAKE_C_COMPILER=clang -DPARLEY_FUZZ=ON >/dev/null
  cmake --build "$build" -j"${JOBS:-1}" --target "${fuzzers[@]}"
  work=$build
  keep=
fi

failed=()
for f in "${fuzzers[@]}"; do
  corpus=$work/corpus/$f
  artifacts=$work/artifacts/$f/
  mkdir -p "$corpus" "$artifacts"
  seeds=$root/tests/fuzz/seeds/$f
  if [ -n "$keep" ]; then
    cp -R "$seeds/." "$corpus/"
    seeds=
  fi
  extra=()
  if [ -f "$root/tests/fuzz/$f.dict" ]; then
    extra+=(-dict="$root/tests/fuzz/$f.dict")
  fi
  log=$work/$f.log
  if "$build/tests/fuzz/$f" -max_total_time="$secs" -print_final_stats=1 \
      -artifact_prefix="$artifacts" "${extra[@]}" "$corpus" ${seeds:+"$seeds"} >"$log" 2>&1; then
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    echo "$f: ${secs} s, ${runs:-?} runs"
  else
    failed+=("$f")
    tail -n 40 "$log"
    echo "$f: FAILED (log $log, input in $artifacts)"
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "failed: ${failed[*]}"
  exit 1
fi
[ -z "$keep" ] || rm -rf "$keep"
echo "all fuzzers ran ${secs} s each without failures"
