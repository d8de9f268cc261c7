'use strict';
// Helpers for the end-to-end tests: start the real parley binary on an ephemeral loopback port
// with a fresh temporary database, and talk to it with the npm socket.io-client, raw HTTP and raw
// WebSocket. Every wait is bounded; everything a test starts is stopped when the test ends.

const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');

const WebSocket = require('ws');
const { io } = require('socket.io-client');

const REPO = path.resolve(__dirname, '..', '..', '..');
const BIN = process.env.PARLEY_BIN
  ? path.resolve(process.env.PARLEY_BIN)
  : path.join(REPO, 'build', 'parley');
const HOST = '127.0.0.1';
// The settings of the official test suites' reference servers, as tests/conformance/*-server
// pass them; startServer() puts them before the caller's own args (later options win).
const APP_ARGS = {
  conformance: [
    '--ping-interval', '300', '--ping-timeout', '200', '--max-payload', '1000000',
    '--connect-timeout', '1000', '--cors-origin', '*', '--namespace', '/custom',
  ],
  'engine-echo': ['--path', '/engine.io/'],
};
const START_TIMEOUT_MS = 10000;
const STOP_TIMEOUT_MS = 5000;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Waits up to ms for the server's stderr to match re (a log line may reach us after the
// answer that followed it), then asserts that it does.
async function logged(srv, re, ms = 2000) {
  for (let waited = 0; waited < ms && !re.test(srv.output().stderr); waited += 20) await sleep(20);
  assert.match(srv.output().stderr, re);
}

// Servers still running when this test process exits (a test timed out, an exception escaped)
// are killed so that no parley outlives its test file.
const running = new Set();
process.on('exit', () => {
  for (const p of running) p.kill('SIGKILL');
});

// Returns a fresh, unique path under os.tmpdir() (a directory is created for it and removed by
// the caller's cleanup).
function tempDir(prefix = 'parley-e2e-') {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

// Registers fn to run when the test (or suite) t ends. Works with node:test contexts.
function onEnd(t, fn) {
  if (t && typeof t.after === 'function') t.after(fn);
}

// Waits for `event` on an emitter (EventEmitter, socket.io socket or Manager, ws WebSocket).
// Resolves with the first argument of the event; rejects after timeoutMs.
function once(emitter, event, timeoutMs = 3000) {
  return onceArgs(emitter, event, timeoutMs).then((args) => args[0]);
}

// Same as once() but resolves with the array of all event arguments.
function onceArgs(emitter, event, timeoutMs = 3000) {
  return new Promise((resolve, reject) => {
    const handler = (...args) => {
      clearTimeout(timer);
      resolve(args);
    };
    const timer = setTimeout(() => {
      emitter.off(event, handler);
      reject(new Error(`timed out after ${timeoutMs} ms waiting for '${event}'`));
    }, timeoutMs);
    emitter.once(event, handler);
  });
}

// Resolves with the value of promise, or rejects with a timeout error naming what was awaited.
function withTimeout(promise, timeoutMs, what = 'operation') {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)),
        timeoutMs,
      );
    }),
  ]).finally(() => clearTimeout(timer));
}

// Collects every `event` emitted by emitter during ms milliseconds; resolves with the list of
// first arguments. Used to assert that nothing (or nothing more) arrives.
async function collect(emitter, event, ms) {
  const got = [];
  const handler = (arg) => got.push(arg);
  emitter.on(event, handler);
  await sleep(ms);
  emitter.off(event, handler);
  return got;
}

