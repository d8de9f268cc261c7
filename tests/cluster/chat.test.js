'use strict';
// Two Parley nodes and one Node.js node (socket.io 4.8 + @socket.io/redis-adapter 8.3) on one
// redis-server: clients of every node chat through rooms, private messages and the tutorial's
// events; the Node node's fetchSockets(), socketsJoin(), serverSideEmit() with ack and
// timeout().emitWithAck() see Parley's sockets; @socket.io/redis-emitter reaches Parley's
// clients; a broadcast is one publish, in the Node adapter's format. Each check uses its own
// rooms and users, so they do not see each other's traffic.

const assert = require('node:assert/strict');
const { test } = require('node:test');

const { io: ioc } = require('socket.io-client');
const { createClient } = require('redis');
const { Emitter } = require('@socket.io/redis-emitter');

const { startServer, connected, emitAck, once, onceArgs, sleep, uniqueName, request } =
  require('../e2e/lib/server');
const { startRedis, startNodeNode, until, userRoom, lifo } = require('./lib/cluster');

// A client of the Node node (the e2e helper's connect() options: no reconnection, websocket).
async function nodeClient(t, url) {
  const s = ioc(url, { forceNew: true, reconnection: false, transports: ['websocket'] });
  t.after(() => s.close());
  await once(s, 'connect', 5000);
  return s;
}

// Logs a client in and waits until every node has seen the login (the login notice goes to
// everyone, this client included), so that the next messages find it.
async function login(s, name, userid) {
  const seen = once(s, 'login', 5000);
  const ack = await emitAck(s, 'login', { name, userid });
  assert.equal(ack.ok, true, `login of ${name}: ${JSON.stringify(ack)}`);
  await seen;
}

// A logged-in client of a Parley node (startServer's) or of the Node node (startNodeNode's).
async function member(t, where, name, userid = uniqueName(name)) {
  const s = where.io ? await nodeClient(t, where.url) : await connected(t, where);
  await login(s, name, userid);
  return s;
}

// Collects the events `event` that s receives, without a trailing recovery offset.
function inbox(s, event) {
  const got = [];
  s.on(event, (...args) => got.push(args[0]));
  return got;
}

