"""A Socket.IO client written with Debian's python3-socketio, driven line by line.

The interoperability tests (python.test.js) start one of these per Python user. It reads one JSON
command per line on stdin and answers each with one JSON line on stdout, {"re": ID, "ok": ...};
every event the server sends arrives as a line of its own, {"ev": NAME, "ns": NS, "args": [...],
"acked": BOOL}, with the arguments exactly as python-socketio hands them to a handler (so a
trailing connection-state-recovery offset shows up as one more argument). Bytes travel through
JSON as {"$bytes": BASE64}, in both directions, at any depth.

Commands: connect {url, transports, namespaces, path, auth}, emit {ns, event, args, ack, timeout},
answer {ns, event, args} (what the handler of EVENT returns when the server asks for an ack),
log (the engine.io and socket.io log lines so far), disconnect. End of input disconnects and
exits.
"""

import base64
import json
import logging
import os
import sys
import threading

import socketio

out_lock = threading.Lock()  # one line at a time on stdout
log_lock = threading.Lock()  # the recorded log lines


def write(obj):
    """Writes one JSON line on stdout; handlers on the client's threads call it too."""
    line = json.dumps(obj, separators=(",", ":"))
    with out_lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def to_json(v):
    """Converts what python-socketio delivers into JSON: bytes as {"$bytes": BASE64}."""
    if isinstance(v, (bytes, bytearray)):
        return {"$bytes": base64.b64encode(bytes(v)).decode("ascii")}
    if isinstance(v, (list, tuple)):
        return [to_json(x) for x in v]
    if isinstance(v, dict):
        return {k: to_json(x) for k, x in v.items()}
    return v


def from_json(v):
    """The reverse of to_json: {"$bytes": BASE64} becomes bytes, to be sent as an attachment."""
    if isinstance(v, list):
        return [from_json(x) for x in v]
    if isinstance(v, dict):
        if list(v) == ["$bytes"]:
            return base64.b64decode(v["$bytes"])
        return {k: from_json(x) for k, x in v.items()}
    return v


class Recorder(logging.Handler):
    """Keeps every log line of the engine.io and socket.io clients, for `log` to report."""

    def __init__(self):
        super().__init__(logging.INFO)
        self.lines = []

    def emit(self, record):
        with log_lock:
            self.lines.append(f"{record.name} {record.levelname} {record.getMessage()}")


def logger(name, recorder):
    """A logger of its own for the client (python-socketio's defaults print on stderr)."""
    log = logging.getLogger(name)
    log.setLevel(logging.INFO)
    log.propagate = False
    log.addHandler(recorder)
    return log


class Driver:
    """One python-socketio Client and the commands that drive it."""

    def __init__(self):
        self.recorder = Recorder()
        self.client = socketio.Client(
            reconnection=False,
            logger=logger("interop.socketio", self.recorder),
            engineio_logger=logger("interop.engineio", self.recorder),
        )
        self.answers = {}  # (ns, event) -> the arguments its handler returns as the ack

    def handler(self, ns):
        """The catch-all handler of namespace ns: reports the event, answers its ack if asked."""

        def on_event(event, *args):
            # python-socketio has no way to tell a handler whether an ack was asked for; the
            # answer is only sent when it was, so returning one is harmless otherwise.
            answer = self.answers.get((ns, event))
            write({"ev": event, "ns": ns, "args": to_json(args), "answer": answer is not None})
            if answer is None:
                return None
            return tuple(from_json(answer))

        return on_event

    def connect(self, cmd):
        namespaces = cmd.get("namespaces", ["/"])
        for ns in namespaces:
            self.client.on("*", self.handler(ns), namespace=ns)
            self.client.on("disconnect", self.disconnected(ns), namespace=ns)
        self.client.connect(
            cmd["url"],
            auth=cmd.get("auth"),
            transports=cmd.get("transports"),
            namespaces=namespaces,
            socketio_path=cmd.get("path", "socket.io"),
            wait_timeout=cmd.get("timeout", 5),
        )
        sids = {ns: self.client.get_sid(ns) for ns in namespaces}
        return {"transport": self.client.transport(), "sid": self.client.sid, "sids": sids}

    def disconnected(self, ns):
        def on_disconnect():
            write({"ev": "disconnect", "ns": ns, "args": []})

        return on_disconnect

    def emit(self, cmd):
        ns = cmd.get("ns", "/")
        args = from_json(cmd.get("args", []))
        # python-socketio sends a tuple as that many arguments, anything else as one
        data = args[0] if len(args) == 1 else tuple(args)
        if not cmd.get("ack"):
            self.client.emit(cmd["event"], data, namespace=ns)
            return {}
        done = threading.Event()
        got = {}

        def callback(*acked):
            got["args"] = acked
            done.set()

        self.client.emit(cmd["event"], data, namespace=ns, callback=callback)
        if not done.wait(cmd.get("timeout", 5)):
            raise TimeoutError(f"no ack for {cmd['event']!r} on {ns}")
        return {"args": to_json(got["args"])}

    def answer(self, cmd):
        self.answers[(cmd.get("ns", "/"), cmd["event"])] = cmd.get("args", [])
        return {}

    def log(self, cmd):
        with log_lock:
            return {"lines": list(self.recorder.lines)}

    def disconnect(self, cmd):
        self.client.disconnect()
        return {}


def main():
    driver = Driver()
    ops = {
        "connect": driver.connect,
        "emit": driver.emit,
        "answer": driver.answer,
        "log": driver.log,
        "disconnect": driver.disconnect,
    }
    for line in sys.stdin:
        if not line.strip():
            continue
        cmd = json.loads(line)
        try:
            reply = ops[cmd["op"]](cmd)
            write({"re": cmd.get("id"), "ok": True, **reply})
        except Exception as e:  # reported to the test, which fails with the message
            write({"re": cmd.get("id"), "ok": False, "error": f"{type(e).__name__}: {e}"})
    try:
        driver.client.disconnect()
    finally:
        sys.stdout.flush()
        # the engine.io client's threads are not daemons: do not wait for them
        os._exit(0)


if __name__ == "__main__":
    main()
