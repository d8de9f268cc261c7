# shellcheck shell=bash
# Shell functions shared by the benchmark scripts, which source this file (nothing runs when it
# is sourced): waiting for a server's port, stopping it, cleaning up on exit; and, for
# history.sh and replay.sh, running Parley and parley-bench pinned to different CPUs,
# repetitions in alternating order, and one JSON line appended per run.

# on_exit_clean: on exit, kills the server $SPID if one is running and removes the directory $TMP.
on_exit_clean() {
  trap 'if [ -n "${SPID:-}" ]; then kill -KILL "$SPID" 2>/dev/null || true; fi; rm -rf "$TMP"' EXIT
  trap 'exit 130' INT TERM
}

# wait_listening PID FILE: waits up to 10 s for the server PID to write "listening on HOST:PORT"
# to FILE, and sets SPORT. Fails if the server exits first or never writes it.
# shellcheck disable=SC2034  # SPORT is the caller's
wait_listening() {
  local line
  for _ in $(seq 1 100); do
    line=$(grep -m1 '^listening on ' "$2" 2>/dev/null || true)
    if [ -n "$line" ]; then SPORT=${line##*:}; return 0; fi
    kill -0 "$1" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

# stop_server: stops the server $SPID (SIGTERM, then SIGKILL after 5 s) and clears SPID.
stop_server() {
  [ -n "${SPID:-}" ] || return 0
  kill -TERM "$SPID" 2>/dev/null || true
  for _ in $(seq 1 50); do
    kill -0 "$SPID" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$SPID" 2>/dev/null || true
  wait "$SPID" 2>/dev/null || true
  SPID=
}

# history_setup CLIENTS RESULTS BUILD_DIR: what history.sh and replay.sh start with. Sets BUILD,
# HERE, BENCH and PARLEY (the binaries), PIN_SERVER and PIN_BENCH (taskset prefixes), TMP (a
# directory for the database, removed on exit), DB_FS (its file system), RUN_ID (this
# invocation's stamp), REPS, DUR, CLIENTS and OUT (tests/bench/results/RESULTS). It reads:
#   BENCH_REPS (5), BENCH_DURATION (5 s), BENCH_CLIENTS (CLIENTS), BENCH_OUT
#   BENCH_DB_DIR  where TMP is made (default: $TMPDIR or /tmp). Its file system goes into each
#                 JSON line ("db_fs"): a tmpfs such as /dev/shm never waits for the disk, ext4
#                 does at each WAL checkpoint
#   BENCH_PIN     1 (default): the server on CPU 0, parley-bench on CPU 1 (as run.sh does);
#                 0: not pinned
#   BENCH_BIN, PARLEY_BIN  other binaries than BUILD_DIR's
# shellcheck disable=SC2034  # the variables are the caller's
history_setup() {
  local f
  [ $# -ge 3 ] || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
  BUILD=$(cd "$3" && pwd)
  HERE=$(cd "$(dirname "$0")" && pwd)
  REPS=${BENCH_REPS:-5}
  DUR=${BENCH_DURATION:-5}
  CLIENTS=${BENCH_CLIENTS:-$1}
  OUT=${BENCH_OUT:-$HERE/results/$2}
  BENCH=
  for f in "${BENCH_BIN:-}" "$BUILD/tests/bench/parley-bench" "$BUILD/parley-bench"; do
    if [ -n "$f" ] && [ -x "$f" ]; then BENCH=$f; break; fi
  done
  [ -n "$BENCH" ] || { echo "$0: parley-bench not found in $BUILD (build it first)" >&2; exit 1; }
  PARLEY=${PARLEY_BIN:-$BUILD/parley}
  [ -x "$PARLEY" ] || { echo "$0: $PARLEY not found (build it first)" >&2; exit 1; }
  command -v node >/dev/null || { echo "$0: node is needed for the summary" >&2; exit 1; }
  PIN_SERVER=(); PIN_BENCH=(); PINNED=false
  if [ "${BENCH_PIN:-1}" = 1 ] && command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
    PIN_SERVER=(taskset -c 0); PIN_BENCH=(taskset -c 1); PINNED=true
  fi
  TMP=$(mktemp -d "${BENCH_DB_DIR:-${TMPDIR:-/tmp}}/parley-history.XXXXXX")
  DB_FS=$(df --output=fstype "$TMP" 2>/dev/null | tail -1)
  RUN_ID=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  SPID=
  on_exit_clean
}

# unlimited BINARY: sets UNLIMITED to the options that lift the per-address limits, for a
# benchmark whose thousands of clients all come from 127.0.0.1 (none for a build without them).
unlimited() {
  UNLIMITED=()
  # (not through grep -q: under pipefail, its early exit can fail the pipeline)
  case "$("$1" --help 2>&1)" in
    *--max-handshakes-per-address*)
      UNLIMITED=(--max-sessions-per-address 0 --max-handshakes-per-address 0
                 --max-connections-per-address 0) ;;
  esac
}

# start_parley ARGS...: starts Parley on a free loopback port, pinned, with --no-bundled and
# the given arguments (--db among them); sets SPID and SPORT.
start_parley() {
  unlimited "$PARLEY"
  "${PIN_SERVER[@]}" "$PARLEY" --host 127.0.0.1 --port 0 --no-bundled --log-level warn "${UNLIMITED[@]}" "$@" \
    >"$TMP/server.out" 2>"$TMP/server.err" &
  SPID=$!
  wait_listening "$SPID" "$TMP/server.out" && return 0
  echo "$0: parley did not start:" >&2
  cat "$TMP/server.err" >&2
  return 1
}

# each_run A B RUN: calls RUN REP CONFIG for CONFIG A and B in each of REPS repetitions, the
# order flipped on each, so that neither always runs on a warmer machine.
each_run() {
  local rep c order
  for rep in $(seq 1 "$REPS"); do
    order="$1 $2"
    if [ $((rep % 2)) -eq 0 ]; then order="$2 $1"; fi
    for c in $order; do "$3" "$rep" "$c"; done
  done
}

# run_bench OUT TAGS ARGS...: runs parley-bench ARGS against the server started last, pinned,
# shows its summary, and appends its JSON line to OUT with TAGS ('"key":value,...') and the
# run's settings in front.
run_bench() {
  local out=$1 tags=$2 json
  shift 2
  mkdir -p "$(dirname "$out")"
  json=$("${PIN_BENCH[@]}" "$BENCH" "$@" --port "$SPORT" --server-pid "$SPID" 2>"$TMP/bench.err") || true
  sed 's/^/   /' "$TMP/bench.err" >&2
  if [ -n "$json" ]; then
    echo "{\"run\":\"$RUN_ID\",$tags,\"db_fs\":\"$DB_FS\",\"pinned\":$PINNED,\"cpus\":$(nproc),${json#\{}" >>"$out"
  else
    echo "$0: parley-bench printed no result" >&2
  fi
}
