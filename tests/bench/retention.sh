#!/usr/bin/env bash
# What retention costs the event loop: builds a store of RETENTION_ROWS messages (default
# 1,000,000) over RETENTION_ROOMS rooms (default 1,000), sent over the last 10 days, then for each
# scenario starts parley on a copy with limits that delete nothing (none) or about half of it
# (count, age, bytes), waits until retention is caught up, and prints the step figures parley logs
# at debug level: steps, elapsed median/p99/max, CPU median/p99/max, rows removed, the time to
# catch up and the checkpoints run off the loop. Not part of `make test`.
# Usage: tests/bench/retention.sh BUILD_DIR   (RETENTION_SCENARIOS="none count" to pick)
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
BUILD=$(cd "$1" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
ROWS=${RETENTION_ROWS:-1000000}
ROOMS=${RETENTION_ROOMS:-1000}
SCENARIOS=${RETENTION_SCENARIOS:-none count age bytes}
TIMEOUT=${RETENTION_TIMEOUT:-900}
command -v sqlite3 >/dev/null || { echo "retention.sh: needs the sqlite3 shell" >&2; exit 2; }

per_room=$((ROWS / ROOMS))
# each message's args is 55 bytes; the limits below keep about half of each room
declare -A LIMITS=(
  [none]=""
  [count]="--history-keep $((per_room / 2))"
  [age]="--history-max-age $((5 * 86400))"
  [bytes]="--history-room-bytes $((per_room / 2 * 55))"
)
# what must hold once retention is caught up (START_MS: when the scenario started)
declare -A CHECKS=(
  [none]="SELECT count(*) = $ROWS FROM messages"
  [count]="SELECT max(messages) = $((per_room / 2)) FROM room_totals"
  [age]="SELECT count(*) = 0 FROM messages WHERE ts < START_MS - $((5 * 86400 * 1000))"
  [bytes]="SELECT max(bytes) <= $((per_room / 2 * 55)) FROM room_totals"
)

TMP=$(mktemp -d "${TMPDIR:-/tmp}/parley-retention.XXXXXX")
SPID=
cleanup() {
  if [ -n "$SPID" ]; then kill -KILL "$SPID" 2>/dev/null || true; fi
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "building $ROWS messages over $ROOMS rooms..."
start=$SECONDS
now_ms=$(($(date +%s) * 1000))
span_ms=$((10 * 86400 * 1000))
{
  cat "$ROOT/schema.sql"
  echo "PRAGMA journal_mode = WAL;"
  echo "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < $ROWS)
    INSERT INTO messages (nsp, room, sender, event, args, ts)
    SELECT '/', 'room' || (i % $ROOMS), '{\"name\":\"bench\",\"userid\":\"b\"}', 'chat',
      '[{\"msg\":\"' || printf('%08d', i) || ' lorem ipsum dolor sit amet consect\"}]',
      $now_ms - $span_ms + i * ($span_ms / $ROWS) FROM c;"
  # rows inserted by a tool are added to the per-room totals by it (schema.sql)
  echo "INSERT INTO room_totals SELECT nsp, 0, room, count(*), sum(length(CAST(args AS BLOB)))
    FROM messages GROUP BY nsp, room;"
} | sqlite3 "$TMP/base.db" >/dev/null
echo "built in $((SECONDS - start)) s ($(du -h "$TMP/base.db" | cut -f1)); SQLite $(sqlite3 -version | cut -d' ' -f1), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"

printf '\n%-7s %8s %7s %6s %6s %6s %5s %6s %6s %6s %5s %5s %5s\n' scenario removed steps \
  med p99 max '>1ms' cpu_med p99 max '>1ms' secs ckpts
for sc in $SCENARIOS; do
  [ -n "${LIMITS[$sc]+x}" ] || { echo "unknown scenario $sc" >&2; exit 2; }
  db=$TMP/$sc.db
  cp "$TMP/base.db" "$db"
  log=$TMP/$sc.log
  : >"$log"
  start=$SECONDS
  start_ms=$(($(date +%s) * 1000))
  # shellcheck disable=SC2086 # the limits are words
  "$BUILD/parley" --host 127.0.0.1 --port 0 --db "$db" --no-bundled --log-level debug \
    --web-root "$ROOT/web" ${LIMITS[$sc]} >/dev/null 2>"$log" &
  SPID=$!
  until grep -q 'retention caught up' "$log"; do
    if ! kill -0 "$SPID" 2>/dev/null || [ $((SECONDS - start)) -gt "$TIMEOUT" ]; then
      echo "$sc: parley exited or did not catch up within $TIMEOUT s" >&2
      tail -5 "$log" >&2
      exit 1
    fi
    sleep 0.2
  done
  secs=$((SECONDS - start))
  kill -TERM "$SPID"
  wait "$SPID" || { echo "$sc: parley did not exit cleanly" >&2; exit 1; }
  SPID=
  line=$(grep -m1 'retention caught up' "$log")
  re='caught up: ([0-9]+) steps; elapsed median ([0-9]+) us, p99 ([0-9]+) us, max ([0-9]+) us, '
  re+='([0-9]+) over 1 ms; CPU median ([0-9]+) us, p99 ([0-9]+) us, max ([0-9]+) us, ([0-9]+) '
  re+='over 1 ms; ([0-9]+) rows removed; ([0-9]+) checkpoints'
  [[ $line =~ $re ]] || { echo "$sc: cannot read the figures in: $line" >&2; exit 1; }
  set -- "${BASH_REMATCH[@]:1}"
  removed=${10}
  printf '%-7s %8s %7s %6s %6s %6s %5s %6s %6s %6s %5s %5s %5s\n' "$sc" "$removed" "$1" "$2" "$3" \
    "$4" "$5" "$6" "$7" "$8" "$9" "$secs" "${11}"
  left=$(sqlite3 "$db" 'SELECT count(*) FROM messages')
  [ $((left + removed)) -eq "$ROWS" ] || { echo "$sc: $left rows left + $removed removed != $ROWS" >&2; exit 1; }
  [ "$(sqlite3 "$db" "${CHECKS[$sc]//START_MS/$start_ms}")" = 1 ] ||
    { echo "$sc: after retention, this does not hold: ${CHECKS[$sc]}" >&2; exit 1; }
  rm -f "$db" "$db-wal" "$db-shm"
done
echo
echo "med/p99/max: a step's elapsed time in us, >1ms: steps longer than 1 ms; cpu_*: the same"
echo "for the loop thread's CPU time in a step; secs: to catch up; ckpts: checkpoints off the loop"
