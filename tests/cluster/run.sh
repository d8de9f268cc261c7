#!/bin/sh
# Runs the cluster tests against BUILD_DIR/parley: tests/cluster/run.sh BUILD_DIR
# Each test file starts its own redis-server (Debian's, on a free loopback port, no
# persistence), Parley nodes and an in-process Node.js Socket.IO node with
# @socket.io/redis-adapter, and stops them at the end; proxies.test.js puts two nodes behind
# Debian's nginx and HAProxy, run on free loopback ports with their files in temporary
# directories. Needs redis-server on PATH, nginx and haproxy (on PATH or in /usr/sbin) and
# `npm ci` in tests/ (make deps does all). Exits non-zero when a test fails.
set -eu
if [ $# -ne 1 ]; then
  echo "usage: $0 BUILD_DIR" >&2
  exit 2
fi
if ! command -v redis-server >/dev/null 2>&1; then
  echo "cluster: redis-server not found (make deps installs the redis-server package)" >&2
  exit 2
fi
# the same runner as the end-to-end tests: the binary checked, two files at a time
exec "$(dirname "$0")/../e2e/run.sh" "$1" tests/cluster/
