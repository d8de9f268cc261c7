'use strict';
// A second client implementation: Debian's python3-socketio (driven through py_client.py) and the
// npm socket.io-client chatting through the real parley binary, over each of python-socketio's
// transports: polling only, WebSocket only, and polling upgraded to WebSocket (its default). Each
// test starts its own server on an ephemeral loopback port and bounds every wait.

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const path = require('node:path');
const readline = require('node:readline');

const {
  startServer, connected, emitAck, record, uniqueName, withTimeout,
} = require('../e2e/lib/server.js');

// python3-socketio is a Debian package: it is in the system interpreter's dist-packages, which
// a python3 found earlier on PATH (a virtualenv, a version manager's shim) does not see.
const PYTHON = process.env.PARLEY_PYTHON || '/usr/bin/python3';
const CLIENT = path.join(__dirname, 'py_client.py');
const REPLY_TIMEOUT_MS = 8000;
const EVENT_TIMEOUT_MS = 3000;

// Pythons still running when this test process exits are killed with it.
const running = new Set();
process.on('exit', () => {
  for (const p of running) p.kill('SIGKILL');
});

// The environment of a Python client: no proxy, so that requests and websocket-client go
// straight to the loopback server.
function pythonEnv() {
  const env = { ...process.env, PYTHONUNBUFFERED: '1', NO_PROXY: '*', no_proxy: '*' };
  for (const k of ['http_proxy', 'https_proxy', 'all_proxy']) {
    delete env[k];
    delete env[k.toUpperCase()];
  }
  return env;
}

