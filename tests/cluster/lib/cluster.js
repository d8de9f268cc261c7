'use strict';
// Helpers for the cluster tests: a real redis-server on a free loopback port with no
// persistence (stopped, killed and restarted on the same port by the tests), and a Node.js
// Socket.IO 4.8 node with @socket.io/redis-adapter 8.3 speaking Parley's chat protocol, in the
// test process so that a test can call its fetchSockets() and serverSideEmit(). Every wait is
// bounded; everything started is stopped when the test ends.

const { spawn } = require('node:child_process');
const http = require('node:http');
const net = require('node:net');

const { createClient } = require('redis');
const { Server } = require('socket.io');
const { createAdapter } = require('@socket.io/redis-adapter');

const { withTimeout, sleep, request, HOST } = require('../../e2e/lib/server');

// The room of a user across the cluster (PARLEY_USER_ROOM in parley/plugin.h).
const userRoom = (userid) => `parley:user:${JSON.stringify(userid)}`;

// A port nobody listens on now: bound by the kernel, then released (redis has no --port 0).
function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, HOST, () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

// Resolves once something accepts TCP connections on port; rejects after timeoutMs.
async function waitPort(port, timeoutMs = 5000) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise((resolve) => {
      const c = net.connect(port, HOST);
      c.once('connect', () => { c.destroy(); resolve(true); });
      c.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > end) throw new Error(`nothing listens on ${HOST}:${port}`);
    await sleep(50);
  }
}

// Starts redis-server on a free port (extra: more redis-server arguments, such as an ACL
// user). Returns { port, url, stop(), kill(), start(), pause(), resume() }: start() runs it
// again on the same port after stop() or kill(); pause() stops the process with SIGSTOP (its
// port still accepts connections, nothing is answered) until resume(). Always killed when t
// ends, paused or not.
async function startRedis(t, { extra = [] } = {}) {
  const port = await freePort();
  let proc = null;
  let exited = null;
  const start = async () => {
    proc = spawn('redis-server', ['--port', String(port), '--bind', HOST, '--save', '',
      '--appendonly', 'no', '--daemonize', 'no', '--loglevel', 'warning', ...extra],
    { stdio: ['ignore', 'ignore', 'inherit'] });
    exited = new Promise((resolve) => proc.once('exit', resolve));
    await waitPort(port);
  };
  const end = async (signal) => {
    if (proc && proc.exitCode === null && proc.signalCode === null) {
      proc.kill(signal);
      await withTimeout(exited, 5000, 'redis-server to exit');
    }
  };
  await start();
  const redis = {
    port,
    url: `redis://${HOST}:${port}`,
    start,
    stop: () => end('SIGTERM'),
    kill: () => end('SIGKILL'),
    pause: () => proc.kill('SIGSTOP'),
    resume: () => proc.kill('SIGCONT'),
  };
  t.after(() => end('SIGKILL'));
  process.on('exit', () => { if (proc) proc.kill('SIGKILL'); });
  return redis;
}

// A TCP relay on a free loopback port to the given port, that a test can cut: cut() closes
// every connection through it and refuses new ones (a network partition for whoever goes
// through it), mend() lets them through again. Returns { port, url, cut(), mend() }; closed
// when t ends.
async function startRelay(t, port) {
  const sockets = new Set();
  let open = true;
  const server = net.createServer((c) => {
    if (!open) { c.destroy(); return; }
    const up = net.connect(port, HOST);
    for (const [a, b] of [[c, up], [up, c]]) {
      sockets.add(a);
      a.on('error', () => {});
      a.on('close', () => { sockets.delete(a); b.destroy(); });
      a.pipe(b);
    }
  });
  await new Promise((resolve) => server.listen(0, HOST, resolve));
  const relay = {
    port: server.address().port,
    url: `redis://${HOST}:${server.address().port}`,
    cut: () => { open = false; for (const c of sockets) c.destroy(); },
    mend: () => { open = true; },
  };
  t.after(() => new Promise((resolve) => { relay.cut(); server.close(() => resolve()); }));
  return relay;
}

// Starts a Node.js Socket.IO node on the cluster: the chat protocol's login, chat, join and
// private, as Parley answers them. Returns { io, url, port, close() }.
async function startNodeNode(t, redis, { key } = {}) {
  const pub = createClient({ url: redis.url });
  const sub = pub.duplicate();
  pub.on('error', () => {});
  sub.on('error', () => {});
  await Promise.all([pub.connect(), sub.connect()]);
  const httpServer = http.createServer();
  const io = new Server(httpServer, { adapter: createAdapter(pub, sub, key ? { key } : {}) });
  io.on('connection', (socket) => {
    const from = () => ({ name: socket.data.name, userid: socket.data.userid });
    socket.on('login', (d, ack) => {
      socket.data.name = d.name;
      socket.data.userid = d.userid;
      socket.join(userRoom(d.userid));
      io.emit('login', d.name);
      if (ack) ack({ ok: true });
    });
    socket.on('chat', (d, ack) => {
      if (d.room) socket.to(d.room).emit('chat', { from: from(), room: d.room, msg: d.msg });
      else socket.broadcast.emit('chat', { from: from(), msg: d.msg });
      if (ack) ack({ ok: true });
    });
    socket.on('join', (d, ack) => {
      const room = typeof d === 'string' ? d : d.room;
      socket.join(room);
      if (ack) ack({ ok: true, room });
    });
    socket.on('private', (d, ack) => {
      io.to(userRoom(d.to)).emit('private', { from: from(), msg: d.msg });
      if (ack) ack({ ok: true });
    });
  });
  await new Promise((resolve) => httpServer.listen(0, HOST, resolve));
  const { port } = httpServer.address();
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await new Promise((resolve) => io.close(() => resolve()));
    await Promise.allSettled([pub.quit(), sub.quit()]);
  };
  t.after(close);
  return { io, port, url: `http://${HOST}:${port}`, close };
}

// A scope whose after(fn) hooks run when t ends, last registered first (node:test runs its
// own in registration order): the clients go, then the nodes, then Redis. Pass it wherever the
// helpers take a test context.
function lifo(t) {
  const fns = [];
  t.after(async () => {
    let first;
    while (fns.length) {
      try {
        await fns.pop()();
      } catch (e) {
        first = first || e;
      }
    }
    if (first) throw first;
  });
  return { after: (fn) => fns.push(fn) };
}

// Resolves when pred() holds, polling every 50 ms; rejects after timeoutMs naming what.
async function until(pred, timeoutMs, what) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await pred()) return;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

// Resolves once every server's /healthz says ok (connected to Redis, no gap); rejects after
// 10 s.
async function healthy(...servers) {
  await until(async () => {
    for (const s of servers) if ((await request(s, { path: '/healthz' })).text !== 'ok\n') return false;
    return true;
  }, 10000, 'the nodes connected to redis');
}

module.exports = {
  userRoom, freePort, waitPort, startRedis, startRelay, startNodeNode, until, lifo, healthy,
};
