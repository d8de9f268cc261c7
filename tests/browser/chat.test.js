'use strict';
/*
 * Browser tests for the pages in web/: headless Chromium (playwright-core, Debian's
 * /usr/bin/chromium) against the real parley binary on an ephemeral loopback port.
 *
 *   PARLEY_BIN       server binary (default <repo>/build/parley)
 *   PARLEY_CHROMIUM  browser binary (default /usr/bin/chromium)
 *   PARLEY_SHOTS     directory for screenshots (default: a new temp dir, printed); a failed
 *                    test leaves one of each open page there, failed-<test>-<n>.png
 *   PARLEY_UPDATE_SCREENSHOTS=1  write the README's screenshots into web/screenshots/
 *
 * Run with tests/browser/run.sh BUILD_DIR, or `node --test tests/browser/`.
 */
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawn, execFileSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { chromium } = require('playwright-core');
const { io } = require('socket.io-client');

const REPO = path.resolve(__dirname, '..', '..');
const PARLEY_BIN = process.env.PARLEY_BIN || path.join(REPO, 'build', 'parley');
const CHROMIUM = process.env.PARLEY_CHROMIUM || '/usr/bin/chromium';
const WEB_ROOT = path.join(REPO, 'web');
const STEP_MS = 10000;        // any single wait in a page
const START_MS = 15000;       // server start and browser launch

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'parley-browser-'));
const shots = process.env.PARLEY_SHOTS || fs.mkdtempSync(path.join(os.tmpdir(), 'parley-shots-'));
fs.mkdirSync(shots, { recursive: true });

let server = null;            // child process
let base = '';                // http://127.0.0.1:PORT
let browser = null;
const pageErrors = [];

function killServer() {
  if (server && server.exitCode === null && server.signalCode === null) server.kill('SIGKILL');
  fs.rmSync(tmp, { recursive: true, force: true });
}
process.on('exit', killServer);

/* A configuration file that makes "mod-ada" a moderator. */
function moderationConfig() {
  const file = path.join(tmp, 'moderation.lua');
  fs.writeFileSync(file, 'plugin_options = { moderation = { moderators = "mod-ada" } }\n');
  return file;
}

/*
 * Spawns parley with args (onSpawn gets the process at once) and resolves with {proc, host,
 * port} once it prints `listening on HOST:PORT`.
 */
function spawnParley(args, onSpawn = () => {}) {
  return new Promise((resolve, reject) => {
    const proc = spawn(PARLEY_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    onSpawn(proc);
    let out = '';
    let log = ''; // its stderr, shown when it fails to start
    const timer = setTimeout(() => reject(new Error(
      `parley did not print "listening on" within ${START_MS} ms\nstdout: ${out}\nstderr: ${log}`)), START_MS);
    proc.on('error', (err) => { clearTimeout(timer); reject(err); });
    proc.on('exit', (code, sig) => {
      clearTimeout(timer);
      reject(new Error(`parley exited early (code ${code}, signal ${sig})\nstderr: ${log}`));
    });
    proc.stderr.on('data', (d) => { log = (log + d).slice(-20000); });
    proc.stdout.on('data', (d) => {
      out += d;
      const m = /^listening on (\S+):(\d+)\s*$/m.exec(out);
      if (m) { clearTimeout(timer); resolve({ proc, host: m[1], port: Number(m[2]) }); }
    });
  });
}

/* Starts the suite's parley and resolves with its {host, port}. */
async function startServer(port = 0, extra = []) {
  const args = ['--port', String(port), '--host', '127.0.0.1', '--db', path.join(tmp, 'history.db'),
    '--web-root', WEB_ROOT, '--ping-interval', '1500', '--ping-timeout', '5000', '--no-bundled',
    // "#reject ..." chats are refused by a hook, with a reason
    '--script', path.join(REPO, 'tests', 'e2e', 'fixtures', 'lua', 'chat-verdicts.lua'),
    // a bot, "pinger", in room r1
    '--script', path.join(REPO, 'tests', 'e2e', 'fixtures', 'lua', 'bot.lua'),
    // the moderation plugin, with the userid "mod-ada" as its moderator
    '--plugin', path.join(path.dirname(PARLEY_BIN), 'plugins', 'moderation.so'),
    '--config', moderationConfig(), ...extra];
  const { host, port: bound } = await spawnParley(args, (proc) => { server = proc; });
  return { host, port: bound };
}

/* SIGTERM, then SIGKILL if it has not gone within 3 s. Resolves with the exit code. */
function stopServer() {
  if (!server || server.exitCode !== null || server.signalCode !== null) {
    return Promise.resolve(server ? server.exitCode : null);
  }
  return new Promise((resolve) => {
    const t = setTimeout(() => server.kill('SIGKILL'), 3000);
    server.once('exit', (code) => { clearTimeout(t); resolve(code); });
    server.kill('SIGTERM');
  });
}

/* Screenshots of every open page, into the shots dir as failed-<name>-<n>.png. */
async function screenshotAll(name) {
  if (!browser) return [];
  const slug = name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 60);
  const pages = browser.contexts().flatMap((c) => c.pages());
  const files = [];
  for (const [i, page] of pages.entries()) {
    const file = path.join(shots, `failed-${slug}-${i + 1}.png`);
    try {
      await page.screenshot({ path: file, timeout: 5000 });
      files.push(file);
    } catch { /* a page that cannot be drawn any more: the others still are */ }
  }
  return files;
}

/* Runs fn, failing it after ms; when it fails, screenshots of all pages are saved first. */
async function guarded(name, ms, fn) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${name}: no result within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([fn(), timeout]);
  } catch (err) {
    const files = await screenshotAll(name);
    console.log(`# ${name} failed; screenshots: ${files.join(' ') || 'none'}`);
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

/* A test whose failure (a timeout included) leaves screenshots of the open pages. */
function browserTest(name, opts, fn) {
  const ms = (opts.timeout || 60000) - 3000; // before node:test's own timeout, to have time to draw
  test(name, opts, (t) => guarded(name, ms, () => fn(t)));
}

const DESKTOP = { width: 1000, height: 640 };
const PHONE = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true };

/* A page in a fresh context; init (a function) runs in it before the page's own scripts. */
async function newPage(file, options = { viewport: DESKTOP }, init = null, at = base) {
  const context = await browser.newContext(options);
  if (init) await context.addInitScript(init);
  const page = await context.newPage();
  page.setDefaultTimeout(STEP_MS);
  page.sentFrames = [];        // text frames this page sent on any WebSocket: [url, payload]
  page.on('websocket', (ws) => ws.on('framesent', (f) => page.sentFrames.push([ws.url(), f.payload])));
  page.on('pageerror', (err) => pageErrors.push(`${file}: ${err.message}`));
  await page.goto(`${at}/${file}`, { timeout: STEP_MS });
  return page;
}

/*
 * A TCP relay to the server for pages loaded through it (at its base): drop() cuts their
 * connections, as a lost network would, and while down it refuses new ones.
 */