test('two Parley nodes and a Node.js node in one cluster', { timeout: 90000 }, async (test) => {
  const t = lifo(test);
  const redis = await startRedis(t);
  const args = ['--redis', redis.url];
  const [a, b] = await Promise.all([startServer(t, { args }), startServer(t, { args })]);
  const node = await startNodeNode(t, redis);
  // every node subscribed: 3 subscribers of the request channel
  const probe = createClient({ url: redis.url });
  probe.on('error', () => {});
  await probe.connect();
  t.after(() => probe.quit());
  await until(async () => (await probe.pubSubNumSub('socket.io-request#/#'))['socket.io-request#/#'] === 3,
    5000, 'three nodes on the request channel');
  const health = await request(a, { path: '/healthz' });
  assert.equal(health.text, 'ok\n');

  await test.test('a chat reaches the clients of every node, once, but not its sender', async () => {
    const ca = await member(t, a, 'ada');
    const cb = await member(t, b, 'bob');
    const cn = await member(t, node, 'nod');
    const [ia, ib, inn] = [inbox(ca, 'chat'), inbox(cb, 'chat'), inbox(cn, 'chat')];
    assert.equal((await emitAck(ca, 'chat', { msg: 'from A' })).ok, true);
    assert.equal((await emitAck(cn, 'chat', { msg: 'from Node' })).ok, true);
    await until(() => ib.length === 2 && inn.length === 1 && ia.length === 1, 5000, 'the chats');
    await sleep(200); // nothing more comes
    assert.deepEqual(ib.map((m) => m.msg).sort(), ['from A', 'from Node']);
    assert.deepEqual(inn.map((m) => m.msg), ['from A']);
    assert.deepEqual(inn[0].from.name, 'ada');
    assert.deepEqual(ia.map((m) => m.msg), ['from Node']);
    assert.equal(ia[0].from.name, 'nod');
    for (const s of [ca, cb, cn]) s.close();
  });

  await test.test('a broadcast is one publish, in the Node adapter\'s format', async () => {
    const msgpack = require('notepack.io');
    const room = uniqueName('wire');
    const tap = probe.duplicate();
    tap.on('error', () => {});
    await tap.connect();
    t.after(() => tap.quit());
    const seen = [];
    // the chats only: the joined notices of the joins below may still be on their way
    await tap.pSubscribe('socket.io#/#*', (msg, channel) => {
      if (msgpack.decode(msg)[1].data[0] === 'chat') seen.push({ channel, msg });
    }, true);
    const members = [];
    for (const where of [a, b, b, b, node]) {
      const s = await member(t, where, 'm');
      await emitAck(s, 'join', { room });
      members.push(s);
    }
    const got = members.slice(1).map((s) => inbox(s, 'chat'));
    seen.length = 0;
    await emitAck(members[0], 'chat', { room, msg: 'once' });
    await until(() => got.every((g) => g.length === 1), 5000, 'the room chat everywhere');
    await sleep(200);
    // Parley A's publish, the only one: nobody else republishes what they deliver
    assert.equal(seen.length, 1, JSON.stringify(seen.map((x) => String(x.channel))));
    assert.equal(String(seen[0].channel), `socket.io#/#${room}#`);
    const [uid, packet, opts] = msgpack.decode(seen[0].msg);
    assert.match(uid, /^[A-Za-z0-9]{6}$/);
    assert.deepEqual(packet, {
      type: 2, nsp: '/',
      data: ['chat', { from: { name: 'm', userid: packet.data[1].from.userid }, room, msg: 'once' }],
    });
    assert.deepEqual(opts, { rooms: [room], except: [members[0].id], flags: {} });
    // the Node node's publish for the same kind of broadcast has the same shape
    seen.length = 0;
    await emitAck(members[4], 'chat', { room, msg: 'from node' });
    await until(() => seen.length === 1, 5000, "the Node node's publish");
    const [nuid, npacket, nopts] = msgpack.decode(seen[0].msg);
    assert.notEqual(nuid, uid);
    assert.deepEqual(Object.keys(npacket).sort(), Object.keys(packet).sort());
    assert.deepEqual(Object.keys(nopts).sort(), Object.keys(opts).sort());
    assert.deepEqual(nopts.except, [members[4].id]);
    for (const s of members) s.close();
  });

  await test.test('rooms: only the members on every node get a room chat', async () => {
    const room = uniqueName('room');
    const ca = await member(t, a, 'ada');
    const cb = await member(t, b, 'bob');
    const cbOut = await member(t, b, 'out');
    const cn = await member(t, node, 'nod');
    for (const s of [ca, cb, cn]) assert.equal((await emitAck(s, 'join', { room })).ok, true);
    const [ib, iout, inn] = [inbox(cb, 'chat'), inbox(cbOut, 'chat'), inbox(cn, 'chat')];
    const ia = inbox(ca, 'chat');
    assert.equal((await emitAck(ca, 'chat', { room, msg: 'room hello' })).ok, true);
    assert.equal((await emitAck(cn, 'chat', { room, msg: 'node to room' })).ok, true);
    await until(() => ib.length === 2 && inn.length === 1 && ia.length === 1, 5000, 'room chats');
    await sleep(200);
    assert.deepEqual(ib.map((m) => [m.room, m.msg]).sort(),
      [[room, 'node to room'], [room, 'room hello']]);
    assert.deepEqual(inn.map((m) => m.msg), ['room hello']);
    assert.deepEqual(ia.map((m) => m.msg), ['node to room']);
    assert.deepEqual(iout.filter((m) => m.room === room), [], 'a non-member got a room chat');
    for (const s of [ca, cb, cbOut, cn]) s.close();
  });

  await test.test('private messages cross nodes to every socket of the user', async () => {
    const ada = uniqueName('ada');
    const bob = uniqueName('bob');
    const ca = await member(t, a, 'ada', ada);
    const cb1 = await member(t, b, 'bob', bob);
    const cb2 = await member(t, node, 'bob', bob); // bob on the Node node as well
    const cn = await member(t, node, 'nod');
    const [p1, p2, pa] = [inbox(cb1, 'private'), inbox(cb2, 'private'), inbox(ca, 'private')];
    // bob is not on A: the message is forwarded, the ack counts A's recipients (none)
    const ack = await emitAck(ca, 'private', { to: bob, msg: 'psst' });
    assert.deepEqual(ack, { ok: true, delivered: 0 });
    await until(() => p1.length === 1 && p2.length === 1, 5000, "bob's private messages");
    assert.deepEqual(p1[0], { from: { name: 'ada', userid: ada }, msg: 'psst' });
    assert.deepEqual(p2[0], p1[0]);
    // and back, from the Node node to ada on Parley A
    assert.equal((await emitAck(cn, 'private', { to: ada, msg: 'hi ada' })).ok, true);
    await until(() => pa.length === 1, 5000, "ada's private message");
    assert.equal(pa[0].msg, 'hi ada');
    await sleep(200);
    assert.equal(p1.length + p2.length, 2, 'each socket of bob got it once');
    // a user nobody here has may be online elsewhere: forwarded, no error
    const none = await emitAck(cb1, 'private', { to: uniqueName('nobody'), msg: 'x' });
    assert.deepEqual(none, { ok: true, delivered: 0 });
    // no socket can join a user's room by name
    const join = await emitAck(ca, 'join', { room: userRoom(bob) });
    assert.equal(join.ok, false);
    for (const s of [ca, cb1, cb2, cn]) s.close();
  });

  await test.test("Node's fetchSockets, socketsJoin and serverSideEmit see Parley's sockets", async () => {
    const room = uniqueName('fetch');
    const ada = uniqueName('ada');
    const ca = await member(t, a, 'ada', ada);
    const cb = await connected(t, b);
    assert.equal((await emitAck(ca, 'join', { room })).ok, true);
    assert.equal((await emitAck(cb, 'join', { room })).ok, true);
    const sockets = await node.io.in(room).fetchSockets();
    const byId = new Map(sockets.map((s) => [s.id, s]));
    assert.equal(sockets.length, 2, `fetchSockets: ${JSON.stringify(sockets.map((s) => s.id))}`);
    assert.ok(byId.has(ca.id) && byId.has(cb.id));
    const ra = byId.get(ca.id);
    assert.deepEqual([...ra.rooms].sort(), [ca.id, room].sort());
    assert.deepEqual(ra.data, { userid: ada, name: 'ada' });
    assert.equal(ra.handshake.address, '127.0.0.1');
    // every socket of the namespace, across the nodes
    const all = await node.io.fetchSockets();
    assert.ok(all.some((s) => s.id === ca.id) && all.some((s) => s.id === cb.id));

    // socketsJoin from Node: ada's socket on A joins a room it never asked for
    const other = uniqueName('joined');
    node.io.in(ca.id).socketsJoin(other);
    await until(async () => (await node.io.in(other).fetchSockets()).length === 1, 5000,
      'the remote join');
    const got = once(ca, 'chat', 5000);
    const cn = await member(t, node, 'nod');
    await emitAck(cn, 'join', other);
    await emitAck(cn, 'chat', { room: other, msg: 'you were joined' });
    assert.equal((await got).msg, 'you were joined');
    node.io.in(ca.id).socketsLeave(other);
    await until(async () => (await node.io.in(other).fetchSockets()).length === 1, 5000,
      'the remote leave (only the Node client is left)');

    // serverSideEmit with ack: each Parley node answers
    const answers = await node.io.serverSideEmitWithAck('hello', 1);
    assert.equal(answers.length, 2);
    for (const x of answers) assert.equal(x.server, 'parley');
    assert.notEqual(answers[0].uid, answers[1].uid);

    // a broadcast with acks: the Parley clients answer through Redis
    ca.on('question', (n, cb2) => cb2(`ada:${n}`));
    cb.on('question', (n, cb2) => cb2(`b:${n}`));
    const replies = await node.io.to(room).timeout(3000).emitWithAck('question', 7);
    assert.deepEqual(replies.sort(), ['ada:7', 'b:7']);
    // the sids form of a remote disconnect
    const gone = once(cb, 'disconnect', 5000);
    node.io.in(cb.id).disconnectSockets(true);
    assert.equal(await gone, 'io server disconnect');
    for (const s of [ca, cn]) s.close();
  });

  await test.test('@socket.io/redis-emitter reaches Parley clients', async () => {
    const ec = createClient({ url: redis.url });
    ec.on('error', () => {});
    await ec.connect();
    t.after(() => ec.quit());
    const emitter = new Emitter(ec);
    const room = uniqueName('em');
    const ca = await connected(t, a);
    const cb = await connected(t, b);
    await emitAck(ca, 'join', { room });
    const [ia, ib] = [inbox(ca, 'news'), inbox(cb, 'news')];
    emitter.to(room).emit('news', { n: 1, big: 4294967296, half: 0.5, list: [1, -2, 'x'] });
    emitter.emit('news', { n: 2 });
    await until(() => ia.length === 2 && ib.length === 1, 5000, 'the emitter\'s news');
    assert.deepEqual(ia[0], { n: 1, big: 4294967296, half: 0.5, list: [1, -2, 'x'] });
    assert.deepEqual(ib[0], { n: 2 });
    // binary travels as msgpack bin and arrives as a Buffer
    const bin = once(cb, 'blob', 5000);
    emitter.emit('blob', Buffer.from([1, 2, 3]));
    assert.deepEqual([...(await bin)], [1, 2, 3]);
    // socketsJoin, then a room emit reaches the joined socket
    const late = uniqueName('late');
    emitter.in(room).socketsJoin(late);
    await until(async () => (await node.io.in(late).fetchSockets()).length === 1, 5000,
      'the emitter\'s join');
    const inLate = once(ca, 'news', 5000);
    emitter.to(late).emit('news', 'late news');
    assert.equal(await inLate, 'late news');
    // disconnectSockets ends the room's sockets only
    const gone = onceArgs(ca, 'disconnect', 5000);
    emitter.in(room).disconnectSockets();
    assert.equal((await gone)[0], 'io server disconnect');
    await sleep(100);
    assert.equal(cb.connected, true);
    cb.close();
  });
});