// Starts parley. Options:
//   app:   'chat' | 'conformance' | 'engine-echo' (omitted: the binary's default); conformance
//          and engine-echo also get APP_ARGS
//   args:  extra command-line arguments
//   port:  fixed port (default 0 = ephemeral)
//   db:    database file (default: a fresh file in a temp directory)
//   env:   extra environment
//   bundled: true to load the bundled plugins and scripts (default: --no-bundled, so that a
//          test sees only the extensions it names)
// Returns { url, host, port, proc, db, output(), stop(), kill(), exited }.
// stop() sends SIGTERM and asserts a clean exit (code 0) within STOP_TIMEOUT_MS.
// The process is always killed and its temp directory removed when the test t ends.
async function startServer(t, opts = {}) {
  assert.ok(
    fs.existsSync(BIN),
    `parley binary not found at ${BIN} (build it, or set PARLEY_BIN)`,
  );
  const dir = tempDir();
  const db = opts.db || path.join(dir, 'history.db');
  const args = [
    '--port', String(opts.port ?? 0),
    '--host', HOST,
    '--db', db,
    '--log-level', opts.logLevel || 'warn',
    '--web-root', path.join(REPO, 'web'),
  ];
  if (!opts.bundled) args.push('--no-bundled');
  if (opts.app) args.push('--app', opts.app, ...(APP_ARGS[opts.app] || []));
  if (opts.args) args.push(...opts.args);

  const proc = spawn(BIN, args, {
    cwd: REPO,
    env: { ...process.env, ...(opts.env || {}) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  const exited = new Promise((resolve) => {
    proc.on('exit', (code, signal) => resolve({ code, signal }));
  });
  proc.on('error', () => {}); // reported through `exited` / the start timeout
  running.add(proc);
  exited.then(() => running.delete(proc));

  // Ends the server when its test (or suite) ends: SIGTERM, then the same checks as stop() (exit
  // code 0 within the bound) plus no sanitizer report on stderr, so that crashes, hangs on
  // shutdown and leaks found by ASan fail the test that caused them.
  let cleaned = false;
  let killedOnPurpose = false;
  const cleanup = async ({ graceful = true } = {}) => {
    if (cleaned) return;
    cleaned = true;
    try {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill(graceful ? 'SIGTERM' : 'SIGKILL');
        killedOnPurpose = killedOnPurpose || !graceful;
        try {
          await withTimeout(exited, STOP_TIMEOUT_MS, 'parley to exit at the end of the test');
        } catch (e) {
          proc.kill('SIGKILL');
          await withTimeout(exited, STOP_TIMEOUT_MS, 'parley to die').catch(() => {});
          throw e;
        }
      }
      if (graceful && !killedOnPurpose) {
        const res = await exited;
        assert.deepEqual(res, { code: 0, signal: null }, `parley exit status; stderr: ${err}`);
        assert.doesNotMatch(err, /AddressSanitizer|LeakSanitizer|runtime error:/, 'sanitizer report');
        assert.match(out, /^listening on [^\n]+\n$/, 'stdout holds exactly the listening line');
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  };
  onEnd(t, () => cleanup());

  const listening = new Promise((resolve, reject) => {
    proc.stdout.setEncoding('utf8');
    proc.stdout.on('data', (chunk) => {
      out += chunk;
      const m = /^listening on ([^\s:]+|\[[^\]]+\]):(\d+)\r?$/m.exec(out);
      if (m) resolve({ host: m[1], port: Number(m[2]) });
    });
    proc.stderr.setEncoding('utf8');
    proc.stderr.on('data', (chunk) => {
      err += chunk;
    });
    exited.then(({ code, signal }) =>
      reject(new Error(`parley exited before listening (code ${code}, signal ${signal})\n` +
        `args: ${args.join(' ')}\nstdout: ${out}\nstderr: ${err}`)),
    );
  });
  let where;
  try {
    where = await withTimeout(listening, START_TIMEOUT_MS, "parley's 'listening on' line");
  } catch (e) {
    await cleanup({ graceful: false }).catch(() => {});
    throw e;
  }
  assert.equal(where.host, HOST, `listening line names the --host address: ${out}`);
  assert.ok(where.port > 0 && where.port < 65536, `real port in listening line: ${out}`);
  if (opts.port) assert.equal(where.port, opts.port);

  const server = {
    host: HOST,
    port: where.port,
    url: `http://${HOST}:${where.port}`,
    wsUrl: `ws://${HOST}:${where.port}`,
    proc,
    db,
    exited,
    output: () => ({ stdout: out, stderr: err }),
    // Sends SIGTERM and asserts exit code 0 within the bound.
    async stop(timeoutMs = STOP_TIMEOUT_MS) {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      let res;
      try {
        res = await withTimeout(exited, timeoutMs, 'parley to exit after SIGTERM');
      } catch (e) {
        proc.kill('SIGKILL');
        throw e;
      }
      assert.deepEqual(res, { code: 0, signal: null },
        `parley exits 0 on SIGTERM; stderr: ${err}`);
      return res;
    },
    kill: () => {
      killedOnPurpose = true;
      proc.kill('SIGKILL');
    },
    cleanup,
  };
  return server;
}

// Connects a socket.io-client socket. `nsp` is a namespace path ('/' by default). Reconnection is
// off unless opts.reconnection is given; every socket is closed when the test t ends.
function connect(t, server, nsp = '/', opts = {}) {
  const base = typeof server === 'string' ? server : server.url;
  const socket = io(base + (nsp === '/' ? '' : nsp), {
    forceNew: true,
    reconnection: false,
    timeout: 5000,
    ...opts,
  });
  onEnd(t, () => {
    socket.io.reconnection(false);
    socket.disconnect();
    socket.io.engine && socket.io.engine.close();
  });
  return socket;
}

// Connects and waits for 'connect'; rejects on 'connect_error' or timeout.
async function connected(t, server, nsp = '/', opts = {}, timeoutMs = 5000) {
  const socket = connect(t, server, nsp, opts);
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`connect to ${nsp} timed out`)), timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      resolve();
    });
    socket.once('connect_error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
  return socket;
}