async function relay() {
  const sockets = new Set();
  const port = Number(new URL(base).port);
  const r = { down: false };
  const server = net.createServer((c) => {
    if (r.down) { c.destroy(); return; }
    const up = net.connect(port, '127.0.0.1');
    for (const sock of [c, up]) {
      sockets.add(sock);
      sock.on('error', () => {});
      sock.on('close', () => { sockets.delete(sock); c.destroy(); up.destroy(); });
    }
    c.pipe(up);
    up.pipe(c);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  r.base = `http://127.0.0.1:${server.address().port}`;
  r.drop = () => sockets.forEach((sock) => sock.destroy());
  r.close = () => { r.drop(); server.close(); };
  return r;
}

async function login(page, name) {
  await page.fill('#login-name', name);
  await page.click('#login-form button[type=submit]');
  await page.waitForSelector('#status[data-state="on"]');
}

async function send(page, text) {
  await page.fill('#send-input', text);
  await page.click('#send-form button[type=submit]');
}

/* Wait until the page shows a chat message from `name` with exactly `text`. */
function waitForChat(page, name, text) {
  return page.waitForFunction(([n, t]) => [...document.querySelectorAll('#messages li.chat')].some(
    (li) => li.querySelector('.from').textContent === n && li.querySelector('.text').textContent === t),
  [name, text], { timeout: STEP_MS });
}

/* Store chats of room straight into the history file: rows of [ts, name, msg]. */
function storeChats(room, rows) {
  const values = rows.map(([ts, name, msg]) => `('/', '${room}', '{"name":"${name}","userid":"${name}"}', 'chat', ` +
    `'[{"from":{"name":"${name}","userid":"${name}"},"room":"${room}","msg":"${msg}"}]', ${ts})`);
  execFileSync('sqlite3', [path.join(tmp, 'history.db')], {
    input: `INSERT INTO messages (nsp, room, sender, event, args, ts) VALUES ${values.join(',')};`,
  });
}

function waitForNotice(page, text) {
  return page.waitForFunction((t) => [...document.querySelectorAll('#messages li.notice')].some(
    (li) => li.textContent === t), text, { timeout: STEP_MS });
}

before(async () => {
  assert.ok(fs.existsSync(PARLEY_BIN), `no server binary at ${PARLEY_BIN} (set PARLEY_BIN)`);
  assert.ok(fs.existsSync(path.join(WEB_ROOT, 'node_modules', 'socket.io-client', 'dist', 'socket.io.js')),
    'web/node_modules is missing: run `npm ci` in web/');
  const addr = await startServer();
  assert.equal(addr.host, '127.0.0.1');
  base = `http://127.0.0.1:${addr.port}`;
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    timeout: START_MS,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});

after(async () => {
  if (browser) await browser.close().catch(() => {});
  await stopServer();
  fs.rmSync(tmp, { recursive: true, force: true });
  console.log(`# screenshots in ${shots}`);
});

browserTest('the server serves the pages and the socket.io client bundle', { timeout: 20000 }, async () => {
  for (const [p, type] of [['/index.html', /text\/html/], ['/native.html', /text\/html/],
    ['/examples/tutorial.html', /text\/html/], ['/examples/rooms.html', /text\/html/],
    ['/app.js', /javascript/], ['/style.css', /text\/css/], ['/socket.io/socket.io.js', /javascript/],
    ['/socket.io/socket.io.min.js', /javascript/], ['/socket.io/socket.io.js.map', /json/],
    ['/socket.io/socket.io.min.js.map', /json/]]) {
    const res = await fetch(base + p, { signal: AbortSignal.timeout(STEP_MS) });
    assert.equal(res.status, 200, p);
    assert.match(res.headers.get('content-type') || '', type, `${p} content-type`);
    await res.arrayBuffer();
  }
});

let alice, bob;

browserTest('two users chat on index.html', { timeout: 60000 }, async () => {
  alice = await newPage('index.html');
  bob = await newPage('index.html');
  await alice.screenshot({ path: path.join(shots, 'index-login.png') });

  await login(alice, 'Alice');
  await login(bob, 'Bob');
  await waitForNotice(alice, 'Bob joined');           // io.emit('login', name) reaches others...
  await waitForNotice(bob, 'Bob joined');             // ...and the sender

  const hello = 'Hello Bob <b>not bold</b> & "quotes"';
  await send(alice, hello);
  await waitForChat(alice, 'Alice (you)', hello);     // own message shown locally
  await waitForChat(bob, 'Alice', hello);
  // User text is never parsed as HTML.
  assert.equal(await bob.locator('#messages b').count(), 0);

  await send(bob, 'Hi Alice');
  await waitForChat(alice, 'Bob', 'Hi Alice');
  // The server does not echo chat to its sender: Bob sees his message once, as his own.
  assert.equal(await bob.locator('#messages li.chat').count(), 2);

  // socket.io-client started on polling and upgraded: a WebSocket with the session's sid sent
  // the upgrade packet "5".
  const upgraded = (p) => p.sentFrames.some(([url, payload]) => /[?&]sid=/.test(url) && payload === '5');
  for (let i = 0; i < 50 && !(upgraded(alice) && upgraded(bob)); i++) await alice.waitForTimeout(100);
  assert.ok(upgraded(alice) && upgraded(bob), 'the pages upgraded from polling to WebSocket');

  // The userid was generated and kept in localStorage; each browser context has its own.
  const ids = await Promise.all([alice, bob].map((p) => p.evaluate(() => localStorage.getItem('parley.userid'))));
  assert.ok(ids[0] && ids[1] && ids[0] !== ids[1], `userids ${ids}`);
  await alice.screenshot({ path: path.join(shots, 'index-alice.png') });
});

browserTest('a message with markup and an onerror handler shows as text and runs nothing', { timeout: 60000 }, async () => {
  const evil = '<img src=x onerror=alert(1)><script>window.pwned = 1</script>';
  const dialogs = [];
  for (const p of [alice, bob]) p.on('dialog', (d) => { dialogs.push(d.message()); d.dismiss().catch(() => {}); });
  await send(alice, evil);
  await waitForChat(bob, 'Alice', evil);
  await waitForChat(alice, 'Alice (you)', evil);
  await bob.waitForTimeout(300); // an image error handler would have run by now
  for (const p of [alice, bob]) {
    assert.equal(await p.locator('#messages img, #messages script').count(), 0);
    assert.equal(await p.evaluate(() => window.pwned), undefined);
  }
  assert.deepEqual(dialogs, []);
});

browserTest('rooms: join with members, room chat, leave', { timeout: 60000 }, async (t) => {
  await alice.fill('#join-room', 'lobby');
  await alice.click('#join-form button');
  // The page waits 5 s for the join ack, then says so in a notice.
  const outcome = await alice.waitForFunction(() => {
    if (document.querySelector('#view-title').textContent === '# lobby') return 'joined';
    const n = [...document.querySelectorAll('#messages li.notice')].find((li) => li.textContent.startsWith('Joining #lobby'));
    return n ? n.textContent : false;
  }, null, { timeout: STEP_MS }).then((h) => h.jsonValue());
  if (/no answer/.test(outcome)) { t.skip('server does not acknowledge `join` {room}'); return; }
  assert.equal(outcome, 'joined');
  await bob.fill('#join-room', 'lobby');
  await bob.click('#join-form button');
  await bob.waitForSelector('#view-title:text-is("# lobby")');
  await waitForNotice(alice, 'Bob joined #lobby');
  await alice.waitForFunction(() => {
    const names = [...document.querySelectorAll('#member-list li')].map((li) => li.textContent);
    return names.some((n) => n.startsWith('Alice')) && names.includes('Bob');
  }, null, { timeout: STEP_MS });

  await send(bob, 'room message');
  await waitForChat(alice, 'Bob', 'room message');
  // It went to the room only: the "Everyone" view of Alice does not have it.
  await alice.click('#room-list button:has(> .room-name:text-is("Everyone"))');
  assert.equal(await alice.locator('#messages li.chat .text:text-is("room message")').count(), 0);
  await alice.click('#room-list button:has-text("lobby")');

  await bob.click('#leave-btn');
  await waitForNotice(alice, 'Bob left #lobby');
  await alice.waitForFunction(() => ![...document.querySelectorAll('#member-list li')]
    .some((li) => li.textContent === 'Bob'), null, { timeout: STEP_MS });
  await alice.screenshot({ path: path.join(shots, 'index-room.png') });
  await alice.click('#room-list button:has(> .room-name:text-is("Everyone"))');
});

browserTest('a long room name is cut short with its whole name on hover, its unread count in view',
  { timeout: 60000 }, async () => {
    const long = 'a-room-whose-name-goes-on-and-on-past-the-sidebar-' + 'x'.repeat(14); // 64, the field's most
    for (const p of [alice, bob]) {
      await p.fill('#join-room', long);
      await p.click('#join-form button');
      await p.waitForSelector(`#room-list button[title$="${long}"]`);
    }
    await alice.click('#room-list button:has(> .room-name:text-is("Everyone"))');
    await send(bob, 'in the long room');
    const button = alice.locator(`#room-list button[title$="${long}"]`);
    await button.locator('.badge:text-is("1")').waitFor();
    const fit = await button.evaluate((b) => {
      const name = b.querySelector('.room-name'), badge = b.querySelector('.badge');
      const box = b.getBoundingClientRect(), bb = badge.getBoundingClientRect();
      return { cut: name.scrollWidth > name.clientWidth, badgeIn: bb.right <= box.right + 0.5 && bb.width > 0 };
    });
    assert.deepEqual(fit, { cut: true, badgeIn: true });
    for (const p of [alice, bob]) {
      await p.click(`#room-list button[title$="${long}"]`);
      await p.click('#leave-btn');
      await p.click('#room-list button:has(> .room-name:text-is("Everyone"))');
    }
  });

browserTest('a later visitor sees the history once, below a divider, under the day of old messages',
  { timeout: 60000 }, async () => {
    // a message stored three days ago, as the history of room "old"
    const db = path.join(tmp, 'history.db');
    const ts = Date.now() - 3 * 86400e3;
    execFileSync('sqlite3', [db], { input: "INSERT INTO messages (nsp, room, sender, event, args, ts) " +
      `VALUES ('/', 'old', '{"name":"Ann"}', 'chat', '[{"from":{"name":"Ann"},"room":"old",` +
      `"msg":"three days ago"}]', ${ts});` });
    await send(alice, 'before Carol came');
    const carol = await newPage('index.html');
    await login(carol, 'Carol');
    await waitForChat(carol, 'Alice', 'before Carol came');
    const texts = () => carol.evaluate(() => [...document.querySelectorAll('#messages li')]
      .map((li) => (li.classList.contains('divider') ? '--' : '') + (li.querySelector('.text') || li).textContent));
    const shown = await texts();
    assert.equal(shown.filter((t) => t === 'before Carol came').length, 1, 'once');
    assert.equal(shown.filter((t) => t === '--Earlier messages').length, 1, 'one divider');
    assert.ok(shown.indexOf('--Earlier messages') < shown.indexOf('before Carol came'), 'above the history');
    // the full time on hover, and the date on a message of another day
    await carol.fill('#join-room', 'old');
    await carol.click('#join-form button');
    await waitForChat(carol, 'Ann', 'three days ago');
    const time = carol.locator('#messages li.chat time').first();
    assert.match(await time.textContent(), /\d/);
    const day = await carol.evaluate(() => document.querySelector('#messages li.chat').previousElementSibling.textContent);
    assert.ok(!['Today', 'Yesterday'].includes(day) && /\d/.test(day), `a dated heading above it: ${day}`);
    assert.equal(new Date(await time.getAttribute('datetime')).getTime(), ts);
    assert.ok((await time.getAttribute('title')).length > 10, 'the full timestamp on hover');
    await carol.context().close();
  });

browserTest('the composer: Enter sends, Shift+Enter a new line; pending until acked; a refusal shows why',
  { timeout: 60000 }, async () => {
    await alice.click('#room-list button:has(> .room-name:text-is("Everyone"))');
    await bob.click('#room-list button:has(> .room-name:text-is("Everyone"))');
    await alice.click('#send-input');
    await alice.keyboard.type('first line');
    await alice.keyboard.press('Shift+Enter');
    await alice.keyboard.type('second line');
    await alice.keyboard.press('Enter');
    await waitForChat(bob, 'Alice', 'first line\nsecond line');
    assert.equal(await alice.inputValue('#send-input'), '', 'sent and cleared');
    // acknowledged: no longer pending
    await alice.waitForFunction(() => {
      const li = [...document.querySelectorAll('#messages li.chat')].pop();
      return li && li.querySelector('.text').textContent === 'first line\nsecond line' &&
        !li.classList.contains('pending') && !li.classList.contains('failed');
    }, null, { timeout: STEP_MS });
    // refused by a hook: the line says so, with the reason and a retry
    await send(alice, '#reject this one');
    const why = await alice.waitForSelector('#messages li.failed .why');
    assert.match(await why.textContent(), /^Not sent: rejected by the test/);
    assert.equal(await alice.locator('#messages li.failed button.retry').count(), 1);
    assert.equal(await bob.locator('#messages li.chat .text:text-is("#reject this one")').count(), 0);
    await alice.screenshot({ path: path.join(shots, 'index-refused.png') });
  });

browserTest('reading above: new messages do not move the view, and a button says they are below',
  { timeout: 60000 }, async () => {
    await alice.click('#room-list button:has(> .room-name:text-is("Everyone"))');
    for (let i = 0; i < 40; i++) await send(bob, `filler ${i}`);
    await waitForChat(alice, 'Bob', 'filler 39');
    assert.equal(await alice.isHidden('#new-below'), true, 'at the bottom: no button');
    await alice.evaluate(() => { document.getElementById('messages').scrollTop = 0; });
    await alice.waitForTimeout(300); // an older page, when there is one...
    await alice.waitForSelector('#messages:not([aria-busy])'); // ...is in
    const firstInSight = () => alice.evaluate(() => {
      const m = document.getElementById('messages');
      const li = [...m.children].find((e) => e.getBoundingClientRect().bottom > m.getBoundingClientRect().top);
      return [li.textContent, li.getBoundingClientRect().top];
    });
    const reading = await firstInSight();
    await send(bob, 'while Alice reads');
    await waitForChat(alice, 'Bob', 'while Alice reads');
    await alice.waitForSelector('#new-below', { state: 'visible' });
    assert.deepEqual(await firstInSight(), reading, 'the view stayed');
    await alice.click('#new-below');
    assert.equal(await alice.evaluate(() => {
      const m = document.getElementById('messages');
      return m.scrollTop + m.clientHeight >= m.scrollHeight - 2;
    }), true, 'at the newest message');
    assert.equal(await alice.isHidden('#new-below'), true);
  });

browserTest('a refused name: back at the sign-in form with the reason, then a good one works', { timeout: 60000 }, async () => {
  const page = await newPage('index.html');
  await page.fill('#login-name', 'é'.repeat(40)); // 40 characters, 80 bytes: over --max-name-bytes
  await page.click('#login-form button[type=submit]');
  const err = await page.waitForSelector('#login-error', { state: 'visible' });
  assert.equal(await err.textContent(), 'That name was refused: name too long (max 64 bytes).');
  assert.equal(await page.isHidden('#chat-view'), true);
  await login(page, 'Shorter');
  assert.equal(await page.isHidden('#login-error'), true);
  await send(page, 'signed in at last');
  await waitForChat(alice, 'Shorter', 'signed in at last');
  await page.context().close();
});

browserTest("a moderator's command is answered in the conversation; a refused one says why", { timeout: 60000 }, async () => {
  const ada = await newPage('index.html');
  await ada.evaluate(() => window.localStorage.setItem('parley.userid', 'mod-ada'));
  await ada.reload();
  await login(ada, 'Ada');
  const vic = await newPage('index.html');
  await login(vic, 'Vic');
  await waitForNotice(ada, 'Vic joined');
  await send(ada, '/kick Vic');
  await waitForNotice(ada, 'Done: /kick Vic');
  assert.equal(await ada.locator('#messages li.chat .text:text-is("/kick Vic")').count(), 0, 'not a chat line');
  await vic.waitForSelector('#status[data-state="off"]');
  await send(bob, '/kick Ada');
  const why = await bob.waitForSelector('#messages li.failed .why');
  assert.match(await why.textContent(), /^Not sent: only moderators can use \/kick/);
  await ada.context().close();
  await vic.context().close();
});

browserTest('the rooms are remembered for the next visit; bots are marked as bots', { timeout: 60000 }, async () => {
  const page = await newPage('index.html');
  await login(page, 'Remy');
  await page.fill('#join-room', 'r1');
  await page.click('#join-form button');
  await page.waitForSelector('#view-title:text-is("# r1")');
  const bot = await page.waitForSelector('#member-list li.bot');
  assert.equal(await bot.textContent(), 'pinger bot');
  assert.equal(await page.locator('#member-list li.bot button').count(), 0, 'no private conversation');
  await page.reload();
  await login(page, 'Remy');
  await page.waitForSelector('#room-list button:has(> .room-name:text-is("# r1"))');
  await page.context().close();
});

/* The visible buttons and fields of a page that are smaller than 40 x 40 px. */
function smallTargets(page) {
  return page.evaluate(() => [...document.querySelectorAll('button, input, textarea, select')].flatMap((e) => {
    const r = e.getBoundingClientRect();
    const shown = r.width > 0 && r.height > 0 && getComputedStyle(e).visibility === 'visible' &&
      r.bottom > 0 && r.right > 0 && r.top < innerHeight && r.left < innerWidth;
    return shown && (r.width < 40 || r.height < 40)
      ? [`${e.id || e.className || e.tagName} "${e.textContent.trim()}" ${r.width}x${r.height}`] : [];
  }));
}

function drawerSettled(page, visibility) {
  return page.waitForFunction((v) => getComputedStyle(document.getElementById('sidebar')).visibility === v &&
    document.getElementById('sidebar').getAnimations().length === 0, visibility, { timeout: STEP_MS });
}

browserTest('a phone: a drawer for the rooms, 40 px touch targets, the composer on screen and the newest message in view',
  { timeout: 60000 }, async () => {
    const now = Date.now();
    storeChats('long', Array.from({ length: 200 }, (_, i) => [now - 200000 + i * 1000, 'Ann', `message ${i}`]));
    const page = await newPage('index.html', PHONE);
    assert.deepEqual(await smallTargets(page), [], 'the sign-in form');
    await login(page, 'Pho');
    // the sidebar is a drawer, closed: a labelled button opens it
    await drawerSettled(page, 'hidden');
    assert.equal(await page.isHidden('#join-room'), true, 'the drawer starts closed');
    const menu = page.getByRole('button', { name: 'Rooms', exact: true });
    assert.equal(await menu.getAttribute('aria-expanded'), 'false');
    await menu.click();
    await drawerSettled(page, 'visible');
    assert.equal(await menu.getAttribute('aria-expanded'), 'true');
    assert.deepEqual(await smallTargets(page), [], 'the open drawer');
    // Escape closes it and gives the focus back to its button
    await page.keyboard.press('Escape');
    await drawerSettled(page, 'hidden');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'menu-btn');
    await menu.click();
    await page.fill('#join-room', 'long');
    await page.press('#join-room', 'Enter');
    await waitForChat(page, 'Ann', 'message 199');
    await drawerSettled(page, 'hidden'); // choosing a room closes the drawer
    await send(page, '#reject this one'); // a refused message has a retry button: it is measured too
    await page.waitForSelector('#messages li.failed button.retry');
    assert.deepEqual(await smallTargets(page), [], 'the conversation');
    const box = await page.locator('#send-input').boundingBox();
    assert.ok(box && box.y >= 0 && box.y + box.height <= 844, `the composer is on screen: ${JSON.stringify(box)}`);
    const doc = await page.evaluate(() => document.scrollingElement.scrollHeight);
    assert.ok(doc <= 844 + 1, `the page does not grow with the history: ${doc} px`);
    const atBottom = await page.evaluate(() => {
      const m = document.getElementById('messages');
      return m.scrollTop + m.clientHeight >= m.scrollHeight - 2;
    });
    assert.equal(atBottom, true, 'the view opens at the newest message');
    await page.screenshot({ path: path.join(shots, 'phone.png') });
    await page.context().close();
  });

browserTest('?transport=polling: long-polling only, and it says so', { timeout: 60000 }, async () => {
  const page = await newPage('index.html?transport=polling');
  let upgraded = false;
  page.on('websocket', () => { upgraded = true; });
  await login(page, 'Polly');
  assert.match(await page.textContent('#status'), /^connected over polling$/);
  await send(page, 'sent by polling');
  await waitForChat(alice, 'Polly', 'sent by polling');
  await send(alice, 'to Polly');
  await waitForChat(page, 'Alice', 'to Polly');
  assert.equal(upgraded, false, 'no WebSocket was opened');
  await page.context().close();
});

browserTest('private conversations: opened from the member list, answered, counted unread', { timeout: 60000 }, async () => {
  for (const p of [alice, bob]) {
    await p.fill('#join-room', 'pm');
    await p.click('#join-form button');
    await p.waitForSelector('#view-title:text-is("# pm")');
  }
  await alice.click('#member-list button:text-is("Bob")');
  await alice.waitForSelector('#view-title:text-is("@ Bob")');
  await send(alice, 'psst, <b>Bob</b>');
  // Bob was looking at #pm: the conversation appears with one unread message
  await bob.waitForSelector('#room-list button:has-text("@ Alice") .badge:text-is("1")');
  await bob.click('#room-list button:has-text("@ Alice")');
  await waitForChat(bob, 'Alice', 'psst, <b>Bob</b>');
  assert.equal(await bob.locator('#messages b').count(), 0, 'text, not HTML');
  await send(bob, 'hi Alice');
  await waitForChat(alice, 'Bob', 'hi Alice');
  // it went to Alice alone: the room and Everyone have it not
  for (const view of ['# pm', 'Everyone']) {
    await alice.click(`#room-list button:has(> .room-name:text-is("${view}"))`);
    assert.equal(await alice.locator('#messages li.chat .text:text-is("hi Alice")').count(), 0);
  }
  for (const p of [alice, bob]) {
    await p.click('#room-list button:has(> .room-name:text-is("# pm"))');
    await p.click('#leave-btn');
  }
  await alice.click('#room-list button:has(> .room-name:text-is("Everyone"))');
  await bob.click('#room-list button:has(> .room-name:text-is("Everyone"))');
});

browserTest('native.html (plain WebSocket) chats with index.html', { timeout: 60000 }, async () => {
  const nat = await newPage('native.html');
  await login(nat, 'Nat');
  await waitForNotice(alice, 'Nat joined');
  await waitForNotice(nat, 'Nat joined');

  await send(nat, 'hi from a raw <i>WebSocket</i>');
  await waitForChat(alice, 'Nat', 'hi from a raw <i>WebSocket</i>');
  await waitForChat(bob, 'Nat', 'hi from a raw <i>WebSocket</i>');
  await send(alice, 'hi Nat');
  await waitForChat(nat, 'Alice', 'hi Nat');
  assert.equal(await nat.locator('#messages i').count(), 0);

  // The page answered a server ping (the server runs with --ping-interval 1500).
  await nat.waitForFunction(() => [...document.querySelectorAll('#frames li.out')]
    .some((li) => li.textContent === '3'), null, { timeout: STEP_MS });
  assert.equal(await nat.getAttribute('#status', 'data-state'), 'on');
  await nat.screenshot({ path: path.join(shots, 'native.png') });
});

/* Records in window.emitLog each event the page's sockets emit ("emit X") and each ack it gets
   ("ack X"), in order. Runs before the page's scripts: it wraps io() as the bundle defines it. */
function recordEmits() {
  window.emitLog = [];
  let wrapped;
  Object.defineProperty(window, 'io', {
    configurable: true,
    get: () => wrapped,
    set(realIo) {
      wrapped = Object.assign((...args) => {
        const socket = realIo(...args);
        const emit = socket.emit;
        socket.emit = function (event, ...rest) {
          window.emitLog.push(`emit ${event}`);
          const last = rest.length - 1;
          if (typeof rest[last] === 'function') {
            const ack = rest[last];
            rest[last] = function (...answer) { window.emitLog.push(`ack ${event}`); return ack.apply(this, answer); };
          }
          return emit.call(this, event, ...rest);
        };
        return socket;
      }, realIo);
    },
  });
}

browserTest('nothing is sent before the login is acknowledged: a message typed at once has its author',
  { timeout: 60000 }, async () => {
    const page = await newPage('index.html', { viewport: DESKTOP }, recordEmits);
    await page.fill('#login-name', 'Early');
    // signing in and sending in one go: the message is typed before the connection is up
    await page.evaluate(() => {
      document.getElementById('login-form').requestSubmit();
      document.getElementById('send-input').value = 'typed before the login';
      document.getElementById('send-form').requestSubmit();
    });
    await waitForChat(alice, 'Early', 'typed before the login');
    const log = await page.evaluate(() => window.emitLog);
    assert.ok(log.indexOf('ack login') >= 0 && log.indexOf('ack login') < log.indexOf('emit chat'),
      `the chat left after the login's ack: ${log.join(', ')}`);
    assert.equal(log.indexOf('emit login'), 0, `the login went first: ${log.join(', ')}`);
    await page.context().close();
  });

/* The list of the current view as [kind, text]: chat lines with their name, when shown. */
function messageRows(page) {
  return page.evaluate(() => [...document.querySelectorAll('#messages li')].map((li) => {
    if (!li.classList.contains('chat')) return [li.className, li.textContent];
    const meta = li.querySelector('.meta');
    const name = meta.classList.contains('visually-hidden') ? '' : li.querySelector('.from').textContent;
    return [li.classList.contains('grouped') ? 'grouped' : 'chat', `${name}: ${li.querySelector('.text').textContent}`];
  }));
}

async function joinRoom(page, room) {
  await page.fill('#join-room', room);
  await page.click('#join-form button');
  await page.waitForSelector(`#view-title:text-is("# ${room}")`);
}

browserTest('messages are grouped by sender and minute, under "Today", "Yesterday" or the date',
  { timeout: 60000 }, async () => {
    const minute = Math.floor(Date.now() / 60000) * 60000;
    const rows = [[minute - 5 * 86400e3, 'Ann', 'last week'], [minute - 86400e3, 'Ann', 'yesterday'],
      [minute + 1000, 'Ann', 'one'], [minute + 2000, 'Ann', 'two'], [minute + 3000, 'Ann', 'three'],
      [minute + 4000, 'Bob', 'from Bob'], [minute + 5000, 'Ann', 'Ann again']];
    storeChats('days', rows);
    const page = await newPage('index.html');
    await login(page, 'Gus');
    await joinRoom(page, 'days');
    await waitForChat(page, 'Ann', 'Ann again');
    const lastWeek = await page.evaluate((ts) => new Date(ts).toLocaleDateString([],
      { weekday: 'long', month: 'long', day: 'numeric' }), rows[0][0]);
    assert.deepEqual((await messageRows(page)).filter(([kind]) => kind !== 'notice'), [
      ['divider', 'Earlier messages'],
      ['day', lastWeek], ['chat', 'Ann: last week'],
      ['day', 'Yesterday'], ['chat', 'Ann: yesterday'],
      ['day', 'Today'], ['chat', 'Ann: one'], ['grouped', ': two'], ['grouped', ': three'],
      ['chat', 'Bob: from Bob'], ['chat', 'Ann: Ann again'],
    ]);
    // a grouped message still has its full time on hover, and its name for screen readers
    const grouped = page.locator('#messages li.grouped').first();
    assert.match(await grouped.getAttribute('title'), /\d/);
    assert.equal(await grouped.locator('.from').textContent(), 'Ann');
    await page.context().close();
  });

/* Sends n chats to room from a Node.js socket.io-client, one after the other, each acked. */
async function seedRoom(room, n) {
  const socket = io(base, { transports: ['websocket'] });
  try {
    await socket.timeout(STEP_MS).emitWithAck('login', { name: 'Seeder', userid: 'seeder' });
    await socket.timeout(STEP_MS).emitWithAck('join', { room });
    for (let i = 0; i < n; i++) {
      const res = await socket.timeout(STEP_MS).emitWithAck('chat', { room, msg: `seed ${i}` });
      assert.ok(res.ok && res.id > 0, `seed ${i} stored: ${JSON.stringify(res)}`);
    }
  } finally {
    socket.disconnect();
  }
}

browserTest('scrolling up loads older pages in place, each message once, down to "No earlier messages"',
  { timeout: 60000 }, async () => {
    await seedRoom('paged', 120);
    const page = await newPage('index.html');
    await login(page, 'Reader');
    await joinRoom(page, 'paged');
    await waitForChat(page, 'Seeder', 'seed 119');
    const chats = () => page.evaluate(() => [...document.querySelectorAll('#messages li.chat .text')].map((t) => t.textContent));
    assert.equal((await chats()).length, 50, 'the replay: the newest 50');
    const top = (text) => page.evaluate((t) => [...document.querySelectorAll('#messages li.chat')]
      .find((li) => li.querySelector('.text').textContent === t).getBoundingClientRect().top, text);
    const scrollToTop = () => page.evaluate(() => { document.getElementById('messages').scrollTop = 0; });
    // where the oldest message is once scrolled to the top, before the older page comes
    const [oldest, before] = await page.evaluate(() => {
      document.getElementById('messages').scrollTop = 0;
      const li = document.querySelector('#messages li.chat');
      return [li.querySelector('.text').textContent, li.getBoundingClientRect().top];
    });
    assert.equal(oldest, 'seed 70');
    await page.waitForFunction(() => document.querySelectorAll('#messages li.chat').length === 100, null, { timeout: STEP_MS });
    assert.ok(Math.abs((await top('seed 70')) - before) <= 2, 'the message that was on top stayed where it was');
    assert.ok(await page.evaluate(() => document.getElementById('messages').scrollTop > 0), 'not at the top any more');
    await scrollToTop();
    await page.waitForSelector('#messages li.start:text-is("No earlier messages")');
    assert.deepEqual(await chats(), Array.from({ length: 120 }, (_, i) => `seed ${i}`), 'all, in order, once');
    // the end reached: scrolling up again asks for nothing more
    await scrollToTop();
    await page.waitForTimeout(300);
    assert.equal((await chats()).length, 120);
    assert.equal(await page.locator('#messages li.start').count(), 1);
    await page.context().close();
  });

/* The buttons, fields and links of the page that have no accessible name (Chromium's own
   accessibility tree, so labels, aria-label and text content all count). */
async function unnamedControls(page) {
  const cdp = await page.context().newCDPSession(page);
  const { nodes } = await cdp.send('Accessibility.getFullAXTree');
  await cdp.detach();
  const roles = new Set(['button', 'textbox', 'searchbox', 'combobox', 'checkbox', 'radio', 'link', 'listbox']);
  return nodes.filter((n) => !n.ignored && n.role && roles.has(n.role.value) && !(n.name && n.name.value.trim()))
    .map((n) => `${n.role.value} #${n.backendDOMNodeId}`);
}

browserTest('every control has an accessible name', { timeout: 60000 }, async () => {
  const page = await newPage('index.html');
  assert.deepEqual(await unnamedControls(page), [], 'the sign-in form');
  await page.getByRole('textbox', { name: 'Your name' }).fill('Nia');
  await page.getByRole('button', { name: 'Join' }).click();
  await page.waitForSelector('#status[data-state="on"]');
  await joinRoom(page, 'r1'); // with a bot and Bob-less members
  await send(page, '#reject no name'); // a failed message: its retry button
  await page.waitForSelector('#messages li.failed button.retry');
  for (const [role, name] of [['textbox', 'Message'], ['textbox', 'Room to join'], ['button', 'Send'],
    ['button', 'Join room'], ['button', 'Leave room'], ['button', 'Retry']]) {
    assert.equal(await page.getByRole(role, { name, exact: true }).count(), 1, `${role} "${name}"`);
  }
  assert.deepEqual(await unnamedControls(page), [], 'the chat');
  await page.context().close();
  const phone = await newPage('index.html', PHONE);
  await login(phone, 'Nia');
  await phone.getByRole('button', { name: 'Rooms', exact: true }).click();
  await drawerSettled(phone, 'visible');
  assert.deepEqual(await unnamedControls(phone), [], 'the drawer');
  await phone.context().close();
  for (const file of ['native.html', 'examples/tutorial.html', 'examples/rooms.html']) {
    const example = await newPage(file);
    assert.deepEqual(await unnamedControls(example), [], file);
    await example.context().close();
  }
});

browserTest('the keyboard alone signs in, sends, joins a room and changes views', { timeout: 60000 }, async () => {
  const page = await newPage('index.html');
  await page.keyboard.type('Kim'); // the name field has the focus
  await page.keyboard.press('Enter');
  await page.waitForSelector('#status[data-state="on"]');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'send-input', 'the message box has the focus');
  await page.keyboard.type('sent with the keyboard');
  await page.keyboard.press('Enter');
  await waitForChat(alice, 'Kim', 'sent with the keyboard');
  // Shift+Tab back to a control; returns false if it is not reached
  const tabBackTo = async (test) => {
    for (let i = 0; i < 15; i++) {
      await page.keyboard.press('Shift+Tab');
      if (await page.evaluate(test)) return true;
    }
    return false;
  };
  assert.ok(await tabBackTo(() => document.activeElement.id === 'join-room'), 'the room field is reached');
  await page.keyboard.type('keys');
  await page.keyboard.press('Enter');
  await page.waitForSelector('#view-title:text-is("# keys")');
  assert.ok(await tabBackTo(() => document.activeElement.textContent === 'Everyone'), 'the rooms are reached');
  await page.keyboard.press('Enter');
  await page.waitForSelector('#view-title:text-is("Everyone")');
  await page.context().close();
});

