#!/usr/bin/env bash
# A reconnect storm of recovering clients (recovery-storm.js), BENCH_REPS times against a fresh
# server each, the server pinned to CPU 0 and the clients to CPU 1. Prints each run's JSON line
# and the medians; the lines go to BUILD_DIR/bench-recovery.jsonl.
# Usage: tests/bench/recovery-storm.sh BUILD_DIR [CLIENTS]
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: $0 BUILD_DIR [CLIENTS]" >&2; exit 2; }
BUILD=$(cd "$1" && pwd)
CLIENTS=${2:-1000}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
REPS=${BENCH_REPS:-3}
OUT=${BENCH_OUT:-$BUILD/bench-recovery.jsonl}
PIN_SERVER=(); PIN_CLIENT=()
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
  PIN_SERVER=(taskset -c 0); PIN_CLIENT=(taskset -c 1)
fi
# shellcheck source=lib.sh
. "$HERE/lib.sh"
unlimited "$BUILD/parley"
TMP=$(mktemp -d /tmp/parley-bench-recovery.XXXXXX)
SPID=
on_exit_clean

: >"$OUT"
for rep in $(seq 1 "$REPS"); do
  rm -f "$TMP"/db*
  "${PIN_SERVER[@]}" "$BUILD/parley" --host 127.0.0.1 --port 0 --db "$TMP/db" --no-bundled \
    --web-root "$ROOT/web" --log-level warn "${UNLIMITED[@]}" >"$TMP/out" 2>"$TMP/err" &
  SPID=$!
  wait_listening "$SPID" "$TMP/out" || { echo "recovery-storm.sh: parley did not start:" >&2; cat "$TMP/err" >&2; exit 1; }
  json=$("${PIN_CLIENT[@]}" node "$HERE/recovery-storm.js" "$SPORT" "$SPID" "$CLIENTS")
  echo "$json" | tee -a "$OUT"
  stop_server
done
node -e '
const rows = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map(JSON.parse);
const med = (k) => { const v = rows.map((r) => r[k]).sort((a, b) => a - b); return v[(v.length - 1) >> 1]; };
console.log(`median of ${rows.length}: ${med("clients")} clients recovered in ${med("time_ms")} ms, ` +
  `server CPU ${med("server_cpu_ms")} ms (${med("server_cpu_us_per_client")} us per client)`);
' "$OUT"
