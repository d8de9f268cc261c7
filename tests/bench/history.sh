#!/usr/bin/env bash
# Stored chat throughput: parley-bench's "store" scenario against Parley with its history on
# (each chat is acknowledged once committed to SQLite) and off (--no-history, the baseline: the
# same traffic, acks say stored:false), alternating, the order flipped on each repetition, with
# a fresh server and database per run. Each client chats in a room of its own, so that a message
# costs its store and its ack and no fan-out. Prints the medians per configuration and the
# ratio on / off, and appends the JSON lines to tests/bench/results/history.jsonl.
# Usage: tests/bench/history.sh BUILD_DIR
#   BENCH_CLIENTS (32), BENCH_WINDOW (32 chats in flight per client: 1,024 in all keep the
#   server busy while parley-bench uses a fraction of its CPU), BENCH_MSG_SIZE (0 bytes of
#   padding: the store's cost per message, not per byte), and those of history_setup in
#   lib.sh (BENCH_REPS, BENCH_DURATION, BENCH_OUT, BENCH_DB_DIR, BENCH_PIN)
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
history_setup 32 history.jsonl "$@"
WINDOW=${BENCH_WINDOW:-32}
MSG_SIZE=${BENCH_MSG_SIZE:-0}

# one_run REP on|off
one_run() {
  local flags=()
  if [ "$2" = off ]; then flags=(--no-history); fi
  rm -f "$TMP"/db*
  start_parley --db "$TMP/db" "${flags[@]}" || exit 1
  echo "== rep $1/$REPS history $2 (pid $SPID, port $SPORT)" >&2
  run_bench "$OUT" "\"rep\":$1" store --clients "$CLIENTS" --window "$WINDOW" \
    --msg-size "$MSG_SIZE" --duration "$DUR" "${flags[@]}"
  stop_server
}

each_run on off one_run
node "$HERE/history-report.js" "$OUT" "$RUN_ID"