/* Text of the page (under root) whose contrast with its background is under WCAG AA: 4.5:1, or
   3:1 for large text. Colours are read with getComputedStyle; backgrounds are composed from
   the element up, over white; opacity of the element and its parents fades the text. */
function lowContrast(page, root = 'body') {
  return page.evaluate((rootSelector) => {
    const parse = (c) => {
      const m = /rgba?\(([\d.]+),? ([\d.]+),? ([\d.]+)(?:,? \/? ?([\d.]+))?\)/.exec(c);
      return m ? [+m[1], +m[2], +m[3], m[4] === undefined ? 1 : +m[4]] : [0, 0, 0, 0];
    };
    const over = (top, bottom) => [0, 1, 2].map((i) => top[i] * top[3] + bottom[i] * (1 - top[3])).concat(1);
    const luminance = (rgb) => {
      const [r, g, b] = rgb.slice(0, 3).map((v) => {
        const c = v / 255;
        return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
      });
      return 0.2126 * r + 0.7152 * g + 0.0722 * b;
    };
    const ratio = (a, b) => {
      const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
      return (hi + 0.05) / (lo + 0.05);
    };
    const background = (el) => {
      const layers = [];
      for (let e = el; e; e = e.parentElement) layers.push(parse(getComputedStyle(e).backgroundColor));
      return layers.reverse().reduce((below, layer) => over(layer, below), [255, 255, 255, 1]);
    };
    const opacity = (el) => {
      let o = 1;
      for (let e = el; e; e = e.parentElement) o *= Number(getComputedStyle(e).opacity);
      return o;
    };
    const check = (el, color, what) => {
      const style = getComputedStyle(el);
      const size = parseFloat(style.fontSize), bold = Number(style.fontWeight) >= 700;
      const needed = size >= 24 || (bold && size >= 18.66) ? 3 : 4.5;
      const bg = background(el), fg = parse(color);
      fg[3] *= opacity(el);
      const r = ratio(over(fg, bg), bg);
      return r < needed ? [`${what} "${(el.textContent || el.placeholder).trim().slice(0, 30)}" ` +
        `${color} on rgb(${bg.slice(0, 3).map(Math.round)}): ${r.toFixed(2)} < ${needed}`] : [];
    };
    const shown = (el) => {
      const r = el.getBoundingClientRect();
      return r.width > 0 && r.height > 0 && getComputedStyle(el).visibility === 'visible' &&
        !el.closest('.visually-hidden') && !el.disabled;
    };
    const all = [...document.querySelector(rootSelector).querySelectorAll('*')].filter(shown);
    const texts = all.filter((el) => [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim()));
    const placeholders = all.filter((el) => el.placeholder && !el.value);
    return texts.flatMap((el) => check(el, getComputedStyle(el).color, el.tagName.toLowerCase() + '.' + el.className))
      .concat(placeholders.flatMap((el) => check(el, getComputedStyle(el, '::placeholder').color, 'placeholder')));
  }, root);
}

