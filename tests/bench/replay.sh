#!/usr/bin/env bash
# What replaying stored messages on a join costs the server at a large database: builds a
# history of BENCH_MESSAGES messages spread over BENCH_ROOMS rooms (r0, r1, ... in turn, as
# many active rooms would fill it), then runs parley-bench's "replay" scenario (clients join
# and leave rooms of their own, one at a time) against Parley with --history-replay N and with
# 0, alternating, the order flipped on each repetition. Every run gets a fresh copy of the
# database, so the join and leave notices of earlier runs do not pile up. The difference in
# server CPU per join is the server time of a replay. Prints the medians and that difference,
# and appends the JSON lines to tests/bench/results/replay.jsonl.
# Usage: tests/bench/replay.sh BUILD_DIR
#   BENCH_CLIENTS (200: enough joins in flight to keep the server busy without a replay too),
#   BENCH_REPLAY (50 messages), BENCH_MESSAGES (1000000), BENCH_ROOMS (1000), and those of
#   history_setup in lib.sh (BENCH_REPS, BENCH_DURATION, BENCH_OUT, BENCH_DB_DIR, BENCH_PIN)
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
history_setup 200 replay.jsonl "$@"
REPLAY=${BENCH_REPLAY:-50}
MESSAGES=${BENCH_MESSAGES:-1000000}
ROOMS=${BENCH_ROOMS:-1000}
command -v sqlite3 >/dev/null || { echo "replay.sh: the sqlite3 shell is needed" >&2; exit 1; }

# The schema is Parley's own: it creates the file, then the rows go in with one statement.
t0=$(date +%s%N)
start_parley --db "$TMP/base.db" || exit 1
stop_server
sqlite3 "$TMP/base.db" >/dev/null <<SQL
PRAGMA journal_mode = DELETE;
PRAGMA synchronous = OFF;
BEGIN;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $MESSAGES)
INSERT INTO messages (nsp, room, sender, event, args, ts, kind)
SELECT '/', 'r' || (i % $ROOMS), '{"name":"u' || (i % 97) || '"}', 'chat',
       '[{"from":{"name":"u' || (i % 97) || '"},"room":"r' || (i % $ROOMS) ||
       '","msg":"message ' || i || ', about as long as an ordinary line of chat text"}]',
       1700000000000 + i, 0
FROM n;
COMMIT;
SQL
rows=$(sqlite3 "$TMP/base.db" "SELECT count(*) FROM messages")
echo "replay.sh: $rows messages in $ROOMS rooms, $(du -m "$TMP/base.db" | cut -f1) MB, built in" \
  "$(( ($(date +%s%N) - t0) / 1000000 )) ms" >&2

# one_run REP N: a run with --history-replay N on a fresh copy of the database
one_run() {
  rm -f "$TMP"/db*
  cp "$TMP/base.db" "$TMP/db"
  # --history-keep 0: the minute's retention pass over a million rows stays out of the runs
  start_parley --db "$TMP/db" --history-replay "$2" --history-keep 0 || exit 1
  echo "== rep $1/$REPS --history-replay $2 (pid $SPID, port $SPORT)" >&2
  run_bench "$OUT" "\"rep\":$1,\"history_replay\":$2,\"db_messages\":$rows" replay \
    --clients "$CLIENTS" --rooms "$ROOMS" --duration "$DUR"
  stop_server
}

each_run "$REPLAY" 0 one_run
node "$HERE/history-report.js" "$OUT" "$RUN_ID"
