'use strict';
// The cluster operations of the extension API, driven by a Lua script (the fixture
// cluster-ops.lua) on two Parley nodes next to a Node.js node: the script's
// parley.cluster.sockets, rooms, servers, ask, emit, join, leave and kick see and reach the
// sockets of every node, and the Node node's serverSideEmit reaches the script's "server" hook.

const assert = require('node:assert/strict');
const path = require('node:path');
const { test } = require('node:test');

const { io: ioc } = require('socket.io-client');

const { startServer, connected, emitAck, once, onceArgs, sleep, uniqueName, request } =
  require('../e2e/lib/server');
const { startRedis, startNodeNode, until, lifo, healthy } = require('./lib/cluster');

const SCRIPT = path.join(__dirname, '..', 'e2e', 'fixtures', 'lua', 'cluster-ops.lua');

async function nodeClient(t, url) {
  const s = ioc(url, { forceNew: true, reconnection: false, transports: ['websocket'] });
  t.after(() => s.close());
  await once(s, 'connect', 5000);
  return s;
}

// Runs op through the script on the node of s; resolves with the answers when op is a request.
async function cluster(s, op, args = {}, { answered = true } = {}) {
  const done = answered ? onceArgs(s, 'cluster:done', 10000) : null;
  const ack = await emitAck(s, 'cluster', { op, ...args });
  assert.deepEqual(ack, { ok: true }, `${op}: ${JSON.stringify(ack)}`);
  if (!done) return null;
  const [r] = await done;
  assert.equal(r.op, op);
  return r;
}

