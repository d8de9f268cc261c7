#!/usr/bin/env bash
# What `make bench` runs: every scenario against Parley and against the reference Node.js
# Socket.IO server (node-server/server.js), alternating, BENCH_REPS times, with a fresh server
# per run on a free loopback port, the server pinned to CPU 0 and parley-bench to CPU 1. The
# JSON lines go to BUILD_DIR/bench-results.jsonl (each with a "server" field added), then
# report.js prints the medians and the Parley / Node ratio of each figure.
# Usage: tests/bench/run.sh BUILD_DIR     (see README.md for the BENCH_* overrides)
set -euo pipefail

if [ $# -lt 1 ]; then
  echo "usage: $0 BUILD_DIR" >&2
  exit 2
fi
BUILD=$(cd "$1" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)

REPS=${BENCH_REPS:-3}
DUR=${BENCH_DURATION:-5}
CLIENTS=${BENCH_CLIENTS:-1000}
IDLE_CLIENTS=${BENCH_IDLE_CLIENTS:-10000}
ECHO_CLIENTS=${BENCH_ECHO_CLIENTS:-50}
CHURN_CLIENTS=${BENCH_CHURN_CLIENTS:-50}
POLL_CLIENTS=${BENCH_POLLING_CLIENTS:-200}
SERVERS=${BENCH_SERVERS:-parley node}
SCENARIOS=${BENCH_SCENARIOS:-idle fanout fanout-100 rooms echo churn polling}
OUT=${BENCH_OUT:-$BUILD/bench-results.jsonl}

find_bin() {
  local f
  for f in "$@"; do
    if [ -x "$f" ]; then echo "$f"; return 0; fi
  done
  return 1
}
BENCH=$(find_bin "${BENCH_BIN:-}" "$BUILD/tests/bench/parley-bench" "$BUILD/parley-bench") || {
  echo "run.sh: parley-bench not found in $BUILD (build it first)" >&2; exit 1; }
PARLEY=$(find_bin "${PARLEY_BIN:-}" "$BUILD/parley" "$BUILD/core/parley") || PARLEY=
case " $SERVERS " in
  *" parley "*) [ -n "$PARLEY" ] || { echo "run.sh: $BUILD/parley not found" >&2; exit 1; } ;;
esac
case " $SERVERS " in
  *" node "*)
    command -v node >/dev/null || { echo "run.sh: node not found" >&2; exit 1; }
    if [ ! -d "$HERE/node-server/node_modules/socket.io" ]; then
      echo "run.sh: installing the reference server's npm packages" >&2
      (cd "$HERE/node-server" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
    fi ;;
esac

cpus=$(nproc)
PIN_SERVER=(); PIN_BENCH=()
if command -v taskset >/dev/null && [ "$cpus" -ge 2 ]; then
  PIN_SERVER=(taskset -c 0); PIN_BENCH=(taskset -c 1)
else
  echo "run.sh: fewer than 2 CPUs or no taskset: not pinning" >&2
fi

TMP=$(mktemp -d /tmp/parley-bench.XXXXXX)
SPID=
# shellcheck source=lib.sh
. "$HERE/lib.sh"
on_exit_clean

# start_server NAME: starts a fresh server, sets SPID and SPORT.
start_server() {
  local log="$TMP/server.log"
  : >"$log"
  # A fresh history database too: Parley replays stored messages to clients that log in.
  rm -f "$TMP"/parley.db*
  case "$1" in
    parley)
      unlimited "$PARLEY"
      (cd "$TMP" && exec "${PIN_SERVER[@]}" "$PARLEY" --host 127.0.0.1 --port 0 --db "$TMP/parley.db" \
        --web-root "$ROOT/web" --log-level warn --no-bundled "${UNLIMITED[@]}" >"$log" 2>"$TMP/server.err") &
      ;;
    node)
      (cd "$TMP" && PORT=0 exec "${PIN_SERVER[@]}" node "$HERE/node-server/server.js" \
        >"$log" 2>"$TMP/server.err") &
      ;;
  esac
  SPID=$!
  wait_listening "$SPID" "$log" && return 0
  echo "run.sh: $1 did not start:" >&2
  cat "$TMP/server.err" >&2 || true
  return 1
}

scenario_args() {
  case "$1" in
    idle) echo "idle --clients $IDLE_CLIENTS --duration $DUR" ;;
    fanout) echo "fanout --clients $CLIENTS --rate 0 --window 16 --duration $DUR" ;;
    fanout-100) echo "fanout --clients $CLIENTS --rate 100 --duration $DUR --label fanout-100" ;;
    rooms) echo "rooms --clients $CLIENTS --room-size 10 --duration $DUR" ;;
    echo) echo "echo --clients $ECHO_CLIENTS --window 1 --duration $DUR" ;;
    churn) echo "churn --clients $CHURN_CLIENTS --duration $DUR" ;;
    polling) echo "polling --clients $POLL_CLIENTS --duration $DUR" ;;
    *) echo "run.sh: unknown scenario $1" >&2; return 1 ;;
  esac
}

: >"$OUT"
start=$(date +%s)
echo "run.sh: Parley runs its default configuration (it has no flood control to raise or turn off), with a fresh history file per run" >&2
for rep in $(seq 1 "$REPS"); do
  # Alternate which server goes first, so neither always runs on a warmer machine.
  order=$SERVERS
  if [ $((rep % 2)) -eq 0 ]; then order=$(echo "$SERVERS" | awk '{for (i = NF; i > 0; i--) printf "%s ", $i}'); fi
  for sc in $SCENARIOS; do
    args=$(scenario_args "$sc")
    for srv in $order; do
      start_server "$srv" || exit 1
      echo "== rep $rep/$REPS $sc on $srv (pid $SPID, port $SPORT)" >&2
      # shellcheck disable=SC2086
      json=$("${PIN_BENCH[@]}" "$BENCH" $args --port "$SPORT" --server-pid "$SPID" 2>"$TMP/bench.err") || true
      sed 's/^/   /' "$TMP/bench.err" >&2
      stop_server
      if [ -n "$json" ]; then
        echo "{\"server\":\"$srv\",\"rep\":$rep,${json#\{}" >>"$OUT"
      else
        echo "run.sh: no result for $sc on $srv" >&2
      fi
    done
  done
done
echo "run.sh: $(wc -l <"$OUT") runs in $(( $(date +%s) - start )) s; results in $OUT" >&2
node "$HERE/report.js" "$OUT"