// One python-socketio client in a child process. cmd() sends a command and resolves with its
// reply; next() resolves with the arguments of the next event that matches. The process is
// ended when the test t ends, and must exit 0 with nothing on stderr.
class PyClient {
  constructor(t) {
    this.proc = spawn(PYTHON, [CLIENT], { env: pythonEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
    running.add(this.proc);
    this.exited = new Promise((resolve) => {
      this.proc.on('exit', (code, signal) => resolve({ code, signal }));
      // a python that cannot be started never exits: its error stands for the exit status
      this.proc.on('error', (e) => resolve({ error: `${PYTHON}: ${e.message}` }));
    });
    this.exited.then(() => running.delete(this.proc));
    this.proc.stdin.on('error', () => {}); // a dead client: reported through `exited`
    this.stderr = '';
    this.proc.stderr.setEncoding('utf8');
    this.proc.stderr.on('data', (c) => { this.stderr += c; });
    this.seq = 0;
    this.pending = new Map();
    this.events = [];
    this.waiters = [];
    readline.createInterface({ input: this.proc.stdout }).on('line', (line) => this.line(line));
    this.ended = null;
    this.exited.then((how) => {
      this.ended = how;
      for (const { reject } of this.pending.values()) {
        reject(new Error(`python client ended (${JSON.stringify(how)}); stderr: ${this.stderr}`));
      }
    });
    t.after(() => this.end());
  }

  line(text) {
    const m = JSON.parse(text);
    if (m.re !== undefined) {
      const p = this.pending.get(m.re);
      this.pending.delete(m.re);
      if (p) p.resolve(m);
      return;
    }
    this.events.push(m);
    for (const w of this.waiters.splice(0)) w();
  }

  // Sends command op with fields; resolves with the reply, rejects when the client failed.
  async cmd(op, fields = {}, timeoutMs = REPLY_TIMEOUT_MS) {
    if (this.ended) {
      const how = JSON.stringify(this.ended);
      throw new Error(`python client ended (${how}); stderr: ${this.stderr}`);
    }
    const id = ++this.seq;
    const reply = new Promise((resolve, reject) => this.pending.set(id, { resolve, reject }));
    this.proc.stdin.write(`${JSON.stringify({ op, id, ...fields })}\n`);
    const r = await withTimeout(reply, timeoutMs, `the python client's reply to ${op}`);
    if (!r.ok) throw new Error(`python client, ${op}: ${r.error}`);
    return r;
  }

  connect(url, transports, namespaces = ['/'], extra = {}) {
    return this.cmd('connect', { url, transports, namespaces, ...extra });
  }

  // Emits event with args (an array) on ns; with ack, resolves with the ack's arguments.
  async emit(event, args, { ns = '/', ack = false } = {}) {
    const r = await this.cmd('emit', { event, args, ns, ack, timeout: EVENT_TIMEOUT_MS / 1000 });
    return r.args;
  }

  emitAck(event, args, opts = {}) {
    return this.emit(event, args, { ...opts, ack: true });
  }

  // Resolves with the next event called `event` on ns that filter(args) accepts (events before
  // it that match the name are consumed), as {args, answer}; rejects after timeoutMs.
  async next(event, { ns = '/', filter = () => true, timeoutMs = EVENT_TIMEOUT_MS } = {}) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.events.findIndex((e) => e.ev === event && e.ns === ns);
      if (i >= 0) {
        const [e] = this.events.splice(i, 1);
        if (filter(e.args)) return e;
        continue;
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(`python client: no '${event}' on ${ns} within ${timeoutMs} ms; ` +
          `events left: ${JSON.stringify(this.events)}`);
      }
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  async log() {
    return (await this.cmd('log')).lines;
  }

  async end() {
    if (this.proc.exitCode === null && this.proc.signalCode === null && this.proc.pid) {
      this.proc.stdin.end();
      try {
        await withTimeout(this.exited, 5000, 'the python client to exit');
      } catch (e) {
        this.proc.kill('SIGKILL');
        throw e;
      }
    }
    assert.deepEqual(await this.exited, { code: 0, signal: null }, `python exit; ${this.stderr}`);
    assert.equal(this.stderr, '', 'the python client wrote nothing on stderr');
  }
}

const bytes = (buf) => ({ $bytes: Buffer.from(buf).toString('base64') });
const unbytes = (v) => Buffer.from(v.$bytes, 'base64');
const notHistory = (args) => !(args[0] && args[0].history === true);

// Asserts that args are `want` followed by one connection-state-recovery offset (a string of
// digits, as parley appends to every event it sends without asking for an ack); returns it.
function withOffset(args, want, what) {
  assert.equal(args.length, want.length + 1, `${what}: ${want.length} argument(s) and an offset: ` +
    JSON.stringify(args));
  assert.deepEqual(args.slice(0, want.length), want, what);
  const offset = args[want.length];
  assert.match(offset, /^\d+$/, `${what}: the trailing offset`);
  return offset;
}

// python-socketio's transports, and the npm client's transports paired with each, so that every
// test relays between two different transports.
const MODES = [
  { name: 'polling', transports: ['polling'], npm: ['websocket'] },
  { name: 'websocket', transports: ['websocket'], npm: ['polling'] },
  {
    name: 'polling upgraded to websocket',
    transports: ['polling', 'websocket'],
    npm: ['polling', 'websocket'],
  },
];

// What the engine.io client's log must show for each mode (its own log lines, which name the
// transport it opened and whether it upgraded).
function checkTransport(mode, lines, transport) {
  const has = (s) => lines.some((l) => l.includes(s));
  const polling = has('Polling connection accepted');
  const websocket = has('WebSocket connection accepted');
  const upgraded = has('WebSocket upgrade was successful');
  const seen = { polling, websocket, upgraded, transport };
  const want = {
    polling: { polling: true, websocket: false, upgraded: false, transport: 'polling' },
    websocket: { polling: false, websocket: true, upgraded: false, transport: 'websocket' },
    'polling upgraded to websocket':
      { polling: true, websocket: false, upgraded: true, transport: 'websocket' },
  }[mode.name];
  assert.deepEqual(seen, want, `transports of the python client:\n${lines.join('\n')}`);
}

// An npm client logged in on "/" of srv; resolves with {s, name, userid}.
async function npmUser(t, srv, name, transports) {
  const s = await connected(t, srv, '/', { transports });
  const userid = uniqueName(`npm-${name}`);
  assert.deepEqual(await emitAck(s, 'login', { name, userid }), { ok: true });
  return { s, name, userid, me: { id: s.id, name, userid } };
}

// A python client logged in on "/" of srv (and connected to the other namespaces given).
async function pyUser(t, srv, mode, name, namespaces = ['/']) {
  const py = new PyClient(t);
  const c = await py.connect(srv.url, mode.transports, namespaces);
  checkTransport(mode, await py.log(), c.transport);
  py.name = name;
  py.userid = uniqueName(`py-${name}`);
  py.sids = c.sids;
  py.me = { id: c.sids['/'], name, userid: py.userid };
  assert.deepEqual(await py.emitAck('login', [{ name, userid: py.userid }]), [{ ok: true }]);
  return py;
}

const byName = (a, b) => a.name.localeCompare(b.name);

for (const mode of MODES) {
  describe(`python-socketio over ${mode.name}`, () => {
    it('logs in, joins a room and chats with an npm client, acks both ways', async (t) => {
      const srv = await startServer(t);
      const ada = await npmUser(t, srv, 'ada', mode.npm);
      const logins = record(ada.s, 'login', { all: true });
      const joined = record(ada.s, 'joined', { all: true });
      const left = record(ada.s, 'left', { all: true });
      const chats = record(ada.s, 'chat', { all: true, filter: notHistory });

      const py = await pyUser(t, srv, mode, 'guido');
      withOffset((await py.next('login')).args, ['guido'], 'python hears its own login');
      withOffset(await logins.next(), ['guido'], 'npm hears the python login');

      const room = uniqueName('room');
      assert.deepEqual(await emitAck(ada.s, 'join', { room }),
        { ok: true, room, members: [ada.me] });
      const [joinAck] = await py.emitAck('join', [{ room }]);
      assert.deepEqual({ ...joinAck, members: [...joinAck.members].sort(byName) },
        { ok: true, room, members: [ada.me, py.me] }, 'the python join ack lists both');
      withOffset(await joined.next(), [{ room, user: py.me }], 'npm hears python joined');

      // UTF-8 beyond ASCII: python-socketio escapes it as \uXXXX, surrogate pairs included.
      const text = 'héllo from Python ✓ 😀';
      const [ack] = await py.emitAck('chat', [{ room, msg: text }]);
      assert.equal(ack.ok, true);
      assert.equal(ack.delivered, 1);
      assert.ok(Number.isInteger(ack.id), `the chat ack has the stored id: ${JSON.stringify(ack)}`);
      const offset = withOffset(await chats.next(),
        [{ from: { name: 'guido', userid: py.userid }, room, msg: text }], 'npm gets the chat');
      assert.equal(offset, String(ack.id), "a live chat's offset is its stored id");

      const reply = 'hi Python, ✓ from npm';
      const back = await emitAck(ada.s, 'chat', { room, msg: reply });
      assert.equal(back.delivered, 1);
      const got = await py.next('chat', { filter: notHistory });
      const fromAda = { name: 'ada', userid: ada.userid };
      assert.equal(withOffset(got.args, [{ from: fromAda, room, msg: reply }],
        'python gets the chat'), String(back.id));

      // the namespace-wide chat, from python to npm
      const [wide] = await py.emitAck('chat', [{ msg: 'to everyone' }]);
      assert.equal(wide.delivered, 1);
      withOffset(await chats.next(),
        [{ from: { name: 'guido', userid: py.userid }, msg: 'to everyone' }],
        'npm gets the namespace-wide chat');

      // errors come back as acks too
      assert.deepEqual(await py.emitAck('chat', [{ room: uniqueName('not-in'), msg: 'x' }]),
        [{ ok: false, error: 'not in that room' }]);

      await py.cmd('disconnect');
      withOffset(await left.next(), [{ room, user: py.me }], 'npm hears python left');
    });

    it('private messages with confirm: server-to-client acks both ways', async (t) => {
      const srv = await startServer(t);
      const ada = await npmUser(t, srv, 'ada', mode.npm);
      const py = await pyUser(t, srv, mode, 'guido');

      // python asks: the npm client's handler acks
      let npmGot = null;
      ada.s.on('private', (...args) => {
        npmGot = args.slice(0, -1);
        args[args.length - 1]({ seen: 'npm' });
      });
      const ask = { to: ada.userid, msg: 'psst', confirm: true };
      assert.deepEqual(await py.emitAck('private', [ask]),
        [{ ok: true, delivered: 1, confirmed: 1 }]);
      assert.deepEqual(npmGot, [{ from: { name: 'guido', userid: py.userid }, msg: 'psst' }],
        'npm got the private message, with an ack callback and no offset');

      // npm asks: the python handler's return value is the ack
      await py.cmd('answer', { event: 'private', args: [{ seen: 'python' }] });
      const r = await ada.s.timeout(5000).emitWithAck('private',
        { to: py.userid, msg: 'psst back', confirm: true });
      assert.deepEqual(r, { ok: true, delivered: 1, confirmed: 1 });
      const asked = await py.next('private');
      const fromAda = { name: 'ada', userid: ada.userid };
      assert.deepEqual(asked.args, [{ from: fromAda, msg: 'psst back' }],
        'an event that asks for an ack carries no offset');

      // without confirm, the python handler gets the message and the offset
      await py.cmd('answer', { event: 'private', args: [] });
      assert.deepEqual(await emitAck(ada.s, 'private', { to: py.userid, msg: 'plain' }),
        { ok: true, delivered: 1 });
      withOffset((await py.next('private')).args,
        [{ from: { name: 'ada', userid: ada.userid }, msg: 'plain' }], 'python gets the private');
    });

    it('binary: bytes both ways through acks, on "/" and on "/chat"', async (t) => {
      const srv = await startServer(t);
      const ada = await npmUser(t, srv, 'ada', mode.npm);
      const py = await pyUser(t, srv, mode, 'guido', ['/', '/chat']);
      const every = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
      const big = Buffer.alloc(100000, 0xa5);
      const args = [bytes(every), { text: 'nested', parts: [bytes([0]), bytes([]), bytes(big)] }];
      for (const ns of ['/', '/chat']) {
        const back = await py.emitAck('echo', args, { ns });
        assert.deepEqual(back, args, `python's bytes come back as bytes on ${ns}`);
        assert.ok(unbytes(back[1].parts[2]).equals(big));
      }
      // the same bytes from the npm client come back as Buffers, equal to python's
      const npmBack = await ada.s.timeout(5000).emitWithAck('echo', every, { parts: [big] });
      assert.ok(Buffer.isBuffer(npmBack) && npmBack.equals(every));
    });

    it('the "/chat" namespace: the tutorial\'s rooms example with an npm client', async (t) => {
      const srv = await startServer(t);
      const py = new PyClient(t);
      const c = await py.connect(srv.url, mode.transports, ['/chat']);
      checkTransport(mode, await py.log(), c.transport);
      const npm = await connected(t, srv, '/chat', { transports: mode.npm });
      const npmGot = record(npm, 'chat message', { all: true });
      const room = uniqueName('room');

      // the npm client joins the room by speaking first; the sender hears itself too
      npm.emit('chat message', { name: 'ada', room, msg: 'first' });
      withOffset(await npmGot.next(), ['first'], 'npm hears itself');
      await py.emit('chat message', [{ name: 'guido', room, msg: 'from python' }], { ns: '/chat' });
      withOffset((await py.next('chat message', { ns: '/chat' })).args, ['from python'],
        'python hears itself');
      withOffset(await npmGot.next(), ['from python'], 'npm hears python');
      npm.emit('chat message', { name: 'ada', room, msg: 'from npm' });
      withOffset((await py.next('chat message', { ns: '/chat' })).args, ['from npm'],
        'python hears npm');
      await npmGot.next();
    });

    it('binary events from the server (the conformance setup)', async (t) => {
      const srv = await startServer(t, { app: 'conformance' });
      const py = new PyClient(t);
      const auth = { token: 'tok-✓' };
      const c = await py.connect(srv.url, mode.transports, ['/'], { auth });
      checkTransport(mode, await py.log(), c.transport);
      const first = await py.next('auth');
      assert.deepEqual(first.args.slice(0, 1), [auth], 'the auth payload echoed on connection');
      const args = [bytes([1, 2, 3]), { b: bytes([0xff, 0]), n: 1.5, s: 'x' }];
      await py.emit('message', args);
      const back = await py.next('message-back');
      assert.deepEqual(back.args.slice(0, 2), args, 'a binary event from the server');
      assert.ok(back.args.length <= 3, 'at most an offset after the arguments');
      assert.deepEqual(await py.emitAck('message-with-ack', args), args, 'a binary ack');
    });
  });
}

// As the Node.js tutorial server does, a chat's msg is relayed as it came, bytes included; the
// store keeps JSON, so the ack says such a message was not stored.
describe('python-socketio and npm: binary in a chat message', () => {
  it('a chat whose msg is bytes reaches the other client as bytes', async (t) => {
    const mode = MODES[1];
    const srv = await startServer(t);
    const ada = await npmUser(t, srv, 'ada', mode.npm);
    const chats = record(ada.s, 'chat', { all: true, filter: notHistory });
    const py = await pyUser(t, srv, mode, 'guido');

    const [ack] = await py.emitAck('chat', [{ msg: bytes([1, 2, 3]) }]);
    assert.deepEqual(ack, { ok: true, delivered: 1, stored: false, error: 'binary messages are not stored' });
    const [m] = await chats.next();
    assert.ok(Buffer.isBuffer(m.msg), `npm gets a Buffer: ${JSON.stringify(m.msg)}`);
    assert.ok(m.msg.equals(Buffer.from([1, 2, 3])));

    await emitAck(ada.s, 'chat', { msg: Buffer.from([4, 5]) });
    const got = await py.next('chat', { filter: notHistory });
    assert.deepEqual(got.args[0].msg, bytes([4, 5]), 'python gets bytes');
  });
});
