'use strict';
// Two Parley nodes on one redis-server behind a load balancer, with the configurations the
// README documents (lib/nginx-parley.conf, lib/haproxy.cfg): nginx choosing the node by client
// address (hash $remote_addr consistent), HAProxy by the io cookie Parley sets with --cookie io.
// On each node a polling-only npm socket.io-client and an upgrading one (polling, then
// WebSocket) log in and chat with the clients of the other node, broadcast and in a room, with
// no "Session ID unknown" refusal on the way; the nodes see the clients' own addresses through
// X-Forwarded-For (--trusted-proxies 127.0.0.1). Without the stickiness, the same balancers
// would send a session's requests to the node that does not know it.

const assert = require('node:assert/strict');
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const { test } = require('node:test');

const { io: ioc } = require('socket.io-client');

const { startServer, emitAck, liveChats, request, sleep, uniqueName, REPO } =
  require('../e2e/lib/server');
const { startRedis, until, lifo } = require('./lib/cluster');
const { startNginx, startHaproxy } = require('./lib/proxy');

// The node whose log names the session sid, with the client address it logged.
async function whereIs(nodes, sid) {
  let found;
  await until(() => nodes.some((n) => {
    const m = new RegExp(`connection ${sid} from (\\S+) `).exec(n.output().stderr);
    if (m) found = { node: n, address: m[1] };
    return m;
  }), 5000, `the log line of session ${sid}`);
  return found;
}

// A socket.io-client through the balancer at url, from the loopback address `from`:
// polling-only or upgrading (the default transports). Its cookies are kept and sent back
// (withCredentials, as a browser would). Every error or disconnection is kept in s.trouble.
function client(t, url, { polling, from }) {
  const s = ioc(url, {
    forceNew: true,
    reconnection: false,
    transports: polling ? ['polling'] : ['polling', 'websocket'],
    withCredentials: true,
    // the polling requests take the agent, the WebSocket localAddress
    agent: new http.Agent({ localAddress: from }),
    localAddress: from,
  });
  s.trouble = [];
  s.on('connect_error', (e) => s.trouble.push(`connect_error: ${e.message}`));
  s.on('disconnect', (why) => s.trouble.push(`disconnect: ${why}`));
  t.after(() => s.close());
  return s;
}

const isPolling = (s) => s.io.opts.transports.length === 1;

// Connects the clients one after the other, in the order of specs ({ polling, from }), logs
// each in under a fresh name and waits until every one of them has seen every login (so the
// cluster delivers both ways). Returns the sockets, each with s.name, s.node (the Parley node
// holding it) and s.address (the client address that node logged).
async function members(t, lb, nodes, specs) {
  const socks = [];
  const logins = [];
  for (const spec of specs) {
    const s = client(t, lb.url, spec);
    const seen = new Set();
    s.on('login', (name) => seen.add(name));
    logins.push(seen);
    await until(() => s.connected, 5000, 'a client to connect');
    s.name = uniqueName(spec.polling ? 'poll' : 'up');
    Object.assign(s, await whereIs(nodes, s.io.engine.id));
    socks.push(s);
  }
  for (const s of socks) {
    const ack = await emitAck(s, 'login', { name: s.name, userid: s.name });
    assert.equal(ack.ok, true, `login of ${s.name}: ${JSON.stringify(ack)}`);
  }
  await until(() => logins.every((seen) => socks.every((s) => seen.has(s.name))), 5000,
    'every login on every node');
  return socks;
}

// Waits for the upgrading clients' WebSocket, then checks the chats: a broadcast from each
// client reaches the three others, once each, and a room chat only the room's members; no
// client saw a refusal or lost its connection.
async function chatAcross(socks) {
  await until(() => socks.every((s) => s.io.engine.transport.name ===
    (isPolling(s) ? 'polling' : 'websocket')), 5000, 'the upgrades');
  const inboxes = socks.map((s) => liveChats(s));
  for (const [i, s] of socks.entries()) {
    const ack = await emitAck(s, 'chat', { msg: `from ${s.name}` });
    assert.equal(ack.ok, true, JSON.stringify(ack));
    for (const [j, box] of inboxes.entries()) {
      if (j === i) continue;
      const m = await box.next(5000);
      assert.deepEqual(m, { from: { name: s.name, userid: s.name }, msg: `from ${s.name}` },
        `${socks[j].name} gets the chat of ${s.name}`);
    }
  }
  // a room of one client of each node (a polling one and an upgrading one)
  const room = uniqueName('room');
  const inA = socks[0];
  const inB = socks.find((s) => s.node !== inA.node && isPolling(s) !== isPolling(inA));
  for (const s of [inA, inB]) assert.equal((await emitAck(s, 'join', { room })).ok, true);
  assert.equal((await emitAck(inA, 'chat', { room, msg: 'in the room' })).ok, true);
  const m = await inboxes[socks.indexOf(inB)].next(5000);
  assert.deepEqual(m, { from: { name: inA.name, userid: inA.name }, room, msg: 'in the room' });
  await sleep(200);
  for (const box of inboxes) await box.none(0);
  for (const s of socks) assert.deepEqual(s.trouble, [], `${s.name}: no error, no disconnection`);
}

