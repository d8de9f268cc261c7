#!/usr/bin/env bash
# What holding many WebSockets costs at the two ends of their life: how fast Parley accepts them
# while it already holds thousands, and how long it takes to stop once it holds them all. For
# each size in BENCH_SIZES, a fresh server; parley-bench's "idle" scenario opens that many
# WebSockets (reporting the accept rate per bin of BENCH_STEP connections); once they are all
# open and a second has passed, SIGTERM, and the time until the server has exited. Prints the
# medians per server and size and appends one JSON line per run to
# tests/bench/results/shutdown.jsonl.
# Usage: tests/bench/shutdown.sh BUILD_DIR [LABEL=PARLEY_BINARY ...]
#   With binaries named, those are compared (in alternating order, flipped on each repetition);
#   without, BUILD_DIR/parley runs alone, labelled "parley".
#   BENCH_SIZES (5000 10000 19000), BENCH_REPS (3), BENCH_STEP (1000), BENCH_CONCURRENCY (200
#   handshakes in flight), BENCH_SOURCES (32 loopback source addresses: from one, the client's
#   kernel slows down as its ephemeral ports fill, see --sources in README.md), BENCH_OUT,
#   BENCH_BIN, BENCH_PIN (1: server on CPU 0, parley-bench on CPU 1; 0: not pinned)
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
[ $# -ge 1 ] || { echo "usage: $0 BUILD_DIR [LABEL=PARLEY_BINARY ...]" >&2; exit 2; }
BUILD=$(cd "$1" && pwd)
shift
HERE=$(cd "$(dirname "$0")" && pwd)
SIZES=${BENCH_SIZES:-5000 10000 19000}
REPS=${BENCH_REPS:-3}
STEP=${BENCH_STEP:-1000}
CONC=${BENCH_CONCURRENCY:-200}
SOURCES=${BENCH_SOURCES:-32}
OUT=${BENCH_OUT:-$HERE/results/shutdown.jsonl}
BENCH=
for f in "${BENCH_BIN:-}" "$BUILD/tests/bench/parley-bench" "$BUILD/parley-bench"; do
  if [ -n "$f" ] && [ -x "$f" ]; then BENCH=$f; break; fi
done
[ -n "$BENCH" ] || { echo "$0: parley-bench not found in $BUILD (build it first)" >&2; exit 1; }
SERVERS=("$@")
[ ${#SERVERS[@]} -gt 0 ] || SERVERS=("parley=$BUILD/parley")
for s in "${SERVERS[@]}"; do
  [ -x "${s#*=}" ] || { echo "$0: ${s#*=} is not an executable" >&2; exit 1; }
done
# shellcheck disable=SC2034  # PIN_SERVER and PARLEY are start_parley's (lib.sh)
PIN_SERVER=(); PIN_BENCH=(); PINNED=false
if [ "${BENCH_PIN:-1}" = 1 ] && command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
  # shellcheck disable=SC2034
  PIN_SERVER=(taskset -c 0)
  PIN_BENCH=(taskset -c 1)
  PINNED=true
fi
# one descriptor per WebSocket on each side, and some to spare
max=$(echo "$SIZES" | tr ' ' '\n' | sort -n | tail -1)
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $((max + 100)) ]; then
  echo "$0: $((max + 100)) file descriptors needed, the hard limit is $(ulimit -Hn)" >&2
  exit 1
fi
TMP=$(mktemp -d "${TMPDIR:-/tmp}/parley-shutdown.XXXXXX")
RUN_ID=$(date -u +%Y-%m-%dT%H:%M:%SZ)
SPID=
BPID=
cleanup() {
  local p
  for p in "${SPID:-}" "${BPID:-}"; do
    if [ -n "$p" ]; then kill -KILL "$p" 2>/dev/null || true; fi
  done
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir -p "$(dirname "$OUT")"

# now_ns: the monotonic-enough wall clock in nanoseconds
now_ns() { date +%s%N; }

# one_run REP LABEL BINARY CLIENTS: one server, CLIENTS WebSockets, SIGTERM; appends a line.
one_run() {
  local rep=$1 label=$2 bin=$3 n=$4 t0 t1 rc=0 rates done_line
  # shellcheck disable=SC2034
  PARLEY=$bin
  rm -f "$TMP"/db* "$TMP"/bench.*
  # the default --max-connections: one lower than ulimit -n makes Parley size lws's fd table
  # below it, and lws 4.1 then scans that table on every accept and close (see README.md)
  start_parley --db "$TMP/db" || exit 1
  "${PIN_BENCH[@]}" "$BENCH" idle --clients "$n" --port "$SPORT" --ramp-step "$STEP" \
    --concurrency "$CONC" --sources "$SOURCES" --duration 3600 >"$TMP/bench.out" 2>"$TMP/bench.err" &
  BPID=$!
  for _ in $(seq 1 3000); do
    grep -q 'ramp done: ' "$TMP/bench.err" && break
    kill -0 "$BPID" 2>/dev/null || break
    sleep 0.1
  done
  done_line=$(grep -m1 'ramp done: ' "$TMP/bench.err" || true)
  if [ -z "$done_line" ]; then
    echo "$0: the ramp did not finish:" >&2
    cat "$TMP/bench.err" >&2
    exit 1
  fi
  sleep 1
  t0=$(now_ns)
  kill -TERM "$SPID"
  wait "$SPID" || rc=$?
  t1=$(now_ns)
  SPID=
  kill -TERM "$BPID" 2>/dev/null || true
  wait "$BPID" 2>/dev/null || true
  BPID=
  rates=$(sed -n 's/.*ramp: [0-9]* connected, \([0-9]*\)\/s.*/\1/p' "$TMP/bench.err" | paste -sd, -)
  local connected ramp_s stop_s
  connected=${done_line#*ramp done: }
  connected=${connected%% *}
  ramp_s=${done_line##* in }
  ramp_s=${ramp_s% s}
  stop_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
  local ok=true
  if [ "$connected" != "$n" ]; then
    ok=false
    echo "$0: only $connected of $n connected: this run is left out of the medians" >&2
    sed 's/^/   /' "$TMP/bench.err" | tail -5 >&2
  fi
  echo "   $label, $n clients: $connected connected in $ramp_s s (per $STEP: $rates /s)," \
    "SIGTERM to exit $stop_s s, exit status $rc" >&2
  echo "{\"run\":\"$RUN_ID\",\"server\":\"$label\",\"rep\":$rep,\"clients\":$n,\"connected\":$connected,\"ramp_s\":$ramp_s,\"ramp_step\":$STEP,\"sources\":$SOURCES,\"ramp_rates\":[$rates],\"sigterm_to_exit_s\":$stop_s,\"exit_status\":$rc,\"ok\":$ok,\"pinned\":$PINNED,\"cpus\":$(nproc)}" >>"$OUT"
}

for rep in $(seq 1 "$REPS"); do
  order=("${SERVERS[@]}")
  if [ $((rep % 2)) -eq 0 ]; then
    order=()
    for ((i = ${#SERVERS[@]} - 1; i >= 0; i--)); do order+=("${SERVERS[$i]}"); done
  fi
  for n in $SIZES; do
    for s in "${order[@]}"; do
      echo "== rep $rep/$REPS ${s%%=*} $n clients" >&2
      one_run "$rep" "${s%%=*}" "${s#*=}" "$n"
    done
  done
done

# the summary: medians over the repetitions of this invocation
echo
printf '%-10s %7s %12s %12s %12s %10s %10s\n' server clients "first bin/s" "last bin/s" \
  "slowest/s" "ramp s" "SIGTERM s"
for s in "${SERVERS[@]}"; do
  for n in $SIZES; do
    grep -F "\"run\":\"$RUN_ID\",\"server\":\"${s%%=*}\"," "$OUT" | grep -F "\"clients\":$n," | grep -F '"ok":true' |
      awk -v label="${s%%=*}" -v n="$n" '
        function med(a, k,   i, j, t) {
          for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
          return k % 2 ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
        }
        {
          match($0, /"ramp_rates":\[[^]]*\]/); r = substr($0, RSTART + 14, RLENGTH - 15)
          m = split(r, v, ",")
          k++; first[k] = v[1]; last[k] = v[m] + 0; slow[k] = v[1] + 0
          for (i = 1; i <= m; i++) if (v[i] + 0 < slow[k]) slow[k] = v[i] + 0
          match($0, /"ramp_s":[0-9.]+/); ramp[k] = substr($0, RSTART + 9, RLENGTH - 9) + 0
          match($0, /"sigterm_to_exit_s":[0-9.]+/); stop[k] = substr($0, RSTART + 20, RLENGTH - 20) + 0
        }
        END { if (k) printf "%-10s %7d %12.0f %12.0f %12.0f %10.2f %10.3f\n", label, n,
                med(first, k), med(last, k), med(slow, k), med(ramp, k), med(stop, k) }'
  done
done
