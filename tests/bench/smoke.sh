#!/usr/bin/env bash
# Quick check that parley-bench and a server agree on the protocol: every scenario for about a
# second with few clients against a fresh server each; exits non-zero when a run fails (a
# connection refused or dropped, a message lost, nothing measured). The server command must
# print "listening on HOST:PORT" on stdout; it defaults to BUILD_DIR/parley on a free port, and
# only then are the scenarios of Parley's chat history run too (store with the history on and
# off, replay), since other servers have none, and a tiny cluster.sh (20 clients, one run of
# a second on two Parley nodes and one on two Node.js nodes) when redis-server is installed.
# Usage: tests/bench/smoke.sh BUILD_DIR [SERVER_COMMAND...]
#   e.g. tests/bench/smoke.sh build node tests/bench/node-server/server.js 0
set -uo pipefail

if [ $# -lt 1 ]; then
  echo "usage: $0 BUILD_DIR [SERVER_COMMAND...]" >&2
  exit 2
fi
BUILD=$(cd "$1" && pwd)
shift
HERE=$(cd "$(dirname "$0")" && pwd)
BENCH=
for f in "${BENCH_BIN:-}" "$BUILD/tests/bench/parley-bench" "$BUILD/parley-bench"; do
  if [ -n "$f" ] && [ -x "$f" ]; then BENCH=$f; break; fi
done
if [ -z "$BENCH" ]; then
  echo "smoke.sh: parley-bench not found in $BUILD" >&2
  exit 1
fi
TMP=$(mktemp -d /tmp/parley-smoke.XXXXXX)
SPID=
# shellcheck source=lib.sh
. "$HERE/lib.sh"
on_exit_clean
# Each run is "SERVER_ARGS|SCENARIO", the server's arguments added to its command.
RUNS=("|idle --clients 20" "|fanout --clients 20" "|fanout --clients 20 --rate 200"
      "|rooms --clients 20 --room-size 5" "|echo --clients 10" "|churn --clients 5"
      "|polling --clients 10")
if [ $# -gt 0 ]; then
  CMD=("$@")
else
  unlimited "$BUILD/parley"
  CMD=("$BUILD/parley" --host 127.0.0.1 --port 0 --log-level warn --web-root "$HERE/../../web" --db "$TMP/parley.db" --no-bundled "${UNLIMITED[@]}")
  RUNS+=("|store --clients 10" "--no-history|store --clients 10 --no-history"
         "|replay --clients 5")
fi

fails=0
passes=0
for run in "${RUNS[@]}"; do
  sc=${run#*|}
  read -ra extra <<<"${run%%|*}"
  rm -f "$TMP"/parley.db*
  "${CMD[@]}" "${extra[@]}" >"$TMP/out" 2>"$TMP/err" &
  SPID=$!
  if ! wait_listening "$SPID" "$TMP/out"; then
    echo "smoke.sh: server did not start: ${CMD[*]} ${extra[*]}" >&2
    cat "$TMP/err" >&2
    exit 1
  fi
  port=$SPORT
  # shellcheck disable=SC2086
  if timeout 30 "$BENCH" $sc --duration 1 --port "$port" --server-pid "$SPID" >"$TMP/json" 2>"$TMP/berr"; then
    passes=$((passes + 1))
    echo "ok   $sc: $(cat "$TMP/json")"
  else
    fails=$((fails + 1))
    echo "FAIL $sc: $(cat "$TMP/json")"
    sed 's/^/     /' "$TMP/berr"
    kill -0 "$SPID" 2>/dev/null || echo "     (the server is no longer running)"
    echo "     server stderr (last lines):"
    tail -5 "$TMP/err" | sed 's/^/     /'
  fi
  # The server must also shut down cleanly on SIGTERM within 5 s.
  kill -TERM "$SPID" 2>/dev/null || true
  for _ in $(seq 1 50); do
    kill -0 "$SPID" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$SPID" 2>/dev/null; then
    fails=$((fails + 1))
    echo "FAIL $sc: the server did not exit within 5 s of SIGTERM"
    kill -KILL "$SPID" 2>/dev/null || true
  fi
  wait "$SPID" 2>/dev/null || true
  SPID=
done
if [ $# -eq 0 ]; then
  if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
    echo "skip cluster.sh: no redis-server"
  elif BENCH_REPS=1 BENCH_CLIENTS=20 BENCH_DURATION=1 BENCH_PIN=0 BENCH_OUT="$TMP/cluster.jsonl" \
       timeout 60 "$HERE/cluster.sh" "$BUILD" >"$TMP/cluster.out" 2>"$TMP/cluster.err"; then
    passes=$((passes + 1))
    echo "ok   cluster.sh, 20 clients: $(grep -c . "$TMP/cluster.jsonl") runs, all clean"
  else
    fails=$((fails + 1))
    echo "FAIL cluster.sh, 20 clients:"
    sed 's/^/     /' "$TMP/cluster.out" "$TMP/cluster.err" | tail -30
  fi
fi
echo "smoke: $passes passed, $fails failed"
[ "$fails" -eq 0 ]