browserTest('text meets WCAG AA contrast on its background', { timeout: 60000 }, async () => {
  const page = await newPage('index.html');
  assert.deepEqual(await lowContrast(page), [], 'the sign-in form');
  await page.fill('#login-name', 'é'.repeat(40));
  await page.click('#login-form button[type=submit]');
  await page.waitForSelector('#login-error', { state: 'visible' });
  assert.deepEqual(await lowContrast(page), [], 'a refused name');
  await login(page, 'Cora');
  await joinRoom(page, 'days'); // history, day headings, a divider, notices
  await waitForChat(page, 'Ann', 'Ann again');
  await send(page, 'my own message');
  await send(page, '#reject refused'); // a failed line
  await page.waitForSelector('#messages li.failed button.retry');
  await page.fill('#send-input', 'not sent yet'); // the field with text; the placeholder is checked elsewhere
  await send(bob, 'unread for Cora'); // an unread badge on "Everyone"
  await page.waitForSelector('#room-list .badge');
  assert.deepEqual(await lowContrast(page), [], 'the chat');
  await joinRoom(page, 'r1'); // a bot in the member list
  await page.waitForSelector('#member-list li.bot');
  assert.deepEqual(await lowContrast(page), [], 'a room with a bot');
  // every state of the connection status
  for (const state of ['idle', 'on', 'wait', 'off']) {
    await page.evaluate((st) => { document.getElementById('status').className = `status status-${st}`; }, state);
    assert.deepEqual(await lowContrast(page, '.topbar'), [], `status ${state}`);
  }
  await page.context().close();
  const phone = await newPage('index.html', PHONE);
  await login(phone, 'Cora');
  await phone.click('#menu-btn');
  await drawerSettled(phone, 'visible');
  assert.deepEqual(await lowContrast(phone, '#sidebar'), [], 'the drawer');
  await phone.context().close();
  for (const file of ['native.html', 'examples/tutorial.html', 'examples/rooms.html']) {
    const example = await newPage(file);
    await example.waitForTimeout(300);
    assert.deepEqual(await lowContrast(example), [], file);
    await example.context().close();
  }
});

