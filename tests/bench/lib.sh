# shellcheck shell=bash
# Shell functions shared by the benchmark scripts, which source this file (nothing runs when it
# is sourced): waiting for a server's port, stopping it, cleaning up on exit.

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
