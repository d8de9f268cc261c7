# Sourced by the benchmark scripts. bench_tmp NAME makes the scratch directory TMP, removed with
# the server still running (SPID) at exit. start_parley LABEL ARGS... starts "${PIN_SERVER[@]}"
# $BUILD/parley on a free loopback port with ARGS, its output in $TMP/out and $TMP/err, and
# sets SPID and port; exits naming LABEL when it does not start within 10 s.
start_parley() {
  local label=$1
  shift
  "${PIN_SERVER[@]}" "$BUILD/parley" --host 127.0.0.1 --port 0 --web-root "$ROOT/web" \
    --log-level warn "$@" >"$TMP/out" 2>"$TMP/err" &
  SPID=$!
  port=
  for _ in $(seq 100); do
    port=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$TMP/out")
    [ -n "$port" ] && return 0
    sleep 0.1
  done
  echo "$(basename "$0"): parley ($label) did not start:" >&2
  cat "$TMP/err" >&2
  exit 1
}

bench_tmp() {
  TMP=$(mktemp -d "/tmp/parley-bench-$1.XXXXXX")
  SPID=
  trap '[ -n "$SPID" ] && kill -KILL "$SPID" 2>/dev/null; rm -rf "$TMP"' EXIT
}
