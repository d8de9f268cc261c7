#!/usr/bin/env bash
# The cluster benchmark: fan-out across two nodes on one Redis, Parley's cluster next to the
# Node.js reference server's (node-server/server.js with @socket.io/redis-adapter), in one run.
# Each run starts a fresh redis-server on a free loopback port (no persistence) and two nodes of
# one kind on it (Parley: --redis, each with a database of its own; Node: REDIS_URL), then
# parley-bench's fanout with its clients split between the nodes (client i on node i % 2: the
# receivers half on each, the senders too), the CPU of both nodes summed, and Redis sampled with
# INFO at both ends of the measured interval: its CPU, its commands and its PUBLISHes per
# broadcast. The kinds alternate, the order flipped on each repetition. cluster-report.js then
# prints the medians side by side and the ratio of deliveries per server CPU-second.
# Usage: tests/bench/cluster.sh BUILD_DIR
#   BENCH_CLIENTS (1000), BENCH_SENDERS (2), BENCH_REPS (3), BENCH_DURATION (5 s),
#   BENCH_CONFIGS ("parley node"; "parley-no-history" adds Parley nodes with --no-history, whose
#   chats take no entry in the cluster's history stream), BENCH_OUT (results/cluster.jsonl),
#   BENCH_PIN (1: both nodes on CPU 0, parley-bench and redis-server on CPU 1; 0: not pinned),
#   BENCH_BIN, PARLEY_BIN
# Exits with 1 when a run was not clean (the summary is printed first).
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
history_setup 1000 cluster.jsonl "$@"
REPS=${BENCH_REPS:-3}
SENDERS=${BENCH_SENDERS:-2}
CONFIGS=${BENCH_CONFIGS:-parley node}
NODE_SERVER=$HERE/node-server/server.js
command -v redis-server >/dev/null || { echo "$0: redis-server is needed" >&2; exit 1; }
command -v redis-cli >/dev/null || { echo "$0: redis-cli is needed" >&2; exit 1; }
case " $CONFIGS " in
  *" node "*)
    if [ ! -d "$HERE/node-server/node_modules/socket.io" ] ||
       [ ! -d "$HERE/../node_modules/@socket.io/redis-adapter" ]; then
      echo "$0: the npm packages of tests/ and tests/bench/node-server are needed (make deps)" >&2
      exit 1
    fi ;;
esac

# Everything a run starts, killed on exit: the nodes and redis-server.
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done; rm -rf "$TMP"' EXIT

# free_port: prints a loopback port nobody listens on now (redis-server has no --port 0).
free_port() {
  node -e "const s = require('net').createServer().listen(0, '127.0.0.1', () => {
    console.log(s.address().port); s.close(); })"
}

# start_redis: a fresh redis-server without persistence; sets RPORT and RPID.
start_redis() {
  RPORT=$(free_port)
  "${PIN_BENCH[@]}" redis-server --port "$RPORT" --bind 127.0.0.1 --save '' --appendonly no \
    --daemonize no --loglevel warning >"$TMP/redis.log" 2>&1 &
  RPID=$!
  PIDS+=("$RPID")
  for _ in $(seq 1 50); do
    [ "$(redis-cli -p "$RPORT" ping 2>/dev/null)" = PONG ] && return 0
    sleep 0.1
  done
  echo "$0: redis-server did not start:" >&2
  cat "$TMP/redis.log" >&2
  return 1
}

# start_node KIND N: starts node N (a, b) of KIND on the Redis at RPORT; appends its pid and
# port to NPIDS and NPORTS.
start_node() {
  local out=$TMP/node-$2.out err=$TMP/node-$2.err pid flags=()
  case "$1" in
    parley*)
      if [ "$1" = parley-no-history ]; then flags=(--no-history); fi
      unlimited "$PARLEY"
      "${PIN_SERVER[@]}" "$PARLEY" --host 127.0.0.1 --port 0 --no-bundled --log-level warn \
        "${UNLIMITED[@]}" --db "$TMP/$2.db" --redis "redis://127.0.0.1:$RPORT" "${flags[@]}" \
        >"$out" 2>"$err" &
      ;;
    node)
      REDIS_URL="redis://127.0.0.1:$RPORT" PORT=0 "${PIN_SERVER[@]}" node "$NODE_SERVER" \
        >"$out" 2>"$err" &
      ;;
  esac
  pid=$!
  PIDS+=("$pid")
  if ! wait_listening "$pid" "$out"; then
    echo "$0: node $2 ($1) did not start:" >&2
    cat "$err" >&2
    return 1
  fi
  NPIDS+=("$pid")
  NPORTS+=("$SPORT")
}

# wait_subscribed N: waits up to 10 s until N clients of Redis hold pattern subscriptions (each
# node subscribes to its namespaces' patterns), so that the first login already crosses.
wait_subscribed() {
  local n
  for _ in $(seq 1 100); do
    n=$(redis-cli -p "$RPORT" client list 2>/dev/null | grep -c ' psub=[1-9]' || true)
    [ "$n" -ge "$1" ] && return 0
    sleep 0.1
  done
  echo "$0: the nodes did not subscribe on redis" >&2
  return 1
}

# stop_all: stops the run's nodes and redis-server (SIGTERM, then SIGKILL after 5 s).
stop_all() {
  local p
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do
    SPID=$p
    stop_server
  done
  PIDS=()
}

failed=0
# one_run REP KIND: a fresh Redis and two fresh nodes of KIND, one fan-out.
one_run() {
  local json load ports pids
  rm -f "$TMP"/*.db*
  NPIDS=(); NPORTS=()
  start_redis || exit 1
  start_node "$2" a || exit 1
  start_node "$2" b || exit 1
  wait_subscribed 2 || exit 1
  ports=$(IFS=,; echo "${NPORTS[*]}")
  pids=$(IFS=,; echo "${NPIDS[*]}")
  load=$(cut -d' ' -f1-3 /proc/loadavg)
  echo "== rep $1/$REPS $2 (nodes $pids on ports $ports, redis on $RPORT, load $load)" >&2
  json=$("${PIN_BENCH[@]}" "$BENCH" fanout --clients "$CLIENTS" --senders "$SENDERS" \
    --duration "$DUR" --port "$ports" --server-pid "$pids" --redis-port "$RPORT" \
    2>"$TMP/bench.err") || failed=$((failed + 1))
  sed 's/^/   /' "$TMP/bench.err" >&2
  if [ -n "$json" ]; then
    mkdir -p "$(dirname "$OUT")"
    echo "{\"run\":\"$RUN_ID\",\"rep\":$1,\"server\":\"$2\",\"nodes\":2,\"pinned\":$PINNED,\"cpus\":$(nproc),\"loadavg\":\"$load\",${json#\{}" >>"$OUT"
  else
    echo "$0: parley-bench printed no result" >&2
    failed=$((failed + 1))
  fi
  stop_all
}

for rep in $(seq 1 "$REPS"); do
  order=$CONFIGS
  if [ $((rep % 2)) -eq 0 ]; then order=$(echo "$CONFIGS" | tr ' ' '\n' | tac | tr '\n' ' '); fi
  for c in $order; do one_run "$rep" "$c"; done
done
node "$HERE/cluster-report.js" "$OUT" "$RUN_ID"
[ "$failed" -eq 0 ]
