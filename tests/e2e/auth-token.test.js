'use strict';
// The auth-token plugin (plugins/auth-token): identity from a signed token in the CONNECT auth,
// minted here with node:crypto as any JWT library would and by the `parley token` command;
// CONNECT_ERROR with the reason for a bad, expired or missing token; `login` unable to claim
// another user; private rooms joined by a token's rooms claim or an invitation, invitations kept
// across a restart; members and history of a room only for its members.

const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { describe, it, before, after } = require('node:test');
const {
  BIN, startServer, connect, connected, emitAck, once, record, liveChats, uniqueName, tempDir,
} = require('./lib/server');

const PLUGIN = path.join(path.dirname(BIN), 'plugins', 'auth-token.so');
const SECRET = crypto.randomBytes(24).toString('hex'); // 48 characters
const PRIVATE = 'staff,team-*';

const b64url = (buf) => Buffer.from(buf).toString('base64url');

// An HS256 JSON Web Token, as a standard library writes it.
function jwt(claims, { secret = SECRET, header = { alg: 'HS256', typ: 'JWT' } } = {}) {
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  const sig = crypto.createHmac('sha256', secret).update(input).digest();
  return `${input}.${b64url(sig)}`;
}

const now = () => Math.floor(Date.now() / 1000);
// A token for userid valid for an hour; extra claims (name, rooms, exp...) override.
const token = (sub, extra = {}) => jwt({ sub, iat: now(), exp: now() + 3600, ...extra });

// Writes a config file with plugin options ({name: {key: value}}); returns its path.
function writeConfig(t, plugins) {
  const dir = tempDir('parley-auth-');
  if (t) t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'parley.conf');
  const tables = Object.entries(plugins).map(([name, options]) => {
    const pairs = Object.entries(options).map(([k, v]) => `${k} = ${JSON.stringify(v)}`);
    return `[${JSON.stringify(name)}] = { ${pairs.join(', ')} }`;
  });
  fs.writeFileSync(file, `plugin_options = { ${tables.join(', ')} }\n`);
  return file;
}

// Starts parley with the plugin (after opts.plugins, other plugins' paths) and its options.
async function startAuth(t, options = {}, opts = {}) {
  assert.ok(fs.existsSync(PLUGIN), `auth-token plugin not found at ${PLUGIN}`);
  const config = writeConfig(t, {
    'auth-token': { secret: SECRET, private_rooms: PRIVATE, ...options }, ...(opts.others || {}),
  });
  const args = [...(opts.plugins || []).flatMap((p) => ['--plugin', p]), '--plugin', PLUGIN];
  const srv = await startServer(t, { ...opts, args: [...args, '--config', config] });
  srv.config = config;
  return srv;
}

// Connects with a token; resolves with the socket.
const withToken = (t, srv, tok, opts = {}) => connected(t, srv, '/', { auth: { token: tok }, ...opts });

// The CONNECT_ERROR a connection with this auth gets (it must not connect).
async function refusal(t, srv, auth) {
  const s = connect(t, srv, '/', { auth });
  const err = await once(s, 'connect_error', 5000);
  assert.equal(s.connected, false);
  return err.message;
}

