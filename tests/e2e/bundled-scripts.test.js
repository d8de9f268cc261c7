'use strict';
// The bundled scripts as the default configuration loads them: the help bot (scripts/help.lua)
// answering in the namespace-wide chat and in its room, and the welcome script
// (scripts/welcome.lua) greeting members who join a room.

const assert = require('node:assert/strict');
const path = require('node:path');
const { describe, it, before, after } = require('node:test');
const { REPO, startServer, connected, emitAck, record, uniqueName, liveChats } = require('./lib/server');

const SCRIPTS = ['help.lua', 'welcome.lua'].flatMap((f) => ['--script', path.join(REPO, 'scripts', f)]);

async function user(t, srv, name) {
  const s = await connected(t, srv, '/');
  const logins = record(s, 'login');
  s.emit('login', { name, userid: uniqueName(`uid-${name}`) });
  assert.equal(await logins.next(), name);
  return { s, name, chats: liveChats(s) };
}

// The next chat from the bot named name.
async function from(u, name) {
  for (;;) {
    const m = await u.chats.next();
    if (m.from && m.from.name === name) return m;
  }
}

describe('bundled scripts', () => {
  let srv;
  before(async () => {
    srv = await startServer(null, { args: SCRIPTS });
  });
  after(() => srv.cleanup());

  it('!help, !roll, !time and !who in the namespace-wide chat, seen by everyone', async (t) => {
    const a = await user(t, srv, uniqueName('ann'));
    const b = await user(t, srv, uniqueName('bob'));
    assert.equal((await emitAck(a.s, 'chat', { msg: '!help' })).ok, true);
    const help = await from(a, 'helper');
    assert.equal(help.msg, 'commands: !help, !who, !time, !roll NdM, !seen NAME');
    assert.equal(help.room, undefined);
    assert.equal((await from(b, 'helper')).msg, help.msg);

    await emitAck(a.s, 'chat', { msg: '!roll 3d6' });
    const roll = (await from(a, 'helper')).msg;
    const m = roll.match(/^3d6: (\d) \+ (\d) \+ (\d) = (\d+)$/);
    assert.ok(m, roll);
    const dice = m.slice(1, 4).map(Number);
    for (const d of dice) assert.ok(d >= 1 && d <= 6, roll);
    assert.equal(Number(m[4]), dice[0] + dice[1] + dice[2]);
    await emitAck(a.s, 'chat', { msg: '!roll 99d6' });
    assert.match((await from(a, 'helper')).msg, /^usage: !roll NdM/);

    await emitAck(a.s, 'chat', { msg: '!time' });
    const time = (await from(a, 'helper')).msg;
    const iso = time.match(/^it is (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC$/);
    assert.ok(iso, time);
    assert.ok(Math.abs(Date.parse(iso[1].replace(' ', 'T') + 'Z') - Date.now()) < 5000, time);

    await emitAck(a.s, 'chat', { msg: '!who' });
    const who = (await from(a, 'helper')).msg;
    assert.ok(who.startsWith('here: '), who);
    assert.ok(who.includes(a.name) && who.includes(b.name), who);
    assert.ok(!who.includes('helper'), 'bots are not listed');
  });

  it('!seen tells when a user last chatted', async (t) => {
    const a = await user(t, srv, uniqueName('cid'));
    const b = await user(t, srv, uniqueName('dan'));
    await emitAck(b.s, 'chat', { msg: 'hello' });
    await emitAck(a.s, 'chat', { msg: `!seen ${b.name}` });
    assert.match((await from(a, 'helper')).msg, new RegExp(`^${b.name} was last seen \\d+ s ago$`));
    await emitAck(a.s, 'chat', { msg: '!seen nobody-like-this' });
    assert.equal((await from(a, 'helper')).msg, 'I have not seen nobody-like-this');
  });

  it('the bot answers in its room, is listed there as a bot, and the joiner is welcomed', async (t) => {
    const a = await user(t, srv, uniqueName('eve'));
    const r = await emitAck(a.s, 'join', { room: 'lobby' });
    assert.equal(r.ok, true);
    const bot = r.members.find((m) => m.name === 'helper');
    assert.ok(bot, JSON.stringify(r.members));
    assert.equal(bot.bot, true);
    const welcome = await from(a, 'welcome');
    assert.deepEqual(welcome, { from: { name: 'welcome', bot: true }, room: 'lobby', msg: `Welcome to lobby, ${a.name}!` });
    await emitAck(a.s, 'chat', { room: 'lobby', msg: '!help' });
    const help = await from(a, 'helper');
    assert.equal(help.room, 'lobby');
    assert.match(help.msg, /^commands: /);
  });
});
