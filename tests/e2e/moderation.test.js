'use strict';
// The bundled moderation plugin (plugins/moderation): the word filter in mask and reject mode,
// moderators' commands typed in chat (/kick, /mute, /ban, /unban, /delete) with their effects,
// refusal for everyone else, and bans that survive a restart on the same database.

const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { describe, it, before, after } = require('node:test');
const {
  BIN, startServer, connected, emitAck, once, record, sleep, uniqueName, tempDir,
} = require('./lib/server');

const PLUGIN = process.env.PARLEY_MODERATION_PLUGIN
  ? path.resolve(process.env.PARLEY_MODERATION_PLUGIN)
  : path.join(path.dirname(BIN), 'plugins', 'moderation.so');

// Starts parley with the plugin and options (an object of strings) written to a config file.
async function startModerated(t, options, opts = {}) {
  assert.ok(fs.existsSync(PLUGIN), `moderation plugin not found at ${PLUGIN}`);
  const dir = tempDir('parley-mod-');
  if (t) t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const cfg = path.join(dir, 'parley.conf');
  const pairs = Object.entries(options).map(([k, v]) => `${k} = ${JSON.stringify(v)}`);
  fs.writeFileSync(cfg, `plugin_options = { moderation = { ${pairs.join(', ')} } }\n`);
  return startServer(t, { ...opts, args: ['--plugin', PLUGIN, '--config', cfg] });
}

// Connects and logs in; resolves with { s, name, userid }.
async function user(t, srv, name, userid = uniqueName(`uid-${name}`)) {
  const s = await connected(t, srv);
  const res = await emitAck(s, 'login', { name, userid });
  assert.deepEqual(res, { ok: true }, `login of ${name}`);
  return { s, name, userid };
}

// Live chat messages from users: neither replayed history nor the plugin's system notices.
const userChats = (s) => record(s, 'chat', { filter: (m) => !m.history && !m.system });
const notices = (s) => record(s, 'chat', { filter: (m) => m.system === true });

async function historyMsgs(s) {
  const res = await emitAck(s, 'history', {});
  assert.equal(res.ok, true, JSON.stringify(res));
  return res.messages.map((m) => m.msg);
}

// Resolves once s is disconnected by the server (or rejects after the bound).
function disconnected(s, timeoutMs = 3000) {
  if (!s.connected) return Promise.resolve();
  return once(s, 'disconnect', timeoutMs);
}

describe('moderation: word filter, mask mode', () => {
  let srv;
  before(async () => {
    srv = await startModerated(null, { words: 'darn, Heck', moderators: 'mod1' });
  });
  after(() => srv.cleanup());

  it('masks whole words, case-insensitively, for recipients and in the history', async (t) => {
    const a = await user(t, srv, 'Ann');
    const b = await user(t, srv, 'Ben');
    const got = userChats(b.s);
    const res = await emitAck(a.s, 'chat', { msg: 'Darn it, what the HECK! darned heckler' });
    assert.equal(res.ok, true, JSON.stringify(res));
    const m = await got.next();
    assert.equal(m.msg, '**** it, what the ****! darned heckler');
    const stored = await historyMsgs(a.s);
    assert.ok(stored.includes('**** it, what the ****! darned heckler'), JSON.stringify(stored));
    assert.ok(!stored.some((x) => /darn it|heck!/i.test(x)), 'nothing unmasked is stored');
  });

  it('leaves clean messages and private messages without words alone', async (t) => {
    const a = await user(t, srv, 'Cal');
    const b = await user(t, srv, 'Dot');
    const got = userChats(b.s);
    await emitAck(a.s, 'chat', { msg: 'hello there' });
    assert.equal((await got.next()).msg, 'hello there');
    const priv = record(b.s, 'private');
    const res = await emitAck(a.s, 'private', { to: b.userid, msg: 'heck, hello' });
    assert.equal(res.ok, true, JSON.stringify(res));
    assert.equal((await priv.next()).msg, '****, hello');
  });

  it('passes unknown slash words as ordinary chat', async (t) => {
    const a = await user(t, srv, 'Eve');
    const b = await user(t, srv, 'Fay');
    const got = userChats(b.s);
    const res = await emitAck(a.s, 'chat', { msg: '/me waves' });
    assert.equal(res.ok, true, JSON.stringify(res));
    assert.equal((await got.next()).msg, '/me waves');
  });
});