describe('auth-token: identity from the token', () => {
  let srv;
  before(async () => {
    srv = await startAuth(null);
  });
  after(() => srv.cleanup());

  it('a valid token gives the identity others see, without a login', async (t) => {
    const alice = uniqueName('alice');
    const bob = uniqueName('bob');
    const a = await withToken(t, srv, token(alice, { name: 'Alice' }));
    const b = await withToken(t, srv, token(bob, { name: 'Bob' }));
    const room = uniqueName('lobby');
    assert.equal((await emitAck(b, 'join', { room })).ok, true);
    const joined = record(b, 'joined');
    const r = await emitAck(a, 'join', { room });
    assert.deepEqual(r.members.find((m) => m.id === a.id), { id: a.id, name: 'Alice', userid: alice });
    assert.deepEqual((await joined.next()).user, { id: a.id, name: 'Alice', userid: alice });
    const chats = liveChats(b);
    assert.equal((await emitAck(a, 'chat', { room, msg: 'hi' })).ok, true);
    assert.deepEqual(await chats.next(), { from: { name: 'Alice', userid: alice }, room, msg: 'hi' });
    // private messages reach the token's userid
    const priv = record(a, 'private');
    assert.deepEqual(await emitAck(b, 'private', { to: alice, msg: 'psst' }), { ok: true, delivered: 1 });
    assert.deepEqual(await priv.next(), { from: { name: 'Bob', userid: bob }, msg: 'psst' });
  });

  it('login cannot claim another userid, nor another name than the token has', async (t) => {
    const alice = uniqueName('alice');
    const mallory = uniqueName('mallory');
    const a = await withToken(t, srv, token(alice, { name: 'Alice' }));
    const m = await withToken(t, srv, token(mallory, { name: 'Mallory' }));
    assert.deepEqual(await emitAck(m, 'login', { name: 'Alice', userid: alice }),
      { ok: false, error: 'the userid comes from the token' });
    assert.deepEqual(await emitAck(m, 'login', { name: 'Alice' }),
      { ok: false, error: 'the name comes from the token' });
    // Alice's private messages still reach Alice only
    const stolen = record(m, 'private');
    const mine = record(a, 'private');
    assert.deepEqual(await emitAck(a, 'private', { to: alice, msg: 'note to self' }), { ok: true, delivered: 1 });
    assert.equal((await mine.next()).msg, 'note to self');
    await stolen.none(300);
    // a login that says what the token says is fine (the tutorial's clients send one)
    assert.deepEqual(await emitAck(a, 'login', { name: 'Alice', userid: alice }), { ok: true });
    assert.deepEqual(await emitAck(a, 'login', {}), { ok: true });
  });

  it('the first login replays the history, although the identity came at connect', async (t) => {
    const a = await withToken(t, srv, token(uniqueName('a'), { name: 'A' }));
    const text = uniqueName('before you came');
    assert.equal((await emitAck(a, 'chat', { msg: text })).ok, true);
    const b = await withToken(t, srv, token(uniqueName('b')));
    const replayed = record(b, 'chat', { filter: (m) => m.history === true && m.msg === text });
    assert.deepEqual(await emitAck(b, 'login', {}), { ok: true });
    assert.equal((await replayed.next()).from.name, 'A');
    // a second login replays nothing
    const again = record(b, 'chat', { filter: (m) => m.history === true });
    assert.deepEqual(await emitAck(b, 'login', {}), { ok: true });
    await again.none(300);
  });

  it('a token without a name: login chooses the display name, the userid stays', async (t) => {
    const zed = uniqueName('zed');
    const z = await withToken(t, srv, token(zed));
    const b = await withToken(t, srv, token(uniqueName('b')));
    assert.deepEqual(await emitAck(z, 'login', { name: 'Zed' }), { ok: true });
    const chats = liveChats(b);
    z.emit('chat', { msg: 'hello' });
    assert.deepEqual(await chats.next(), { from: { name: 'Zed', userid: zed }, msg: 'hello' });
    assert.deepEqual(await emitAck(z, 'login', { name: 'Zed', userid: 'someone-else' }),
      { ok: false, error: 'the userid comes from the token' });
  });

  it('an expired token gets CONNECT_ERROR "token expired"', async (t) => {
    const tok = jwt({ sub: 'late', iat: now() - 7200, exp: now() - 3600 });
    assert.equal(await refusal(t, srv, { token: tok }), 'token expired');
  });

  it('a token issued in the future, beyond the clock skew, is refused', async (t) => {
    const tok = jwt({ sub: 'early', iat: now() + 600, exp: now() + 7200 });
    assert.equal(await refusal(t, srv, { token: tok }), 'token not valid yet');
  });

  it('a bad signature, another algorithm or garbage gets CONNECT_ERROR with the reason', async (t) => {
    const other = jwt({ sub: 'x', exp: now() + 60 }, { secret: 'another secret of enough bytes, 32+' });
    assert.equal(await refusal(t, srv, { token: other }), 'bad token signature');
    // the payload changed after signing
    const [h, , s] = token('alice').split('.');
    const forged = `${h}.${b64url(JSON.stringify({ sub: 'root', exp: now() + 60 }))}.${s}`;
    assert.equal(await refusal(t, srv, { token: forged }), 'bad token signature');
    const none = `${b64url('{"alg":"none"}')}.${b64url(JSON.stringify({ sub: 'root', exp: now() + 60 }))}.`;
    assert.equal(await refusal(t, srv, { token: none }), 'unsupported token algorithm');
    assert.equal(await refusal(t, srv, { token: 'not a token' }), 'malformed token');
    assert.equal(await refusal(t, srv, { token: 42 }), 'malformed token');
    assert.equal(await refusal(t, srv, { token: jwt({ sub: 'x' }) }), 'invalid token claims');
  });

  it('no token: CONNECT_ERROR when the plugin requires one', async (t) => {
    assert.equal(await refusal(t, srv, {}), 'authentication token required');
    assert.equal(await refusal(t, srv, undefined), 'authentication token required');
  });
});