test('the extension API works across the cluster', { timeout: 90000 }, async (test) => {
  const t = lifo(test);
  const redis = await startRedis(t);
  const args = ['--redis', redis.url, '--script', SCRIPT];
  const [a, b] = await Promise.all([startServer(t, { args }), startServer(t, { args })]);
  const node = await startNodeNode(t, redis);
  await healthy(a, b);
  await until(async () => (await node.io.serverSideEmitWithAck('whoami').catch(() => [])).length === 2,
    5000, 'both Parley nodes on the request channel');

  const room = uniqueName('ops');
  const ca = await connected(t, a);
  const cb = await connected(t, b);
  const cn = await nodeClient(t, node.url);
  assert.equal((await emitAck(ca, 'login', { name: 'ada', userid: uniqueName('ada') })).ok, true);
  for (const s of [ca, cb]) assert.equal((await emitAck(s, 'join', { room })).ok, true);
  assert.equal((await emitAck(cn, 'join', room)).ok, true);

  await test.test('sockets: the target\'s sockets on every node, as fetchSockets lists them', async () => {
    const r = await cluster(ca, 'sockets', { target: room });
    assert.equal(r.err, undefined);
    const ids = r.result.map((x) => x.id).sort();
    assert.deepEqual(ids, [ca.id, cb.id, cn.id].sort());
    const ada = r.result.find((x) => x.id === ca.id);
    assert.deepEqual([...ada.rooms].sort(), [ca.id, room].sort());
    assert.equal(ada.data.name, 'ada');
    assert.equal(ada.handshake.address, '127.0.0.1');
    assert.ok(Math.abs(ada.handshake.issued - Date.now()) < 60000, `issued ${ada.handshake.issued}`);
    assert.equal(new Date(ada.handshake.time).getTime(), Math.floor(ada.handshake.issued / 1000) * 1000);
    // one socket by its id, and a room except another room
    const one = await cluster(cb, 'sockets', { target: cn.id });
    assert.deepEqual(one.result.map((x) => x.id), [cn.id]);
    // the handshake's query arguments, as Node's handshake.query shows them
    const q = await connected(t, b, '/', { query: { team: 'blue', note: 'a&b=c é' } });
    const [qs] = (await cluster(ca, 'sockets', { target: q.id })).result;
    assert.equal(qs.handshake.query.team, 'blue');
    assert.equal(qs.handshake.query.note, 'a&b=c é');
    assert.equal(qs.handshake.query.EIO, '4');
    q.close();
    const w = await connected(t, a, '/', { transports: ['websocket'], query: { team: 'red' } });
    const [ws] = (await cluster(cb, 'sockets', { target: w.id })).result;
    assert.deepEqual([ws.handshake.query.team, ws.handshake.query.transport], ['red', 'websocket']);
    w.close();
    const except = await cluster(cb, 'sockets', { target: { rooms: room, except: [ca.id] } });
    assert.deepEqual(except.result.map((x) => x.id).sort(), [cb.id, cn.id].sort());
  });

  await test.test('rooms and servers count every node', async () => {
    const r = await cluster(cb, 'rooms');
    assert.ok(r.result.includes(room), JSON.stringify(r.result));
    for (const id of [ca.id, cb.id, cn.id]) assert.ok(r.result.includes(id), id);
    assert.equal(new Set(r.result).size, r.result.length, 'each room once');
    const n = await cluster(ca, 'servers');
    assert.deepEqual(n, { op: 'servers', result: 3 });
  });

  await test.test('ask: each other server answers a server-side emit', async () => {
    node.io.on('hello', (x, cb) => cb({ node: true, x }));
    const r = await cluster(ca, 'ask', { event: 'hello', args: [41] });
    assert.equal(r.err, undefined);
    assert.equal(r.result.length, 2, JSON.stringify(r.result));
    assert.ok(r.result.some((x) => x.node === true && x.x === 41), 'the Node node answered');
    // Parley B's script answers "whoami"; the Node node has no listener: the request times out
    const w = await cluster(ca, 'ask', { event: 'whoami', args: ['q'], timeout: 0.5 });
    assert.equal(w.err, 'timeout');
    assert.deepEqual(w.result, [{ script: 'cluster-ops', args: ['q'] }]);
  });

  await test.test("the Node node's serverSideEmit reaches the script's server hook", async () => {
    const answers = await node.io.serverSideEmitWithAck('whoami', 1, 'two');
    assert.deepEqual(answers, [
      { script: 'cluster-ops', args: [1, 'two'] }, { script: 'cluster-ops', args: [1, 'two'] }]);
    const notes = [once(ca, 'note', 5000), once(cb, 'note', 5000)];
    node.io.serverSideEmit('note', 'from node');
    assert.deepEqual(await Promise.all(notes), ['from node', 'from node']);
    // a script's emit reaches the other Parley node's hook (and not its own)
    const heard = once(cb, 'note', 5000);
    let own = 0;
    ca.on('note', () => own++);
    await cluster(ca, 'emit', { event: 'note', args: ['from a'] }, { answered: false });
    assert.equal(await heard, 'from a');
    await sleep(200);
    assert.equal(own, 0, 'a server-side emit does not come back to its sender');
  });

  await test.test('join, leave and kick reach the sockets of every node', async () => {
    const extra = uniqueName('joined');
    await cluster(cb, 'join', { target: room, room: extra }, { answered: false });
    await until(async () => (await node.io.in(extra).fetchSockets()).length === 3, 5000,
      'the three sockets joined');
    await cluster(cb, 'leave', { target: [cn.id, ca.id], room: extra }, { answered: false });
    await until(async () => (await node.io.in(extra).fetchSockets()).length === 1, 5000,
      'two left');
    assert.deepEqual((await node.io.in(extra).fetchSockets()).map((x) => x.id), [cb.id]);
    const gone = [onceArgs(ca, 'disconnect', 5000), onceArgs(cn, 'disconnect', 5000)];
    await cluster(cb, 'kick', { target: { rooms: room, except: cb.id } }, { answered: false });
    for (const [reason] of await Promise.all(gone)) assert.equal(reason, 'io server disconnect');
    await sleep(100);
    assert.equal(cb.connected, true);
  });

  await test.test('bad arguments are refused, and the script keeps working', async () => {
    await assert.rejects(cb.timeout(1000).emitWithAck('cluster', { op: 'sockets', target: [1, 2] }),
      /timed out/, 'the handler failed: no ack from the script');
    await assert.rejects(cb.timeout(1000).emitWithAck('cluster', { op: 'ask', event: 'x', timeout: -1 }),
      /timed out/);
    const r = await cluster(cb, 'servers');
    assert.equal(r.result, 3);
    // a reload (SIGHUP) while a request waits: the old script's request is forgotten
    await cluster(cb, 'ask', { event: 'whoami', timeout: 1 }, { answered: false });
    let late = 0;
    cb.on('cluster:done', () => late++);
    b.proc.kill('SIGHUP');
    await sleep(1500);
    assert.equal(late, 0, 'no answer after the reload');
    assert.equal((await cluster(cb, 'servers')).result, 3, 'the reloaded script works');
  });

  await test.test('with Redis away, a request gets this node\'s part at once', async () => {
    await redis.kill();
    await until(async () => /^degraded: /.test((await request(b, { path: '/healthz' })).text), 5000,
      'node B degraded');
    const started = Date.now();
    const r = await cluster(cb, 'sockets', { target: cb.id });
    assert.deepEqual(r.result.map((x) => x.id), [cb.id]);
    assert.equal(r.err, 'cluster unreachable');
    assert.ok(Date.now() - started < 2000, 'no wait for a timeout');
    assert.deepEqual(await cluster(cb, 'servers'), { op: 'servers', result: 1,
      err: 'cluster unreachable' });
    await redis.start();
    await healthy(a, b);
    assert.equal((await cluster(cb, 'servers')).result, 3);
  });
});

