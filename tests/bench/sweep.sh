#!/usr/bin/env bash
# Fan-out against room size, for the README's plot: for each room size, run.sh runs "fanout"
# (as fast as allowed: server CPU per delivery) and "fanout-100" (100 messages/s: p99 latency)
# on Parley and on the Node.js reference server, then plot.js draws both figures into a PNG.
# Usage: tests/bench/sweep.sh BUILD_DIR [PNG]      (BENCH_SIZES, BENCH_REPS, BENCH_DURATION apply)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:?usage: $0 BUILD_DIR [PNG]}
png=${2:-$build/bench-rooms.png}
sizes=${BENCH_SIZES:-10 100 300 1000}
for n in $sizes; do
  BENCH_CLIENTS=$n BENCH_SCENARIOS="fanout fanout-100" BENCH_OUT="$build/sweep-$n.jsonl" \
    "$here/run.sh" "$build" >/dev/null
done
node "$here/plot.js" "$png" $(for n in $sizes; do echo "$build/sweep-$n.jsonl"; done)