/* Wait until an example page shows a line with exactly `text`. */
function waitForLine(page, text) {
  return page.waitForFunction((t) => [...document.querySelectorAll('#messages li')]
    .some((li) => li.textContent === t), text, { timeout: STEP_MS });
}

browserTest('examples/tutorial.html: a random three-letter name, `login` and `chat` events', { timeout: 60000 }, async () => {
  const one = await newPage('examples/tutorial.html');
  const two = await newPage('examples/tutorial.html');
  const nameOf = async (p) => {
    await p.waitForFunction(() => /^[a-z]{3}$/.test(document.getElementById('me').textContent), null, { timeout: STEP_MS });
    return p.textContent('#me');
  };
  const [a, b] = [await nameOf(one), await nameOf(two)];
  const lines = (p) => p.evaluate(() => [...document.querySelectorAll('#messages li')].map((li) => li.textContent));
  await waitForLine(one, `${b} joined`); // the login of the other page
  await one.fill('#input', 'hi <b>there</b>');
  await one.press('#input', 'Enter');
  await waitForLine(two, `${a}: hi <b>there</b>`);
  await waitForLine(one, `${a}: hi <b>there</b>`); // own lines are shown by the page itself
  assert.equal(await two.locator('#messages b').count(), 0, 'text, not HTML');
  await waitForChat(alice, a, 'hi <b>there</b>'); // the same chat as index.html
  await send(alice, 'hello tutorial');
  await waitForLine(one, 'Alice: hello tutorial');
  assert.equal((await lines(two)).filter((l) => l === `${a}: hi <b>there</b>`).length, 1);
  await one.context().close();
  await two.context().close();
});

