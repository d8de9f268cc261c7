#!/bin/sh
# Runs the interoperability tests against BUILD_DIR/parley: tests/interop/run.sh BUILD_DIR
# Debian's python3-socketio chats with the npm socket.io-client through the server. Needs the
# Debian packages python3-socketio, python3-websocket and python3-requests, and `npm ci` in
# tests/ (make deps does both). Exits non-zero when a test fails.
set -eu
if [ $# -ne 1 ]; then
  echo "usage: $0 BUILD_DIR" >&2
  exit 2
fi
# the Debian packages live in the system interpreter's dist-packages (see python.test.js)
PARLEY_PYTHON=${PARLEY_PYTHON:-/usr/bin/python3}
export PARLEY_PYTHON
if ! "$PARLEY_PYTHON" -c 'import socketio, websocket, requests' 2>/dev/null; then
  echo "interop: $PARLEY_PYTHON cannot import socketio, websocket and requests" \
    "(make deps installs python3-socketio python3-websocket python3-requests)" >&2
  exit 2
fi
# the same runner as the end-to-end tests: the binary checked, two files at a time
exec "$(dirname "$0")/../e2e/run.sh" "$1" tests/interop/
