'use strict';
// Lua scripts end to end: the real binary with --script, socket.io-client as the users. Verdicts,
// rewritten messages, bots, timers, reload on SIGHUP, and hostile scripts that must not stop the
// server from serving others.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');

const { startServer, connected, once, sleep, tempDir, withTimeout } = require('./lib/server');

const FIXTURES = path.join(__dirname, 'fixtures', 'lua');
const fixture = (name) => path.join(FIXTURES, name);

async function user(t, srv, name, userid = name) {
  const s = await connected(t, srv);
  assert.deepEqual(await s.emitWithAck('login', { name, userid }), { ok: true });
  return s;
}

// Resolves with the first 'chat' on s whose msg satisfies pred.
function chatWhere(s, pred, ms = 2000) {
  return withTimeout(new Promise((resolve) => {
    const h = (m) => {
      if (pred(m)) {
        s.off('chat', h);
        resolve(m);
      }
    };
    s.on('chat', h);
  }), ms, 'a chat message');
}

// Collects the msg of every 'chat' s receives.
function chats(s) {
  const got = [];
  s.on('chat', (m) => got.push(m.msg));
  return got;
}

test('chat verdicts: pass, accept, reject, drop, disconnect, and a rewritten message', async (t) => {
  const srv = await startServer(t, { args: ['--script', fixture('verdicts.lua')] });
  const alice = await user(t, srv, 'alice');
  const bob = await user(t, srv, 'bob');
  const seen = chats(bob);

  let r = await alice.emitWithAck('chat', { msg: 'hello' });
  assert.equal(r.ok, true);
  r = await alice.emitWithAck('chat', { msg: 'acc' });
  assert.equal(r.ok, true, 'accept delivers');
  r = await alice.emitWithAck('chat', { msg: 'bad' });
  assert.deepEqual(r, { ok: false, error: 'no bad words' });
  await assert.rejects(alice.timeout(500).emitWithAck('chat', { msg: 'drop' }), 'no answer');
  const loud = chatWhere(bob, (m) => m.msg === 'LOUD');
  r = await alice.emitWithAck('chat', { msg: 'up: loud' });
  assert.equal(r.ok, true);
  await loud;
  assert.deepEqual(seen, ['hello', 'acc', 'LOUD'], 'drop and reject reach nobody');

  // what is stored is the rewritten message
  const h = await alice.emitWithAck('history', {});
  assert.deepEqual(h.messages.map((m) => m.msg), ['hello', 'acc', 'LOUD'], JSON.stringify(h));

  const gone = once(alice, 'disconnect');
  r = await alice.emitWithAck('chat', { msg: 'kick' });
  assert.deepEqual(r, { ok: false, error: 'bye' });
  await gone;
  assert.equal(bob.connected, true);
});

test('a bot answers !ping in a room and in the namespace chat, and is a room member', async (t) => {
  const srv = await startServer(t, { args: ['--script', fixture('bot.lua')] });
  const alice = await user(t, srv, 'alice');
  const j = await alice.emitWithAck('join', { room: 'r1' });
  assert.equal(j.ok, true);
  const bot = j.members.find((m) => m.name === 'pinger');
  assert.ok(bot, `the bot is in the member list: ${JSON.stringify(j.members)}`);
  assert.match(String(bot.userid), /^bot:/);
  // (the chat app's member records mark bots with bot: true once it asks api->socket_is_bot)

  const inRoom = chatWhere(alice, (m) => m.msg === 'pong' && m.room === 'r1');
  await alice.emitWithAck('chat', { room: 'r1', msg: '!ping' });
  const p = await inRoom;
  assert.equal(p.from.name, 'pinger');

  const inNsp = chatWhere(alice, (m) => m.msg === 'pong' && m.room === undefined);
  await alice.emitWithAck('chat', { msg: '!ping' });
  await inNsp;

  // the bot's answers are stored like any chat
  const h = await alice.emitWithAck('history', { room: 'r1' });
  assert.deepEqual(h.messages.map((m) => m.msg), ['!ping', 'pong'], JSON.stringify(h));
});