browserTest('examples/rooms.html: `chat message` on /chat reaches the room, the sender included', { timeout: 60000 }, async () => {
  const pages = [await newPage('examples/rooms.html'), await newPage('examples/rooms.html'), await newPage('examples/rooms.html')];
  const say = async (p, name, room, msg) => {
    await p.getByLabel('Name').fill(name);
    await p.getByLabel('Room').fill(room);
    await p.getByLabel('Message').fill(msg);
    await p.getByRole('button', { name: 'Send' }).click();
  };
  // each page joins its room with its first message
  await say(pages[0], 'ann', 'blue', 'ann is here');
  await waitForLine(pages[0], 'ann is here');
  await say(pages[1], 'ben', 'blue', 'ben is <i>here</i>');
  await say(pages[2], 'cy', 'green', 'cy elsewhere');
  await waitForLine(pages[0], 'ben is <i>here</i>');
  await waitForLine(pages[1], 'ben is <i>here</i>');
  await waitForLine(pages[2], 'cy elsewhere');
  await say(pages[0], 'ann', 'blue', 'second');
  await waitForLine(pages[1], 'second');
  const texts = (p) => p.evaluate(() => [...document.querySelectorAll('#messages li')].map((li) => li.textContent));
  assert.deepEqual(await texts(pages[2]), ['cy elsewhere'], 'another room hears nothing');
  assert.equal(await pages[0].locator('#messages i').count(), 0, 'text, not HTML');
  for (const p of pages) await p.context().close();
});

