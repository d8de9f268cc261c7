'use strict';
// Every verdict, modification and routing case of the chat application hook, once through a C
// plugin (tests/plugins/verdicts.c) and once through a Lua script (fixtures/lua/verdicts.lua),
// which understand the same commands: real clients assert what the sender and each recipient
// receive, and the history event what was stored.

const assert = require('node:assert/strict');
const path = require('node:path');
const { describe, it, before, after } = require('node:test');
const { BIN, startServer, connected, emitAck, record, uniqueName, liveChats } = require('./lib/server');

const EXTENSIONS = {
  plugin: ['--plugin', path.join(path.dirname(BIN), 'tests', 'plugins', 'verdicts.so')],
};

async function user(t, srv, name) {
  const s = await connected(t, srv, '/');
  const logins = record(s, 'login');
  const userid = uniqueName(`uid-${name}`);
  s.emit('login', { name, userid });
  assert.equal(await logins.next(), name);
  return { s, name, userid };
}

async function stored(u, room) {
  const r = await emitAck(u.s, 'history', { room });
  assert.equal(r.ok, true);
  return r.messages.map((m) => m.msg);
}

for (const [kind, args] of Object.entries(EXTENSIONS)) {
  describe(`chat hook verdicts through a ${kind}`, () => {
    let srv;
    before(async () => {
      srv = await startServer(null, { args });
    });
    after(() => srv.cleanup());

    // a (sender) and b in room r1; c alone in room r2; d in neither
    async function setup(t) {
      const r1 = uniqueName('r1'), r2 = uniqueName('r2');
      const a = await user(t, srv, 'A'), b = await user(t, srv, 'B');
      const c = await user(t, srv, 'C'), d = await user(t, srv, 'D');
      for (const [u, room] of [[a, r1], [b, r1], [c, r2]])
        assert.equal((await emitAck(u.s, 'join', { room })).ok, true);
      const chats = Object.fromEntries([['a', a], ['b', b], ['c', c], ['d', d]].map(([k, u]) => [k, liveChats(u.s)]));
      return { r1, r2, a, b, c, d, chats };
    }

    it('pass: delivered and stored, later hooks run', async (t) => {
      const { r1, a, chats } = await setup(t);
      const r = await emitAck(a.s, 'chat', { room: r1, msg: '#pass hi' });
      assert.equal(r.ok, true);
      assert.equal(r.delivered, 1);
      assert.equal((await chats.b.next()).msg, '#pass hi (seen)');
      await chats.c.none(200);
      await chats.a.none(0);
      assert.deepEqual(await stored(a, r1), ['#pass hi (seen)']);
    });

    it('accept: delivered as it is, later hooks do not run', async (t) => {
      const { r1, a, chats } = await setup(t);
      const r = await emitAck(a.s, 'chat', { room: r1, msg: '#accept hi' });
      assert.equal(r.ok, true);
      assert.equal((await chats.b.next()).msg, '#accept hi');
      assert.deepEqual(await stored(a, r1), ['#accept hi']);
    });

    it('drop: nobody receives it, the sender is not told, nothing is stored', async (t) => {
      const { r1, a, chats } = await setup(t);
      await assert.rejects(a.s.timeout(500).emitWithAck('chat', { room: r1, msg: '#drop hi' }));
      await chats.b.none(200);
      assert.deepEqual(await stored(a, r1), []);
      // the sender still chats
      assert.equal((await emitAck(a.s, 'chat', { room: r1, msg: 'after' })).ok, true);
      assert.equal((await chats.b.next()).msg, 'after');
    });

    it('reject: the sender gets the reason, nobody receives it, nothing is stored', async (t) => {
      const { r1, a, chats } = await setup(t);
      const r = await emitAck(a.s, 'chat', { room: r1, msg: '#reject hi' });
      assert.deepEqual(r, { ok: false, error: 'rejected by the test' });
      await chats.b.none(200);
      assert.deepEqual(await stored(a, r1), []);
    });

    it('disconnect: the reason, then the sender is disconnected', async (t) => {
      const { r1, a, chats } = await setup(t);
      const gone = new Promise((resolve) => a.s.once('disconnect', resolve));
      const r = await emitAck(a.s, 'chat', { room: r1, msg: '#kick hi' });
      assert.deepEqual(r, { ok: false, error: 'rejected by the test' });
      assert.equal(await gone, 'io server disconnect');
      await chats.b.none(100);
    });

    it('modify: recipients get the new text and it is what is stored', async (t) => {
      const { r1, a, chats } = await setup(t);
      assert.equal((await emitAck(a.s, 'chat', { room: r1, msg: '#upper hi' })).ok, true);
      assert.equal((await chats.b.next()).msg, '#UPPER HI (seen)');
      assert.deepEqual(await stored(a, r1), ['#UPPER HI (seen)']);
    });

    it('route to another room', async (t) => {
      const { r1, r2, a, chats } = await setup(t);
      const r = await emitAck(a.s, 'chat', { room: r1, msg: `#room ${r2} hi` });
      assert.equal(r.delivered, 2);
      assert.equal((await chats.b.next()).msg, `#room ${r2} hi (seen)`);
      assert.equal((await chats.c.next()).msg, `#room ${r2} hi (seen)`);
      await chats.d.none(200);
    });

    it('route to a user', async (t) => {
      const { r1, a, d, chats } = await setup(t);
      const r = await emitAck(a.s, 'chat', { room: r1, msg: `#user ${d.userid} hi` });
      assert.equal(r.delivered, 2);
      assert.equal((await chats.d.next()).msg, `#user ${d.userid} hi (seen)`);
      await chats.c.none(200);
    });

    it('skip a recipient', async (t) => {
      const { r1, a, b, chats } = await setup(t);
      const r = await emitAck(a.s, 'chat', { room: r1, msg: `#skip ${b.s.id} hi` });
      assert.equal(r.delivered, 0);
      await chats.b.none(200);
    });

    it('do not store', async (t) => {
      const { r1, a, chats } = await setup(t);
      const r = await emitAck(a.s, 'chat', { room: r1, msg: '#nostore hi' });
      assert.deepEqual(r, { ok: true, delivered: 1, stored: false });
      assert.equal((await chats.b.next()).msg, '#nostore hi (seen)');
      assert.deepEqual(await stored(a, r1), []);
    });
  });
}
