// Reference Node.js server for parley-bench: the classic Express + Socket.IO tutorial chat app
// (login / chat / forceDisconnect on "/", the "/chat" namespace rooms example), plus an "echo"
// event that acknowledges its arguments, so request/response can be measured with acks.
// Usage: node server.js [PORT]   (or PORT=N; 0 picks a free port; HOST, PING_INTERVAL, PING_TIMEOUT). Listens on 127.0.0.1 only and
// prints "listening on 127.0.0.1:PORT" once listening. SIGINT/SIGTERM exit cleanly.
// REDIS_URL=redis://HOST:PORT makes it a cluster node: @socket.io/redis-adapter with the
// adapter's defaults (the packages come from tests/node_modules, which the cluster tests use).
'use strict';

const http = require('http');
const express = require('express');
const { Server } = require('socket.io');

const port = Number(process.argv[2] || process.env.PORT || 3000);
const host = process.env.HOST || '127.0.0.1';

const app = express();
app.get('/', (req, res) => res.send('<h1>parley-bench reference server</h1>'));
app.get('/healthz', (req, res) => res.type('text/plain').send('ok'));

const server = http.createServer(app);
// PING_INTERVAL / PING_TIMEOUT (ms) let tests see heartbeats in short runs; defaults are Node's.
const io = new Server(server, {
  pingInterval: Number(process.env.PING_INTERVAL || 25000),
  pingTimeout: Number(process.env.PING_TIMEOUT || 20000),
});
const redisClients = [];

io.on('connection', (socket) => {
  socket.on('login', (data) => {
    data = data || {};
    socket.data.name = data.name;
    socket.data.userid = data.userid;
    io.emit('login', data.name);
  });

  socket.on('chat', (data) => {
    const msg = { from: { name: socket.data.name, userid: socket.data.userid }, msg: data && data.msg };
    socket.broadcast.emit('chat', msg);
  });

  socket.on('forceDisconnect', () => {
    socket.disconnect(true);
  });

  // echo: acknowledge with the same arguments (parley-bench's request/response scenario).
  socket.on('echo', (...args) => {
    const ack = args.length > 0 && typeof args[args.length - 1] === 'function' ? args.pop() : null;
    if (ack) ack(...args);
  });
});

const chat = io.of('/chat');
chat.on('connection', (socket) => {
  socket.on('chat message', (data) => {
    data = data || {};
    socket.join(data.room);
    chat.to(data.room).emit('chat message', data.msg);
  });
});

// A cluster node publishes and subscribes on two connections before it listens, so that the
// first broadcast already crosses.
async function joinCluster(url) {
  const { createClient } = require('redis');
  const { createAdapter } = require('@socket.io/redis-adapter');
  const pub = createClient({ url });
  const sub = pub.duplicate();
  for (const c of [pub, sub]) c.on('error', (err) => console.error(`redis: ${err.message}`));
  await Promise.all([pub.connect(), sub.connect()]);
  redisClients.push(pub, sub);
  io.adapter(createAdapter(pub, sub));
}

(process.env.REDIS_URL ? joinCluster(process.env.REDIS_URL) : Promise.resolve()).then(() => {
  server.listen(port, host, () => {
    const addr = server.address();
    process.stdout.write(`listening on ${addr.address}:${addr.port}\n`);
  });
}, (err) => {
  console.error(`cannot join the cluster at ${process.env.REDIS_URL}: ${err.message}`);
  process.exit(1);
});

function shutdown() {
  for (const c of redisClients) c.disconnect().catch(() => {});
  io.close();
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 1000).unref();
}
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);