browserTest('a failing test leaves a screenshot of each open page', { timeout: 30000 }, async () => {
  const page = await newPage('index.html');
  const failed = () => fs.readdirSync(shots).filter((f) => f.startsWith('failed-a-deliberate'));
  const err = await guarded('a deliberate failure', 5000, async () => { throw new Error('on purpose'); }).catch((e) => e);
  assert.equal(err.message, 'on purpose');
  const timedOut = await guarded('a deliberate timeout', 500, () => new Promise(() => {})).catch((e) => e);
  assert.match(timedOut.message, /no result within 500 ms/);
  const files = failed();
  assert.ok(files.some((f) => f.startsWith('failed-a-deliberate-failure-')), files.join(' '));
  assert.ok(files.some((f) => f.startsWith('failed-a-deliberate-timeout-')), files.join(' '));
  assert.ok(files.every((f) => fs.statSync(path.join(shots, f)).size > 1000), 'PNGs with something in them');
  for (const f of files) fs.rmSync(path.join(shots, f)); // not real failures
  await page.context().close();
});

/* The README's screenshots: into web/screenshots/ with PARLEY_UPDATE_SCREENSHOTS=1, else the shots dir. */
const README_SHOTS = process.env.PARLEY_UPDATE_SCREENSHOTS === '1' ? path.join(WEB_ROOT, 'screenshots') : shots;

browserTest('screenshots of the client on a desktop and on a phone', { timeout: 60000 }, async () => {
  const minute = Math.floor(Date.now() / 60000) * 60000;
  const rows = [[minute - 86400e3 - 600e3, 'Grace', 'The release notes are in the wiki.'],
    [minute - 86400e3 - 540e3, 'Linus', 'Thanks, reading them now.'],
    [minute - 120e3, 'Grace', 'Morning! Who is looking at the flaky test?'],
    [minute - 110e3, 'Grace', 'It failed twice on the night build.']];
  storeChats('design', rows);
  fs.mkdirSync(README_SHOTS, { recursive: true });
  const desk = await newPage('index.html', { viewport: { width: 1280, height: 800 } });
  await login(desk, 'Ada');
  await joinRoom(desk, 'design');
  const linus = await newPage('index.html');
  await login(linus, 'Linus');
  await joinRoom(linus, 'design');
  await send(linus, 'I am on it: a race in the reconnect test.');
  await waitForChat(desk, 'Linus', 'I am on it: a race in the reconnect test.');
  await send(desk, 'Great, thank you!');
  await send(desk, 'Ping me when the fix is up.');
  await desk.waitForFunction(() => !document.querySelector('#messages li.pending'), null, { timeout: STEP_MS });
  await desk.screenshot({ path: path.join(README_SHOTS, 'desktop.png') });
  // Ada on her phone: the same user id, so her messages are hers there too
  const adaId = await desk.evaluate(() => localStorage.getItem('parley.userid'));
  const phone = await newPage('index.html', PHONE);
  await phone.evaluate((id) => localStorage.setItem('parley.userid', id), adaId);
  await phone.reload();
  await login(phone, 'Ada');
  await phone.click('#menu-btn');
  await drawerSettled(phone, 'visible');
  await joinRoom(phone, 'design');
  await waitForChat(phone, 'Ada (you)', 'Ping me when the fix is up.');
  await drawerSettled(phone, 'hidden');
  await phone.screenshot({ path: path.join(README_SHOTS, 'phone.png') });
  for (const p of [desk, linus, phone]) await p.context().close();
});

let sigtermExit;               // parley's exit code after SIGTERM (null if it had to be killed)

browserTest('a dropped transport: reconnecting, then recovered; nothing twice, nothing typed lost',
  { timeout: 60000 }, async () => {
    const r = await relay();
    try {
      const dan = await newPage('index.html', { viewport: DESKTOP }, null, r.base);
      await login(dan, 'Dan');
      await send(alice, 'before the drop');
      await waitForChat(dan, 'Alice', 'before the drop');
      r.down = true;
      r.drop();
      await dan.waitForSelector('#status[data-state="wait"]');
      assert.match(await dan.textContent('#status'), /reconnecting/);
      await send(dan, 'typed during the drop');
      await send(alice, 'sent while Dan was away');
      await alice.waitForTimeout(500);
      r.down = false;
      await dan.waitForSelector('#status[data-state="on"]', { timeout: 15000 });
      assert.match(await dan.textContent('#status'), /^connected over (websocket|polling), recovered$/);
      await waitForChat(alice, 'Dan', 'typed during the drop');
      await waitForChat(dan, 'Alice', 'sent while Dan was away');
      await dan.waitForTimeout(300);
      const count = (p, text) => p.locator('#messages li.chat .text').filter({ hasText: text }).count();
      assert.equal(await count(dan, 'before the drop'), 1, 'shown once on the dropped page');
      assert.equal(await count(dan, 'sent while Dan was away'), 1);
      assert.equal(await count(alice, 'typed during the drop'), 1, 'sent once');
      assert.equal(await count(dan, 'typed during the drop'), 1);
      // a recovered session is not announced again
      assert.equal(await alice.locator('#messages li.notice:text-is("Dan joined")').count(), 1);
      assert.deepEqual(pageErrors, []);
      await dan.context().close();
    } finally {
      r.close();
    }
  });