describe('auth-token: tokens optional', () => {
  it('a connection without a token is a guest: a name, no userid', async (t) => {
    const srv = await startAuth(t, { required: 'no' });
    const g = await connected(t, srv);
    const b = await withToken(t, srv, token(uniqueName('b')));
    assert.deepEqual(await emitAck(g, 'login', { name: 'Guest', userid: 'admin' }),
      { ok: false, error: 'a userid needs a token' });
    assert.deepEqual(await emitAck(g, 'login', { name: 'Guest' }), { ok: true });
    const chats = liveChats(b);
    g.emit('chat', { msg: 'hi from a guest' });
    assert.deepEqual(await chats.next(), { from: { name: 'Guest' }, msg: 'hi from a guest' });
    // a bad token is still refused: only its absence makes a guest
    assert.equal(await refusal(t, srv, { token: 'x.y.z' }), 'malformed token');
  });
});

describe('auth-token: parley token', () => {
  it('prints a token the server accepts, with the same secret', async (t) => {
    const srv = await startAuth(t);
    const carol = uniqueName('carol');
    const tok = execFileSync(BIN, ['token', carol, '--name', 'Carol', '--room', 'staff', '--ttl', '600',
      '--config', srv.config], { encoding: 'utf8' });
    assert.match(tok, /^[\w-]+\.[\w-]+\.[\w-]+\n$/);
    const claims = JSON.parse(Buffer.from(tok.split('.')[1], 'base64url'));
    assert.equal(claims.sub, carol);
    assert.equal(claims.exp - claims.iat, 600);
    const c = await withToken(t, srv, tok.trim());
    const b = await withToken(t, srv, token(uniqueName('b')));
    const chats = liveChats(b);
    c.emit('chat', { msg: 'minted by the CLI' });
    assert.deepEqual(await chats.next(), { from: { name: 'Carol', userid: carol }, msg: 'minted by the CLI' });
    assert.equal((await emitAck(c, 'join', 'staff')).ok, true, 'the --room claim opens the room');
  });

  it('refuses a configuration without the secret', (t) => {
    const file = path.join(tempDir('parley-auth-'), 'empty.conf');
    t.after(() => fs.rmSync(path.dirname(file), { recursive: true, force: true }));
    fs.writeFileSync(file, 'port = 0\n');
    assert.throws(() => execFileSync(BIN, ['token', 'x', '--config', file], { stdio: 'pipe' }),
      (e) => e.status === 1 && /no secret/.test(String(e.stderr)));
  });
});

