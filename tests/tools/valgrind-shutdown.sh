#!/usr/bin/env bash
# Runs the real server under valgrind with WebSocket, polling and upgraded clients in rooms and
# namespaces, stops it with SIGTERM, and fails unless it exits 0 with every heap block freed and
# no memory error. Usage: tests/tools/valgrind-shutdown.sh BUILD_DIR [SERVER_ARGS...] (extra
# arguments, e.g. --plugin FILE, go to the server; it runs without the bundled extensions
# unless they include --bundled)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=$(cd "${1:-build}" && pwd)/parley
# (grep -c reads all of nm's output: with pipefail, grep -q would fail nm with SIGPIPE)
if [ "$(nm "$bin" 2>/dev/null | grep -c __asan_init || true)" != 0 ]; then
  echo "valgrind-shutdown: $bin is a sanitizer build; valgrind does not apply"
  exit 0
fi
tmp=$(mktemp -d)
trap 'kill -9 "$vpid" 2>/dev/null || true; rm -rf "$tmp"' EXIT
# The example plugin, when built, is loaded too: its unloading must free everything as well.
extra=()
example=$(dirname "$bin")/plugins/wordguard.so
if [ $# -le 1 ] && [ -f "$example" ]; then
  echo 'plugin_options = { wordguard = { word = "no such word in this traffic" } }' >"$tmp/conf.lua"
  extra=(--config "$tmp/conf.lua" --plugin "$example")
fi
valgrind --leak-check=full --show-leak-kinds=all --errors-for-leak-kinds=all --error-exitcode=9 \
  "$bin" --port 0 --host 127.0.0.1 --db "$tmp/history.db" --log-level warn \
  --web-root "$root/web" --no-bundled "${extra[@]}" "${@:2}" >"$tmp/out" 2>"$tmp/err" &
vpid=$!
for _ in $(seq 100); do grep -q '^listening on' "$tmp/out" 2>/dev/null && break; sleep 0.1; done
port=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$tmp/out")
[ -n "$port" ] || { echo "valgrind-shutdown: server did not start"; cat "$tmp/err"; exit 1; }

# Clients of every kind, left connected when the server stops.
NODE_PATH="$root/tests/node_modules" timeout 30 node -e '
const { io } = require("socket.io-client");
const url = process.argv[1];
const opts = [{ transports: ["websocket"] }, { transports: ["polling"] }, {}];
const socks = opts.map((o) => io(url, { ...o, forceNew: true, reconnection: false }));
const chat = io(url + "/chat", { forceNew: true, reconnection: false });
Promise.all([...socks, chat].map((s) => new Promise((r) => s.on("connect", r)))).then(async () => {
  socks[0].emit("login", { name: "a", userid: "1" });
  await socks[2].timeout(3000).emitWithAck("join", { room: "r" });
  await socks[0].timeout(3000).emitWithAck("chat", { msg: "hi" });
  await socks[1].timeout(3000).emitWithAck("echo", Buffer.from([1, 2, 3]));
  chat.emit("chat message", { name: "c", room: "z", msg: "m" });
  setTimeout(() => { console.log("clients ready"); }, 300);
});
setTimeout(() => process.exit(0), 5000);
' "http://127.0.0.1:$port" &
cpid=$!
sleep 3
kill -TERM "$vpid"
rc=0; wait "$vpid" || rc=$?
wait "$cpid" 2>/dev/null || true
if [ "$rc" -ne 0 ] || ! grep -q "All heap blocks were freed" "$tmp/err" || ! grep -q "ERROR SUMMARY: 0 errors" "$tmp/err"; then
  echo "valgrind-shutdown: exit $rc"; cat "$tmp/err"; exit 1
fi
echo "valgrind-shutdown: exit 0, all heap blocks freed, no errors"
