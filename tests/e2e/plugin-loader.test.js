'use strict';
// The plugin loader and the SDK: the example plugin of the README (plugins/examples/wordguard)
// is built out of tree with the documented commands, against the build directory's
// parley-plugin.pc, then loaded with --plugin; a SIGHUP re-initialises it with new options; and
// files that are not plugins, or plugins for another API version, are refused at start with one
// line naming the file, and the server exits with status 2.

const assert = require('node:assert/strict');
const { execFile, spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { describe, it, before, after } = require('node:test');
const {
  REPO, BIN, startServer, connected, tempDir, withTimeout, sleep,
} = require('./lib/server');

const BUILD = path.dirname(BIN);
const EXAMPLE = path.join(REPO, 'plugins', 'examples', 'wordguard');
const FIXTURES = path.join(__dirname, 'fixtures');
const env = { ...process.env, PKG_CONFIG_PATH: BUILD };

// Runs a shell command line in dir with PKG_CONFIG_PATH at the build directory.
function sh(cmd, dir) {
  return new Promise((resolve, reject) => {
    execFile('sh', ['-c', cmd], { cwd: dir, env, timeout: 60000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd}: ${err.message}\n${stdout}${stderr}`));
      else resolve(stdout);
    });
  });
}

// The README's out-of-tree build line, for a source file and an output.
const CC = (src, out) =>
  `cc -std=c11 -shared -fPIC -fvisibility=hidden $(pkg-config --cflags parley-plugin) ` +
  `-o ${out} ${src} $(pkg-config --libs parley-plugin)`;

// Starts parley with args that it must refuse; resolves with { code, stderr } once it exits.
function refused(args) {
  const proc = spawn(BIN, ['--port', '0', '--host', '127.0.0.1', '--db', ':memory:',
    '--no-bundled', ...args], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  let stdout = '';
  proc.stderr.setEncoding('utf8').on('data', (c) => { stderr += c; });
  proc.stdout.setEncoding('utf8').on('data', (c) => { stdout += c; });
  const exited = new Promise((resolve) => proc.on('exit', (code) => resolve({ code, stderr, stdout })));
  return withTimeout(exited, 5000, 'parley to refuse the plugin and exit').finally(() => {
    if (proc.exitCode === null) proc.kill('SIGKILL');
  });
}

// Sends a chat and resolves with its ack answer.
const chat = (socket, msg) => socket.timeout(3000).emitWithAck('chat', { msg });

// Waits until the server's stderr matches re.
async function logged(srv, re) {
  for (let i = 0; i < 50; i++) {
    if (re.test(srv.output().stderr)) return;
    await sleep(100);
  }
  assert.fail(`the log never matched ${re}: ${srv.output().stderr}`);
}

describe('plugin loader', () => {
  let dir;
  let wordguard;
  before(async () => {
    dir = tempDir('parley-plugin-');
    fs.copyFileSync(path.join(EXAMPLE, 'wordguard.c'), path.join(dir, 'wordguard.c'));
    await sh(CC('wordguard.c', 'wordguard.so'), dir);
    wordguard = path.join(dir, 'wordguard.so');
    for (const f of ['version99', 'noinit', 'notplugin']) {
      await sh(CC(path.join(FIXTURES, `${f}.c`), `${f}.so`), dir);
    }
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('loads the example built out of tree: a chat with the word is rejected, others pass', async (t) => {
    const conf = path.join(dir, 'guard.lua');
    fs.writeFileSync(conf, 'plugin_options = { wordguard = { word = "spam", reason = "no spam" } }\n');
    const srv = await startServer(t, { args: ['--config', conf, '--plugin', wordguard], logLevel: 'info' });
    assert.match(srv.output().stderr, /plugin wordguard loaded \(API version 1\)/);
    const a = await connected(t, srv);
    await a.timeout(3000).emitWithAck('login', { name: 'a' });
    const b = await connected(t, srv);
    const got = [];
    b.on('chat', (m) => got.push(m.msg));
    assert.deepEqual(await chat(a, 'buy spam now'), { ok: false, error: 'no spam' });
    const ok = await chat(a, 'hello');
    assert.equal(ok.ok, true, JSON.stringify(ok));
    await sleep(200);
    assert.deepEqual(got, ['hello'], 'only the message that passed is delivered');
    await logged(srv, /refused a message from/);
  });

  it('builds the example with cmake and ParleyPlugin.cmake', async () => {
    const src = path.join(dir, 'cmake-src');
    fs.mkdirSync(src);
    for (const f of ['wordguard.c', 'CMakeLists.txt']) fs.copyFileSync(path.join(EXAMPLE, f), path.join(src, f));
    await sh(`cmake -S cmake-src -B cmake-build -DCMAKE_MODULE_PATH=${path.join(REPO, 'cmake')} >/dev/null && ` +
      'cmake --build cmake-build >/dev/null', dir);
    const so = path.join(dir, 'cmake-build', 'wordguard.so');
    assert.ok(fs.existsSync(so), 'cmake builds wordguard.so (no lib prefix)');
    const syms = await sh(`nm -D --defined-only ${so}`, dir);
    assert.deepEqual(syms.split('\n').filter((l) => / T /.test(l)).map((l) => l.split(' ')[2]).sort(),
      ['parley_plugin_init', 'parley_plugin_version'], 'only the entry points are exported');
  });

  it('SIGHUP re-initialises the plugin with the new options; connections stay up', async (t) => {
    const conf = path.join(dir, 'reload.lua');
    const write = (opts) => fs.writeFileSync(conf,
      `plugins = { { path = ${JSON.stringify(wordguard)}, options = { ${opts} } } }\n`);
    write('word = "foo"');
    const srv = await startServer(t, { args: ['--config', conf], logLevel: 'info' });
    const a = await connected(t, srv);
    await a.timeout(3000).emitWithAck('login', { name: 'a' });
    assert.equal((await chat(a, 'foo')).ok, false);
    assert.equal((await chat(a, 'bar')).ok, true);

    write('word = "bar", reason = 42');
    srv.proc.kill('SIGHUP');
    await logged(srv, /plugin wordguard reloaded/);
    assert.ok(a.connected, 'the client stays connected');
    assert.equal((await chat(a, 'foo')).ok, true);
    assert.deepEqual(await chat(a, 'bar'), { ok: false, error: '42' });

    // a re-init that fails leaves the plugin unloaded and the server serving
    write('reason = "none"');
    srv.proc.kill('SIGHUP');
    await logged(srv, /plugin .*wordguard\.so: init failed: .*\n.*wordguard stays unloaded/);
    assert.equal((await chat(a, 'bar')).ok, true);
    assert.ok(a.connected);
  });

  const cases = [
    ['a shared object without the entry points', 'notplugin.so',
      /error plugin \S*notplugin\.so: not a plugin: it does not export parley_plugin_version/],
    ['a system library', '/usr/lib/x86_64-linux-gnu/libm.so.6',
      /error plugin \S*libm\.so\.6: not a plugin: it does not export parley_plugin_version/],
    ['a plugin built for another API version', 'version99.so',
      /error plugin \S*version99\.so: wrong API version: offered 1, it answered 99/],
    ['a plugin without parley_plugin_init', 'noinit.so',
      /error plugin \S*noinit\.so: not a plugin: it does not export parley_plugin_init/],
    ['a file that is not an ELF object', 'wordguard.c',
      /error plugin \S*wordguard\.c: not loadable: .*(invalid ELF header|too short)/],
    ['a missing file', 'missing.so',
      /error plugin \S*missing\.so: not loadable: .*No such file or directory/],
  ];
  for (const [what, file, re] of cases) {
    it(`refuses ${what} at start with exit status 2`, async (t) => {
      if (file.startsWith('/') && !fs.existsSync(file)) return t.skip(`${file} not present`);
      const res = await refused(['--plugin', file.startsWith('/') ? file : path.join(dir, file)]);
      assert.equal(res.code, 2, res.stderr);
      assert.match(res.stderr, re);
      assert.equal(res.stderr.split('\n').filter((l) => / error /.test(l)).length, 1,
        `one error line: ${res.stderr}`);
      assert.equal(res.stdout, '', 'it never listened');
    });
  }

  it('refuses a plugin whose init fails, naming the reason', async () => {
    const res = await refused(['--plugin', path.join(dir, 'wordguard.so')]);
    assert.equal(res.code, 2, res.stderr);
    assert.match(res.stderr, /error plugin \S*wordguard\.so: init failed: /);
  });
});