test('timers fire; SIGHUP swaps the script, keeps connections, and a broken version keeps the old',
  async (t) => {
    const dir = tempDir('parley-lua-');
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
    const file = path.join(dir, 'timer.lua');
    const version = (v) => `
      local n = 0
      function on_save() return {n = n, v = "${v}"} end
      function on_restore(s) n = s.n; parley.emit(nil, "restored", s.v, s.n) end
      parley.every(0.05, function() n = n + 1; parley.emit(nil, "tick", "${v}", n) end)
    `;
    fs.writeFileSync(file, version('v1'));
    const srv = await startServer(t, { args: ['--script', file] });
    const alice = await user(t, srv, 'alice');
    const ticks = [];
    alice.on('tick', (v, n) => ticks.push([v, n]));
    await sleep(300);
    assert.ok(ticks.length >= 2, `parley.every fires: ${ticks.length}`);
    assert.ok(ticks.every(([v]) => v === 'v1'));

    fs.writeFileSync(file, version('v2'));
    const restored = once(alice, 'restored');
    srv.proc.kill('SIGHUP');
    assert.equal(await restored, 'v1', 'on_restore gets what on_save returned');
    await sleep(200);
    const mark = ticks.length;
    await sleep(300);
    const after = ticks.slice(mark);
    assert.ok(after.length >= 2, 'the new timer fires');
    assert.ok(after.every(([v]) => v === 'v2'), `the old timer no longer fires: ${JSON.stringify(after)}`);
    assert.ok(after[0][1] > ticks[0][1], 'the count went across the reload');
    assert.equal(alice.connected, true, 'connections stay up');

    fs.writeFileSync(file, 'this is not Lua (');
    srv.proc.kill('SIGHUP');
    await sleep(300);
    const mark2 = ticks.length;
    await sleep(300);
    assert.ok(ticks.slice(mark2).length >= 2 && ticks.slice(mark2).every(([v]) => v === 'v2'),
      'a version that does not compile leaves the old one running');
    await withTimeout((async () => {
      while (!/reload failed/.test(srv.output().stderr)) await sleep(20);
    })(), 2000, 'the reload failure in the log');
  });

test('a script that fails to load stops the server at start', async (t) => {
  const dir = tempDir('parley-lua-');
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'broken.lua');
  fs.writeFileSync(file, 'parley.on("chat", function() end');
  await assert.rejects(startServer(t, { args: ['--script', file] }), /broken\.lua/);
});

test('hostile scripts: loops, pcall loops, memory and string bombs, forbidden libraries', async (t) => {
  const srv = await startServer(t, { args: ['--script', fixture('hostile.lua')] });
  const mallory = await user(t, srv, 'mallory');
  const alice = await user(t, srv, 'alice');
  const bob = await user(t, srv, 'bob');
  let i = 0;
  for (const attack of ['loop', 'pcall', 'mem', 'rep', 'rep2', 'io', 'os', 'load', 'dump', 'debug']) {
    const t0 = Date.now();
    // the failed hook counts as a pass: the message itself goes through
    await withTimeout(mallory.emitWithAck('chat', { msg: attack }), 2000, `chat after ${attack}`);
    const text = `still here ${i++}`;
    const got = chatWhere(bob, (m) => m.msg === text, 2000);
    await withTimeout(alice.emitWithAck('chat', { msg: text }), 2000, `alice's chat after ${attack}`);
    await got;
    assert.ok(Date.now() - t0 < 2000, `${attack}: served within 2 s`);
  }
  const log = srv.output().stderr;
  assert.match(log, /budget exhausted/);
  assert.match(log, /memory/);
  assert.match(log, /attempt to index a nil value \(global 'io'\)/);
});