describe('moderation: word filter, reject mode', () => {
  let srv;
  before(async () => {
    srv = await startModerated(null, { words: 'darn,heck', filter: 'reject' });
  });
  after(() => srv.cleanup());

  it('refuses a message with a forbidden word; nobody receives it', async (t) => {
    const a = await user(t, srv, 'Gil');
    const b = await user(t, srv, 'Hal');
    const got = userChats(b.s);
    const res = await emitAck(a.s, 'chat', { msg: 'oh darn' });
    assert.deepEqual(res, { ok: false, error: 'message refused: forbidden word' });
    await got.none(300);
    assert.ok(!(await historyMsgs(a.s)).includes('oh darn'));
    const ok = await emitAck(a.s, 'chat', { msg: 'oh dear' });
    assert.equal(ok.ok, true);
    assert.equal((await got.next()).msg, 'oh dear');
  });
});

describe('moderation: commands', () => {
  let srv;
  const dir = tempDir('parley-mod-db-');
  const db = path.join(dir, 'history.db');
  before(async () => {
    // at info level the commands log what they did, after disconnecting their target: the
    // sanitizer build then catches a name read after its socket is gone
    srv = await startModerated(null, { words: 'darn', moderators: 'mod1,mod2' },
      { db, logLevel: 'info' });
  });
  after(async () => {
    await srv.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('refuses commands from non-moderators, and nothing is broadcast', async (t) => {
    const a = await user(t, srv, 'Ivy');
    const b = await user(t, srv, 'Jon');
    const got = userChats(b.s);
    for (const cmd of ['kick', 'mute', 'ban', 'unban', 'delete']) {
      const res = await emitAck(a.s, 'chat', { msg: `/${cmd} Jon 1` });
      assert.deepEqual(res, { ok: false, error: `only moderators can use /${cmd}` });
    }
    await got.none(300);
    assert.equal(b.s.connected, true);
  });

  it('/kick disconnects every socket of the user; the command is neither sent nor stored', async (t) => {
    const mod = await user(t, srv, 'Moe', 'mod1');
    const target = await user(t, srv, 'Kim');
    const second = await connected(t, srv);
    await emitAck(second, 'login', { name: 'Kim', userid: target.userid });
    const other = await user(t, srv, 'Lou');
    const got = userChats(other.s);
    const told = notices(other.s);
    const gone = [disconnected(target.s), disconnected(second)];
    const res = await emitAck(mod.s, 'chat', { msg: '/kick Kim' });
    assert.deepEqual(res, { ok: true, command: 'kick', target: target.userid });
    await Promise.all(gone);
    assert.match((await told.next()).msg, /Kim was kicked/);
    await got.none(200);
    assert.ok(!(await historyMsgs(mod.s)).some((m) => m.startsWith('/kick')));
    // by userid as well
    const again = await user(t, srv, 'Kim2');
    const gone2 = disconnected(again.s);
    const res2 = await emitAck(mod.s, 'chat', { msg: `/kick ${again.userid}` });
    assert.deepEqual(res2, { ok: true, command: 'kick', target: again.userid });
    await gone2;
    const res3 = await emitAck(mod.s, 'chat', { msg: '/kick nobody-here' });
    assert.equal(res3.ok, false);
  });

  it('/mute refuses chat and private messages until it expires', async (t) => {
    const mod = await user(t, srv, 'Max', 'mod2');
    const m = await user(t, srv, 'Ned');
    const other = await user(t, srv, 'Ola');
    const got = userChats(other.s);
    const res = await emitAck(mod.s, 'chat', { msg: '/mute Ned 0.05' });
    assert.equal(res.ok, true, JSON.stringify(res));
    assert.equal(res.command, 'mute');
    assert.equal(res.target, m.userid);
    const muted = { ok: false, error: 'you are muted for 1 more minutes' };
    assert.deepEqual(await emitAck(m.s, 'chat', { msg: 'hello?' }), muted);
    assert.deepEqual(await emitAck(m.s, 'private', { to: other.userid, msg: 'psst' }), muted);
    await got.none(200);
    // others are not muted
    assert.equal((await emitAck(other.s, 'chat', { msg: 'fine' })).ok, true);
    await sleep(3200 - 200);
    const after = await emitAck(m.s, 'chat', { msg: 'back again' });
    assert.equal(after.ok, true, JSON.stringify(after));
    const bad = await emitAck(mod.s, 'chat', { msg: '/mute Ned soon' });
    assert.deepEqual(bad, { ok: false, error: 'usage: /mute NAME MINUTES' });
  });

  it('/delete removes a stored message from the history', async (t) => {
    const mod = await user(t, srv, 'Mia', 'mod1');
    const a = await user(t, srv, 'Pam');
    const text = uniqueName('delete-me');
    const sent = await emitAck(a.s, 'chat', { msg: text });
    assert.equal(sent.ok, true);
    assert.ok((await historyMsgs(a.s)).includes(text));
    const res = await emitAck(mod.s, 'chat', { msg: `/delete ${sent.id}` });
    assert.deepEqual(res, { ok: true, command: 'delete', target: sent.id });
    assert.ok(!(await historyMsgs(a.s)).includes(text));
    const again = await emitAck(mod.s, 'chat', { msg: `/delete ${sent.id}` });
    assert.deepEqual(again, { ok: false, error: 'no message with that id' });
  });

  it('/ban disconnects and refuses logins, across a restart; /unban lifts it', async (t) => {
    const mod = await user(t, srv, 'Mo', 'mod1');
    const b = await user(t, srv, 'Rex');
    const gone = disconnected(b.s);
    const res = await emitAck(mod.s, 'chat', { msg: '/ban Rex' });
    assert.deepEqual(res, { ok: true, command: 'ban', target: b.userid });
    await gone;

    const refusedLogin = async (server) => {
      const s = await connected(t, server);
      const bye = disconnected(s);
      const r = await emitAck(s, 'login', { name: 'Rex', userid: b.userid });
      assert.deepEqual(r, { ok: false, error: 'banned' });
      await bye;
    };
    await refusedLogin(srv);

    // the same database after a restart: still banned
    await srv.stop();
    await srv.cleanup();
    srv = await startModerated(null, { words: 'darn', moderators: 'mod1,mod2' }, { db });
    await refusedLogin(srv);

    const mod2 = await user(t, srv, 'Mo', 'mod1');
    const un = await emitAck(mod2.s, 'chat', { msg: `/unban ${b.userid}` });
    assert.deepEqual(un, { ok: true, command: 'unban', target: b.userid });
    const back = await user(t, srv, 'Rex', b.userid);
    assert.equal((await emitAck(back.s, 'chat', { msg: 'thanks' })).ok, true);
    const notBanned = await emitAck(mod2.s, 'chat', { msg: `/unban ${b.userid}` });
    assert.deepEqual(notBanned, { ok: false, error: 'that user is not banned' });
  });

  it('keeps bans across a configuration reload (SIGHUP)', async (t) => {
    const mod = await user(t, srv, 'Mod', 'mod1');
    const userid = uniqueName('uid-hup');
    const res = await emitAck(mod.s, 'chat', { msg: `/ban ${userid}` });
    assert.deepEqual(res, { ok: true, command: 'ban', target: userid });
    srv.proc.kill('SIGHUP');
    await sleep(300);
    const s = await connected(t, srv);
    const r = await emitAck(s, 'login', { name: 'Hup', userid });
    assert.deepEqual(r, { ok: false, error: 'banned' });
    const un = await emitAck(mod.s, 'chat', { msg: `/unban ${userid}` });
    assert.equal(un.ok, true, JSON.stringify(un));
  });
});
