#!/usr/bin/env bash
# What SQLite alone costs per stored row on this machine, the floor under history.sh's figure:
# 500,000 rows inserted by one INSERT ... SELECT in one transaction (no statement, binding or
# commit per row), into Parley's messages table with schema.sql's indexes, and into a table of
# an integer key and one text column without an index. Medians of BENCH_REPS (5) runs, in
# microseconds of CPU (user + sys) per row, with the database in BENCH_DB_DIR (a temp dir).
# Usage: tests/bench/sqlite-floor.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
REPS=${BENCH_REPS:-5}
ROWS=500000
TMP=$(mktemp -d "${BENCH_DB_DIR:-${TMPDIR:-/tmp}}/parley-floor.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

# cpu_per_row SCHEMA_SQL INSERT_SQL: one fresh database, the insert timed; prints us per row.
cpu_per_row() {
  rm -f "$TMP"/db*
  printf 'PRAGMA journal_mode=WAL;\nPRAGMA synchronous=NORMAL;\n%s\n' "$1" |
    sqlite3 "$TMP/db" >/dev/null
  printf '.timer on\nWITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < %d)\n%s;\n' \
    "$ROWS" "$2" | sqlite3 "$TMP/db" |
    awk -v rows="$ROWS" '/^Run Time/ { printf "%.3f\n", ($6 + $8) * 1e6 / rows }'
}

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

messages_insert="INSERT INTO messages (nsp, room, skip, sender, event, args, ts)
  SELECT '/', 'room-' || (i % 32), 'AbCdEfGhIjKlMnOpQrSt', '{\"name\":\"bench-12\",\"userid\":\"bench-12\"}',
         'chat', '[{\"room\":\"room-12\",\"message\":\"hello 123456\"}]', 1700000000000 + i FROM n"
bare_insert="INSERT INTO m (data) SELECT '[\"chat\",{\"room\":\"room-12\",\"message\":\"hello 123456\"}]' FROM n"

schema=$(cat "$here/../../schema.sql")
full=$(for _ in $(seq 1 "$REPS"); do cpu_per_row "$schema" "$messages_insert"; done | median)
bare=$(for _ in $(seq 1 "$REPS"); do
  cpu_per_row 'CREATE TABLE m (id INTEGER PRIMARY KEY, data TEXT NOT NULL);' "$bare_insert"
done | median)
echo "sqlite $(sqlite3 -version | cut -d' ' -f1), $ROWS rows in one statement and one transaction, medians of $REPS:"
echo "  Parley's messages table and indexes: $full us CPU per row"
echo "  an integer key and one text column:  $bare us CPU per row"
