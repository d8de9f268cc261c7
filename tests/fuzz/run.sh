#!/usr/bin/env bash
# Builds the libFuzzer targets with clang into build-fuzz/ and runs each one for N seconds
# (default 30): ./tests/fuzz/run.sh [seconds]. Each fuzzer works on build-fuzz/corpus/<target>/,
# seeded from tests/fuzz/seeds/<target>/ (left unchanged); a crashing input is saved under
# build-fuzz/artifacts/<target>/. Exits non-zero if any fuzzer found a failure.
set -euo pipefail
secs=${1:-30}
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${PARLEY_FUZZ_BUILD:-$root/build-fuzz}
fuzzers=(fuzz_sio_decode fuzz_eio_payload fuzz_json fuzz_token fuzz_msgpack_decode)

cmake -S "$root" -B "$build" -DCMAKE_C_COMPILER=clang -DPARLEY_FUZZ=ON >/dev/null
cmake --build "$build" -j"${JOBS:-1}" --target "${fuzzers[@]}"

failed=()
for f in "${fuzzers[@]}"; do
  corpus=$build/corpus/$f
  artifacts=$build/artifacts/$f/
  mkdir -p "$corpus" "$artifacts"
  extra=()
  if [ -f "$root/tests/fuzz/$f.dict" ]; then
    extra+=(-dict="$root/tests/fuzz/$f.dict")
  fi
  echo "=== $f for ${secs}s"
  if ! "$build/tests/fuzz/$f" -max_total_time="$secs" -print_final_stats=1 \
      -artifact_prefix="$artifacts" "${extra[@]}" "$corpus" "$root/tests/fuzz/seeds/$f"; then
    failed+=("$f")
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "failed: ${failed[*]} (inputs in $build/artifacts/)"
  exit 1
fi
echo "all fuzzers ran ${secs}s without failures"
