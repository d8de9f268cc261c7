#!/usr/bin/env bash
# What the extensions cost: fan-out and rooms against Parley with no extension (--no-bundled),
# with the default configuration (bundled plugins and scripts; bundled-loadtest.lua only raises
# the rate limiter's limits out of the load generator's reach) and with one Lua chat hook
# (one-chat-hook.lua), alternating, BENCH_REPS times, the server pinned to CPU 0 and
# parley-bench to CPU 1. fanout-10 (fan-out to 9 receivers) shows the cost per message.
# Prints medians and each configuration's ratio to "none"; the JSON lines go to
# BUILD_DIR/bench-extensions.jsonl. Usage: tests/bench/extensions.sh BUILD_DIR
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
BUILD=$(cd "$1" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
REPS=${BENCH_REPS:-3}
DUR=${BENCH_DURATION:-5}
OUT=${BENCH_OUT:-$BUILD/bench-extensions.jsonl}
BENCH=$BUILD/parley-bench
[ -x "$BENCH" ] || BENCH=$BUILD/tests/bench/parley-bench
PIN_SERVER=(); PIN_BENCH=()
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
  PIN_SERVER=(taskset -c 0); PIN_BENCH=(taskset -c 1)
fi

declare -A CONFIG=(
  [none]="--no-bundled"
  [default]="--config $HERE/bundled-loadtest.lua"
  [lua-hook]="--no-bundled --script $HERE/one-chat-hook.lua"
)
VARIANTS="none default lua-hook"
declare -A SCENARIO=(
  [fanout]="fanout --clients 1000 --rate 0 --window 16 --duration $DUR"
  [rooms]="rooms --clients 1000 --room-size 10 --duration $DUR"
  [fanout-10]="fanout --clients 10 --rate 0 --window 16 --duration $DUR --label fanout-10"
)
SCENARIOS=${BENCH_SCENARIOS:-fanout rooms fanout-10}

# shellcheck source=lib.sh
. "$HERE/lib.sh"
unlimited "$BUILD/parley"
TMP=$(mktemp -d /tmp/parley-bench-ext.XXXXXX)
SPID=
on_exit_clean

: >"$OUT"
for rep in $(seq 1 "$REPS"); do
  for sc in $SCENARIOS; do
    for v in $VARIANTS; do
      rm -f "$TMP"/db*
      # shellcheck disable=SC2086
      "${PIN_SERVER[@]}" "$BUILD/parley" --host 127.0.0.1 --port 0 --db "$TMP/db" \
        --web-root "$ROOT/web" --log-level warn "${UNLIMITED[@]}" ${CONFIG[$v]} >"$TMP/out" 2>"$TMP/err" &
      SPID=$!
      wait_listening "$SPID" "$TMP/out" || { echo "extensions.sh: parley ($v) did not start:" >&2; cat "$TMP/err" >&2; exit 1; }
      port=$SPORT
      # shellcheck disable=SC2086
      json=$("${PIN_BENCH[@]}" "$BENCH" ${SCENARIO[$sc]} --port "$port" --server-pid "$SPID" 2>/dev/null) || true
      stop_server
      [ -n "$json" ] && echo "{\"config\":\"$v\",\"rep\":$rep,${json#\{}" >>"$OUT"
      echo "== rep $rep/$REPS $sc on $v" >&2
    done
  done
done
node - "$OUT" <<'JS'
const fs = require('fs');
const runs = fs.readFileSync(process.argv[2], 'utf8').trim().split('\n').filter(Boolean).map(JSON.parse);
const med = (a) => { a = a.slice().sort((x, y) => x - y); return a[Math.floor(a.length / 2)]; };
const figs = ['deliveries_per_s', 'server_cpu_us_per_delivery', 'msgs_per_s', 'p99_ms'];
const by = {};
for (const r of runs) ((by[r.scenario] ??= {})[r.config] ??= []).push(r);
for (const [sc, cfgs] of Object.entries(by)) {
  console.log(`\n${sc}`);
  for (const f of figs) {
    const base = cfgs.none ? med(cfgs.none.map((r) => r[f])) : null;
    const cells = Object.entries(cfgs).map(([c, rs]) => {
      const m = med(rs.map((r) => r[f]));
      return `${c} ${+m.toPrecision(4)}${base && c !== 'none' ? ` (${(m / base).toFixed(3)})` : ''}`;
    });
    console.log(`  ${f.padEnd(28)} ${cells.join('   ')}`);
  }
  // server CPU per message: per delivery times the receivers of each message
  const perMsg = (rs) => med(rs.map((r) => r.server_cpu_us_per_delivery * r.deliveries_per_s / r.msgs_per_s));
  const cells = Object.entries(cfgs).map(([c, rs]) => `${c} ${perMsg(rs).toFixed(2)}`);
  console.log(`  ${'server_cpu_us_per_message'.padEnd(28)} ${cells.join('   ')}`);
}
JS