/* An HS256 JSON Web Token for the auth-token plugin, as any JWT library writes one. */
function jwt(claims, secret) {
  const b64 = (v) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const input = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(claims)}`;
  return `${input}.${crypto.createHmac('sha256', secret).update(input).digest('base64url')}`;
}

browserTest("a signed token in the address signs the page in as the token's user", { timeout: 60000 },
  async () => {
    const secret = crypto.randomBytes(24).toString('hex');
    const config = path.join(tmp, 'auth-token.lua');
    fs.writeFileSync(config, `plugin_options = { ["auth-token"] = { secret = "${secret}" } }\n`);
    const own = await spawnParley(['--port', '0', '--host', '127.0.0.1', '--db', path.join(tmp, 'token.db'),
      '--web-root', WEB_ROOT, '--no-bundled', '--config', config,
      '--plugin', path.join(path.dirname(PARLEY_BIN), 'plugins', 'auth-token.so')]);
    const at = `http://127.0.0.1:${own.port}`;
    const now = Math.floor(Date.now() / 1000);
    const token = (claims) => jwt({ iat: now, exp: now + 3600, ...claims }, secret);
    const peer = io(at, { auth: { token: token({ sub: 'pia-1', name: 'Pia' }) }, forceNew: true,
      reconnection: false, transports: ['websocket'] });
    const nextChat = () => new Promise((resolve) => peer.once('chat', resolve));
    const pages = [];
    try {
      await new Promise((resolve, reject) => { peer.once('connect', resolve); peer.once('connect_error', reject); });
      // a token with a name: no form, the page is signed in as the token's user
      const tia = await newPage(`index.html#token=${token({ sub: 'tia-1', name: 'Tia' })}`, { viewport: DESKTOP }, null, at);
      pages.push(tia);
      await tia.waitForSelector('#status[data-state="on"]');
      assert.equal(await tia.textContent('#me'), 'Tia');
      assert.doesNotMatch(tia.url(), /token/, 'the token is out of the address bar');
      let got = nextChat();
      await send(tia, 'signed hello');
      assert.deepEqual(await got, { from: { name: 'Tia', userid: 'tia-1' }, msg: 'signed hello' });
      // a reload keeps the token (this tab's session storage)
      await tia.reload();
      await tia.waitForSelector('#status[data-state="on"]');
      assert.equal(await tia.textContent('#me'), 'Tia');
      // a token without a name: the form asks for one, the userid stays the token's
      const ann = await newPage(`index.html#token=${token({ sub: 'ann-1' })}`, { viewport: DESKTOP }, null, at);
      pages.push(ann);
      await login(ann, 'Ann');
      got = nextChat();
      await send(ann, 'my own name');
      assert.deepEqual((await got).from, { name: 'Ann', userid: 'ann-1' });
      // an expired token, and none where one is required: the form says why
      const old = await newPage(`index.html#token=${token({ sub: 'old', name: 'Old', iat: now - 7200, exp: now - 3600 })}`,
        { viewport: DESKTOP }, null, at);
      pages.push(old);
      await old.waitForSelector('#login-error:not([hidden])');
      assert.equal(await old.textContent('#login-error'), 'Sign-in refused: token expired.');
      assert.equal(await old.isEditable('#login-name'), true, 'the form can sign in again');
      const none = await newPage('index.html', { viewport: DESKTOP }, null, at);
      pages.push(none);
      await none.fill('#login-name', 'Nobody');
      await none.click('#login-form button[type=submit]');
      await none.waitForSelector('#login-error:not([hidden])');
      assert.equal(await none.textContent('#login-error'), 'Sign-in refused: authentication token required.');
      assert.deepEqual(pageErrors, []);
    } finally {
      peer.close();
      for (const p of pages) await p.context().close();
      own.proc.kill('SIGTERM');
    }
  });

browserTest('pages show "reconnecting" when the server goes away', { timeout: 30000 }, async () => {
  sigtermExit = await stopServer();
  await alice.waitForSelector('#status[data-state="wait"]');
  assert.match(await alice.textContent('#status'), /reconnecting/);
  await alice.screenshot({ path: path.join(shots, 'index-reconnecting.png') });
  assert.deepEqual(pageErrors, []);
});

browserTest('pages reconnect when the server comes back on the same port', { timeout: 40000 }, async () => {
  const port = Number(new URL(base).port);
  await startServer(port);
  for (const p of [alice, bob]) await p.waitForSelector('#status[data-state="on"]', { timeout: 15000 });
  await waitForNotice(alice, 'Reconnected: nothing was missed.');
  assert.match(await alice.textContent('#status'), /^connected over (websocket|polling), recovered$/);
  // The pages logged in again by themselves: chat flows without any user action.
  await send(bob, 'back again');
  await waitForChat(alice, 'Bob', 'back again');
  // Alice is in #lobby again (her session was recovered from the store across the restart).
  await alice.click('#room-list button:has-text("lobby")');
  await alice.waitForFunction(() => [...document.querySelectorAll('#member-list li')]
    .some((li) => li.textContent.startsWith('Alice')), null, { timeout: STEP_MS });
  // Recovered, not replayed: what the pages showed before the restart is shown once.
  for (const p of [alice, bob]) {
    await p.click('#room-list button:has(> .room-name:text-is("Everyone"))');
    assert.equal(await p.locator('#messages li.chat .text:text-is("hi from a raw <i>WebSocket</i>")')
      .count(), 1, 'a message from before the restart, once');
  }
  assert.deepEqual(pageErrors, []);
});

browserTest('a restart without recovery: rooms joined again, nothing shown twice, nothing typed lost',
  { timeout: 60000 }, async () => {
    const port = Number(new URL(base).port);
    await stopServer();
    for (const p of [alice, bob]) await p.waitForSelector('#status[data-state="wait"]');
    // typed during the outage, in a room: sent once the page is back in the room
    await alice.click('#room-list button:has-text("lobby")');
    await send(alice, 'typed while away');
    await startServer(port, ['--recovery-window', '0']);
    for (const p of [alice, bob]) await p.waitForSelector('#status[data-state="on"]', { timeout: 15000 });
    assert.match(await alice.textContent('#status'), /^connected over (websocket|polling)$/);
    await bob.fill('#join-room', 'lobby');
    await bob.click('#join-form button');
    await waitForChat(bob, 'Alice', 'typed while away');
    // the login and the rejoin asked for what came after the newest message shown: no repeats
    for (const p of [alice, bob]) {
      await p.click('#room-list button:has(> .room-name:text-is("Everyone"))');
      assert.equal(await p.locator('#messages li.chat .text:text-is("hi from a raw <i>WebSocket</i>")')
        .count(), 1, 'a message from before the restart, once');
    }
    await waitForNotice(alice, 'Reconnected.');
    await alice.click('#room-list button:has-text("lobby")');
    assert.equal(await alice.locator('#messages li.chat .text:text-is("room message")').count(), 1);
    assert.equal(await alice.locator('#messages li.chat .text:text-is("typed while away")').count(), 1);
    assert.deepEqual(pageErrors, []);
  });

browserTest('no request of a page fails (the favicon included)', { timeout: 30000 }, async () => {
  const page = await newPage('index.html');
  const failed = [];
  page.on('response', (r) => { if (r.status() >= 400) failed.push(`${r.status()} ${r.url()}`); });
  await page.reload();
  await page.waitForLoadState('networkidle');
  assert.deepEqual(failed, []);
  const icon = await fetch(`${base}/favicon.svg`, { signal: AbortSignal.timeout(STEP_MS) });
  assert.equal(icon.status, 200);
  assert.match(icon.headers.get('content-type'), /image\/svg\+xml/);
});

browserTest('parley exits 0 on SIGTERM with browsers connected', {}, async () => {
  assert.equal(sigtermExit, 0, `exit code ${sigtermExit} (null: still running 3 s after SIGTERM, killed)`);
});