describe('auth-token: private rooms', () => {
  let srv;
  let db;
  before(async () => {
    db = path.join(tempDir('parley-auth-db-'), 'chat.db');
    srv = await startAuth(null, {}, { db });
  });
  after(async () => {
    await srv.cleanup();
    fs.rmSync(path.dirname(db), { recursive: true, force: true });
  });

  const PRIVATE_ERROR = 'that room is private: it needs an invitation or a token that lists it';

  it('a rooms claim opens a private room; without it the join is refused', async (t) => {
    const a = await withToken(t, srv, token(uniqueName('a'), { rooms: ['staff'] }));
    const b = await withToken(t, srv, token(uniqueName('b')));
    const w = await withToken(t, srv, token(uniqueName('w'), { rooms: ['team-*'] }));
    assert.equal((await emitAck(a, 'join', { room: 'staff' })).ok, true);
    assert.deepEqual(await emitAck(b, 'join', { room: 'staff' }), { ok: false, error: PRIVATE_ERROR });
    assert.deepEqual(await emitAck(b, 'join', 'team-red'), { ok: false, error: PRIVATE_ERROR });
    assert.equal((await emitAck(w, 'join', 'team-red')).ok, true, 'a claim may name a prefix');
    assert.deepEqual(await emitAck(w, 'join', 'staff'), { ok: false, error: PRIVATE_ERROR });
    // a public room is open to all
    assert.equal((await emitAck(b, 'join', uniqueName('open'))).ok, true);
    const rooms = await emitAck(b, 'rooms');
    assert.ok(!rooms.rooms.includes('staff'), JSON.stringify(rooms));
  });

  it('members and history of a room are for its members only', async (t) => {
    const a = await withToken(t, srv, token(uniqueName('a'), { name: 'A', rooms: ['team-blue'] }));
    const e = await withToken(t, srv, token(uniqueName('e')));
    assert.equal((await emitAck(a, 'join', 'team-blue')).ok, true);
    assert.equal((await emitAck(a, 'chat', { room: 'team-blue', msg: 'secret plan' })).ok, true);
    assert.deepEqual(await emitAck(e, 'members', { room: 'team-blue' }), { ok: false, error: 'not in that room' });
    assert.deepEqual(await emitAck(e, 'history', { room: 'team-blue' }), { ok: false, error: 'not in that room' });
    const mine = await emitAck(a, 'history', { room: 'team-blue' });
    assert.deepEqual(mine.messages.map((m) => m.msg), ['secret plan']);
    assert.equal((await emitAck(a, 'members', 'team-blue')).members.length, 1);
  });

  it('a member invites a user, who is told and may join; uninvite takes it back', async (t) => {
    const alice = uniqueName('alice');
    const dave = uniqueName('dave');
    const eve = uniqueName('eve');
    const a = await withToken(t, srv, token(alice, { name: 'Alice', rooms: ['team-green'] }));
    const d = await withToken(t, srv, token(dave, { name: 'Dave' }));
    const e = await withToken(t, srv, token(eve));
    assert.deepEqual(await emitAck(d, 'join', 'team-green'), { ok: false, error: PRIVATE_ERROR });
    // only a member may invite, only to a private room, with a token
    assert.deepEqual(await emitAck(e, 'invite', { room: 'team-green', userid: eve }),
      { ok: false, error: 'not in that room' });
    assert.equal((await emitAck(a, 'join', 'team-green')).ok, true);
    const open = uniqueName('open');
    await emitAck(a, 'join', open);
    assert.deepEqual(await emitAck(a, 'invite', { room: open, userid: dave }),
      { ok: false, error: 'that room is not private' });
    assert.deepEqual(await emitAck(a, 'invite', { room: 'team-green' }),
      { ok: false, error: 'a room and a userid are required' });

    const told = record(d, 'invited');
    assert.deepEqual(await emitAck(a, 'invite', { room: 'team-green', userid: dave }),
      { ok: true, room: 'team-green', userid: dave });
    assert.deepEqual(await told.next(), { room: 'team-green', by: { name: 'Alice', userid: alice } });
    const r = await emitAck(d, 'join', 'team-green');
    assert.equal(r.ok, true, JSON.stringify(r));
    assert.equal(r.members.length, 2);
    // a member by invitation may invite too
    assert.equal((await emitAck(d, 'invite', { room: 'team-green', userid: eve })).ok, true);
    assert.deepEqual(await emitAck(a, 'uninvite', { room: 'team-green', userid: eve }),
      { ok: true, room: 'team-green', userid: eve });
    assert.deepEqual(await emitAck(e, 'join', 'team-green'), { ok: false, error: PRIVATE_ERROR });
  });

  it('invitations are kept in the database across a restart', async (t) => {
    const alice = uniqueName('alice');
    const fred = uniqueName('fred');
    const a = await withToken(t, srv, token(alice, { rooms: ['team-kept'] }));
    assert.equal((await emitAck(a, 'join', 'team-kept')).ok, true);
    assert.equal((await emitAck(a, 'invite', { room: 'team-kept', userid: fred })).ok, true);
    a.disconnect();
    await srv.cleanup();
    srv = await startAuth(null, {}, { db });
    const f = await withToken(t, srv, token(fred));
    assert.equal((await emitAck(f, 'join', 'team-kept')).ok, true);
    const g = await withToken(t, srv, token(uniqueName('g')));
    assert.deepEqual(await emitAck(g, 'join', 'team-kept'), { ok: false, error: PRIVATE_ERROR });
  });

  it('the JOIN hook guards every path: /chat joins rooms by its own event', async (t) => {
    const b = await connected(t, srv, '/chat', { auth: { token: token(uniqueName('b')) } });
    const a = await connected(t, srv, '/chat', { auth: { token: token(uniqueName('a'), { rooms: ['staff'] }) } });
    const got = record(a, 'chat message');
    a.emit('chat message', { room: 'staff', msg: 'a is in' });
    assert.equal(await got.next(), 'a is in');
    const res = await emitAck(b, 'chat message', { room: 'staff', msg: 'b tries' });
    assert.deepEqual(res, { ok: false, error: 'cannot join now' });
    await got.none(300);
  });
});