test('alone, a server is a cluster of one', { timeout: 30000 }, async (t) => {
  const srv = await startServer(t, { args: ['--script', SCRIPT] });
  const s1 = await connected(t, srv);
  const s2 = await connected(t, srv);
  const room = uniqueName('solo');
  assert.equal((await emitAck(s1, 'join', { room })).ok, true);
  assert.deepEqual((await cluster(s1, 'sockets', { target: room })).result.map((x) => x.id),
    [s1.id]);
  assert.equal((await cluster(s2, 'servers')).result, 1);
  const rooms = (await cluster(s2, 'rooms')).result;
  assert.ok(rooms.includes(room) && rooms.includes(s1.id) && rooms.includes(s2.id));
  const asked = await cluster(s1, 'ask', { event: 'whoami' });
  assert.deepEqual(asked, { op: 'ask', result: [] }, 'nobody else to answer');
  await cluster(s2, 'join', { target: s1.id, room: 'other' }, { answered: false });
  assert.deepEqual((await cluster(s2, 'sockets', { target: 'other' })).result.map((x) => x.id),
    [s1.id]);
  const gone = onceArgs(s1, 'disconnect', 5000);
  await cluster(s2, 'kick', { target: 'other' }, { answered: false });
  assert.equal((await gone)[0], 'io server disconnect');
  assert.equal(s2.connected, true);
});

test("the README's parley.cluster example works as printed", { timeout: 30000 }, async (t) => {
  const fs = require('node:fs');
  const script = path.join(__dirname, '..', 'e2e', 'fixtures', 'lua', 'where.lua');
  const readme = fs.readFileSync(path.join(__dirname, '..', '..', 'README.md'), 'utf8');
  assert.ok(readme.includes(`\`\`\`lua\n${fs.readFileSync(script, 'utf8')}\`\`\`\n`),
    'the README holds where.lua as a whole code block');
  const srv = await startServer(t, { args: ['--script', script] });
  const bob = await connected(t, srv);
  const bob2 = await connected(t, srv);
  const al = await connected(t, srv);
  for (const s of [bob, bob2]) assert.equal((await emitAck(s, 'login', { name: 'bob', userid: 'u1' })).ok, true);
  assert.equal((await emitAck(al, 'login', { name: 'al', userid: 'u2' })).ok, true);
  const answer = once(al, 'chat', 5000);
  al.emit('chat', { msg: '!where u1' });
  assert.deepEqual(await answer, { from: { name: 'where' }, msg: 'u1: 2 sockets' });
});

test('a script cannot pile up cluster requests', { timeout: 30000 }, async (t) => {
  const fs = require('node:fs');
  const { tempDir } = require('../e2e/lib/server');
  const dir = tempDir('parley-flood-');
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const script = path.join(dir, 'flood.lua');
  // 5,000 requests in one handler call: 1,000 start, the others are refused at once
  fs.writeFileSync(script, `
local answered = 0
parley.on("event", function(ev)
  if ev.name ~= "flood" then return end
  local started, refused, why = 0, 0, nil
  for _ = 1, 5000 do
    local ok, err = parley.cluster.servers(function() answered = answered + 1 end)
    if ok then started = started + 1 else refused = refused + 1; why = err end
  end
  ev:ack({started = started, refused = refused, why = why})
  return "drop"
end)
parley.on("event", function(ev)
  if ev.name == "answered" then ev:ack(answered); return "drop" end
end)
`);
  const srv = await startServer(t, { args: ['--script', script] });
  const s = await connected(t, srv);
  assert.deepEqual(await emitAck(s, 'flood'),
    { started: 1000, refused: 4000, why: 'too many cluster requests awaiting answers' });
  assert.equal(await emitAck(s, 'answered'), 1000, 'each started request answered once');
  // the answers freed the slots
  assert.equal((await emitAck(s, 'flood')).started, 1000);
});