// Emits with an acknowledgement and a bounded wait; resolves with the ack's first argument.
function emitAck(socket, event, ...args) {
  return socket.timeout(3000).emitWithAck(event, ...args);
}

// Raw HTTP request on its own connection. Options: method, path, headers, body (string or
// Buffer), timeoutMs, signal. Resolves with { status, headers, body: Buffer, text }.
function request(server, { method = 'GET', path: p = '/', headers = {}, body, timeoutMs = 5000, signal } = {}) {
  const port = typeof server === 'number' ? server : server.port;
  // Send a Content-Length as browsers and engine.io-client do (no chunked uploads) unless the
  // caller set transfer headers itself.
  const lower = Object.keys(headers).map((k) => k.toLowerCase());
  if (body !== undefined && !lower.includes('content-length') && !lower.includes('transfer-encoding')) {
    headers = { ...headers, 'content-length': Buffer.byteLength(body) };
  }
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: HOST, port, method, path: p, headers, agent: false, signal,
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        clearTimeout(timer);
        const buf = Buffer.concat(chunks);
        resolve({ status: res.statusCode, headers: res.headers, body: buf, text: buf.toString('utf8') });
      });
      res.on('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
    });
    const timer = setTimeout(() => {
      req.destroy(new Error(`HTTP ${method} ${p} timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    req.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    if (body !== undefined) req.write(body);
    req.end();
  });
}

// Raw WebSocket that queues every frame. Options: autoPong (answer Engine.IO ping `2` with `3`
// and do not queue it), headers. Frames are { data: string | Buffer, binary: bool }.
class RawWs {
  constructor(url, { autoPong = false, headers } = {}) {
    this.url = url;
    this.frames = [];
    this.waiters = [];
    this.autoPong = autoPong;
    this.ws = new WebSocket(url, { headers, perMessageDeflate: false, handshakeTimeout: 5000 });
    this.error = null;
    this.closeInfo = null;
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', resolve);
      this.ws.once('error', reject);
      this.ws.once('close', () => reject(new Error('closed before open')));
    });
    this.opened.catch(() => {});
    // A refused handshake surfaces as an error "Unexpected server response: 400" then a close.
    this.ws.on('error', (e) => {
      this.error = e;
      const m = /Unexpected server response: (\d+)/.exec(e.message);
      if (m) this.refusedStatus = Number(m[1]);
    });
    this.ws.on('message', (data, isBinary) => {
      const frame = isBinary ? { data: Buffer.from(data), binary: true } : { data: data.toString('utf8'), binary: false };
      if (this.autoPong && !frame.binary && frame.data === '2') {
        this.send('3');
        return;
      }
      const w = this.waiters.shift();
      if (w) w(frame);
      else this.frames.push(frame);
    });
    this.closed = new Promise((resolve) => {
      this.ws.on('close', (code, reason) => {
        this.closeInfo = { code, reason: reason.toString() };
        resolve(this.closeInfo);
        // Nothing more will come: fail pending next() calls now rather than at their timeout.
        for (const w of this.waiters.splice(0)) w(null);
      });
    });
  }

  // Next frame (queued or future), or rejects after timeoutMs.
  next(timeoutMs = 3000) {
    if (this.frames.length) return Promise.resolve(this.frames.shift());
    if (this.closeInfo) {
      return Promise.reject(new Error(`WebSocket ${this.url} closed (${this.closeInfo.code}) with no frame left`));
    }
    return new Promise((resolve, reject) => {
      const waiter = (f) => {
        clearTimeout(timer);
        if (f === null) {
          reject(new Error(`WebSocket ${this.url} closed (${this.closeInfo.code}) before the next frame`));
        } else {
          resolve(f);
        }
      };
      const timer = setTimeout(() => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(new Error(`no WebSocket frame within ${timeoutMs} ms on ${this.url}` +
          (this.closeInfo ? ` (closed ${this.closeInfo.code})` : '')));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  // Next frame, which must be a text frame; resolves with its string.
  async nextText(timeoutMs = 3000) {
    const f = await this.next(timeoutMs);
    assert.equal(f.binary, false, `expected a text frame, got binary ${f.data.toString('hex')}`);
    return f.data;
  }

  // Next frame, which must be binary; resolves with its Buffer.
  async nextBinary(timeoutMs = 3000) {
    const f = await this.next(timeoutMs);
    assert.equal(f.binary, true, `expected a binary frame, got text ${JSON.stringify(f.data)}`);
    return f.data;
  }

  // Resolves with all frames that arrive within ms (plus those already queued).
  async drain(ms) {
    await sleep(ms);
    const got = this.frames;
    this.frames = [];
    return got;
  }

  send(data) {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(data);
  }

  // Resolves with {code, reason} once closed; rejects if still open after timeoutMs.
  waitClose(timeoutMs = 3000) {
    return withTimeout(this.closed, timeoutMs, `WebSocket close on ${this.url}`);
  }

  get isOpen() {
    return this.ws.readyState === WebSocket.OPEN;
  }

  close() {
    if (this.ws.readyState === WebSocket.CONNECTING || this.ws.readyState === WebSocket.OPEN) {
      this.ws.terminate();
    }
  }
}

// Opens a raw WebSocket to server + path; closed when the test t ends.
function rawWs(t, server, p, opts = {}) {
  const base = typeof server === 'string' ? server : server.wsUrl;
  const w = new RawWs(base + p, opts);
  onEnd(t, () => w.close());
  return w;
}

// Opens a Socket.IO-level raw WebSocket session: engine handshake read and checked.
// Resolves with { ws, handshake } where handshake is the parsed `0{...}` object.
async function rawEngineWs(t, server, base = '/socket.io/', opts = {}) {
  const ws = rawWs(t, server, `${base}?EIO=4&transport=websocket`, opts);
  const first = await ws.nextText();
  assert.equal(first[0], '0', `engine handshake frame: ${first}`);
  return { ws, handshake: JSON.parse(first.slice(1)) };
}

// Polling handshake at base; resolves with the parsed handshake object (sid etc.).
async function pollingHandshake(server, base = '/socket.io/', extraQuery = '') {
  const res = await request(server, { path: `${base}?EIO=4&transport=polling${extraQuery}` });
  assert.equal(res.status, 200, `handshake status, body ${res.text}`);
  assert.equal(res.text[0], '0', `handshake body ${res.text}`);
  return JSON.parse(res.text.slice(1));
}

// Records every `event` an emitter emits from now on. next(timeoutMs) resolves with the oldest
// payload not yet taken (the first argument, or all arguments when `all` is set); none(ms) asserts
// that nothing more arrives within ms. `filter(payload)` drops payloads it returns false for.
class Recorder {
  constructor(emitter, event, { all = false, filter } = {}) {
    this.event = event;
    this.items = [];
    this.waiters = [];
    emitter.on(event, (...args) => {
      const v = all ? args : args[0];
      if (filter && !filter(v)) return;
      const w = this.waiters.shift();
      if (w) w(v);
      else this.items.push(v);
    });
  }

  next(timeoutMs = 3000) {
    if (this.items.length) return Promise.resolve(this.items.shift());
    return new Promise((resolve, reject) => {
      const waiter = (v) => {
        clearTimeout(timer);
        resolve(v);
      };
      const timer = setTimeout(() => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(new Error(`no '${this.event}' within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  async take(n, timeoutMs = 3000) {
    const got = [];
    for (let i = 0; i < n; i++) got.push(await this.next(timeoutMs));
    return got;
  }

  async none(ms = 300) {
    await sleep(ms);
    assert.deepEqual(this.items, [], `unexpected '${this.event}' events`);
  }
}

function record(emitter, event, opts) {
  return new Recorder(emitter, event, opts);
}

// Records live 'chat' events only: the chat app replays stored history to a socket on login and
// on join as 'chat' events marked {history: true}; tests of live delivery ignore those.
function liveChats(socket) {
  return new Recorder(socket, 'chat', { filter: (m) => !(m && m.history === true) });
}

function uniqueName(prefix = 'u') {
  return `${prefix}-${crypto.randomBytes(4).toString('hex')}`;
}

// True when the sqlite3 shell is installed (make deps installs it): store tests use it.
const haveSqlite = (() => {
  try {
    require('node:child_process').execFileSync('sqlite3', ['-version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

module.exports = {
  haveSqlite,
  REPO,
  APP_ARGS,
  BIN,
  HOST,
  sleep,
  logged,
  once,
  onceArgs,
  withTimeout,
  collect,
  startServer,
  connect,
  connected,
  emitAck,
  request,
  RawWs,
  rawWs,
  rawEngineWs,
  pollingHandshake,
  uniqueName,
  tempDir,
  record,
  Recorder,
  liveChats,
};