describe('auth-token with moderation', () => {
  it('a banned user who reconnects with a valid token cannot chat', async (t) => {
    const moderation = path.join(path.dirname(BIN), 'plugins', 'moderation.so');
    const srv = await startAuth(t, {}, {
      plugins: [moderation], others: { moderation: { moderators: 'mod1', notify: 'no' } },
    });
    const troll = uniqueName('troll');
    const tok = token(troll, { name: 'Troll' });
    const mod = await withToken(t, srv, token('mod1'));
    const x = await withToken(t, srv, tok);
    const gone = once(x, 'disconnect');
    const r = await emitAck(mod, 'chat', { msg: `/ban ${troll}` });
    assert.deepEqual(r, { ok: true, command: 'ban', target: troll });
    await gone;
    // the token is still valid, so it connects; with no login to refuse, chat is refused
    const y = await withToken(t, srv, tok);
    const again = once(y, 'disconnect');
    assert.deepEqual(await emitAck(y, 'chat', { msg: 'back again' }), { ok: false, error: 'banned' });
    await again;
  });
});

describe('auth-token with connection state recovery', () => {
  it("a session is recovered only by its own user: another token with its pid gets a new one", async (t) => {
    const srv = await startAuth(t);
    const alice = await withToken(t, srv, token('u-alice', { name: 'Alice' }), { reconnection: false });
    assert.equal((await emitAck(alice, 'join', 'r')).ok, true);
    const { _pid: pid, id } = alice;
    assert.ok(pid, 'the server gave a private session id');
    alice.io.engine.close(); // the transport drops: the session waits to be recovered
    await new Promise((resolve) => setTimeout(resolve, 200));
    const writer = await withToken(t, srv, token('u-writer'));
    await emitAck(writer, 'private', { to: 'u-alice', msg: 'for alice only' });
    // mallory holds alice's pid (stolen) but her own token
    const got = [];
    const mallory = connect(t, srv, '/', { auth: { token: token('u-mallory'), pid, offset: '0' } });
    mallory.onAny((event, ...args) => got.push([event, ...args]));
    await once(mallory, 'connect', 5000);
    assert.notEqual(mallory.id, id, 'she took over the session'); // (a client's own recovered flag needs its own pid)
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.ok(!JSON.stringify(got).includes('for alice only'), JSON.stringify(got));
    // alice herself still recovers it, with what she missed
    const back = connect(t, srv, '/', { auth: { token: token('u-alice', { name: 'Alice' }), pid, offset: '0' } });
    const mine = [];
    back.onAny((event, ...args) => mine.push([event, ...args]));
    await once(back, 'connect', 5000);
    assert.equal(back.id, id, 'alice took her session back');
    for (let i = 0; i < 50 && !JSON.stringify(mine).includes('for alice only'); i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.ok(JSON.stringify(mine).includes('for alice only'), JSON.stringify(mine));
  });
});