// Two Parley nodes on a fresh Redis, with extra arguments.
async function twoNodes(t, extra = []) {
  const redis = await startRedis(t);
  const args = ['--redis', redis.url, '--trusted-proxies', '127.0.0.1', ...extra];
  return Promise.all([startServer(t, { args, logLevel: 'info' }),
    startServer(t, { args, logLevel: 'info' })]);
}

test('two Parley nodes behind nginx, sticky by client address', { timeout: 60000 }, async (tt) => {
  const t = lifo(tt);
  const nodes = await twoNodes(t);
  const lb = await startNginx(t, nodes);

  // which node the hash gives each source address: the first address of each node is used
  const from = new Map();
  for (let i = 2; i < 40 && from.size < 2; i++) {
    const address = `127.0.0.${i}`;
    const res = await new Promise((resolve, reject) => {
      const req = http.get(`${lb.url}/socket.io/?EIO=4&transport=polling`,
        { localAddress: address, agent: false }, (r) => {
          let body = '';
          r.on('data', (c) => { body += c; });
          r.on('end', () => resolve(body));
        });
      req.on('error', reject);
      req.setTimeout(5000, () => req.destroy(new Error('probe timed out')));
    });
    const where = await whereIs(nodes, JSON.parse(res.slice(1)).sid);
    assert.equal(where.address, address, 'the node logs the client address, not the proxy');
    if (![...from.values()].includes(where.node)) from.set(address, where.node);
  }
  assert.equal(from.size, 2, 'the hash sends some client addresses to each node');

  // on each node a polling-only client and an upgrading one, from that node's address
  const specs = [...from.keys()].flatMap((address) =>
    [{ polling: true, from: address }, { polling: false, from: address }]);
  const socks = await members(t, lb, nodes, specs);
  for (const [i, s] of socks.entries()) {
    assert.equal(s.address, specs[i].from, `${s.name} is logged with its own address`);
    assert.equal(s.node, from.get(specs[i].from), `${s.name} is on the node of its address`);
  }
  await chatAcross(socks);
  const access = fs.readFileSync(path.join(lb.dir, 'access.log'), 'utf8');
  assert.doesNotMatch(access, /" 400 /, 'no request was refused (Session ID unknown)');
});

test('two Parley nodes behind HAProxy, sticky by the io cookie', { timeout: 60000 }, async (tt) => {
  const t = lifo(tt);
  const nodes = await twoNodes(t, ['--cookie', 'io']);
  const lb = await startHaproxy(t, nodes);

  // the handshake's cookie comes back prefixed with the node's name (its server line's cookie)
  const hs = await request(lb.port, { path: '/socket.io/?EIO=4&transport=polling' });
  const { sid } = JSON.parse(hs.text.slice(1));
  const cookie = hs.headers['set-cookie'][0];
  const m = /^io=([ab])~([^;]+); Path=\/; HttpOnly; SameSite=Lax$/.exec(cookie);
  assert.ok(m && m[2] === sid, `the balancer's cookie: ${cookie}`);
  // with it, the session's requests find the node that has it; without, round robin sends one
  // of two to the other node, which does not know the session
  const poll = (headers) => request(lb.port, {
    method: 'POST', path: `/socket.io/?EIO=4&transport=polling&sid=${sid}`, body: '6', // a noop
    headers: { 'content-type': 'text/plain;charset=UTF-8', ...headers },
  });
  for (let i = 0; i < 4; i++) {
    assert.equal((await poll({ cookie: `io=${m[1]}~${sid}` })).status, 200, 'with the cookie');
  }
  const without = [await poll({}), await poll({})];
  assert.deepEqual(without.map((r) => r.status).sort(), [200, 400], 'without the cookie');
  assert.equal(without.find((r) => r.status === 400).text,
    '{"code":1,"message":"Session ID unknown"}');

  // round robin takes turns with the handshakes (the requests after them carry the cookie):
  // connected in this order, one client of each kind lands on each node
  const specs = [true, false, false, true].map((polling, i) =>
    ({ polling, from: `127.0.0.${i + 2}` }));
  const socks = await members(t, lb, nodes, specs);
  for (const [i, s] of socks.entries()) {
    assert.equal(s.address, specs[i].from, `${s.name} is logged with its own address`);
  }
  for (const polling of [true, false]) {
    const kind = socks.filter((s) => isPolling(s) === polling);
    assert.notEqual(kind[0].node, kind[1].node, `${polling ? 'polling' : 'upgrading'} clients on both nodes`);
  }
  await chatAcross(socks);
});

test('the README shows the tested balancer configurations verbatim', () => {
  const readme = fs.readFileSync(path.join(REPO, 'README.md'), 'utf8');
  for (const name of ['nginx-parley.conf', 'haproxy.cfg']) {
    const text = fs.readFileSync(path.join(__dirname, 'lib', name), 'utf8');
    const at = readme.indexOf(`\n${text}\`\`\`\n`);
    assert.ok(at > 0, `README holds lib/${name}`);
    assert.match(readme.slice(readme.lastIndexOf('\n', at - 1) + 1, at), /^```[a-z]*$/,
      `lib/${name} is a whole code block of the README`);
  }
});
