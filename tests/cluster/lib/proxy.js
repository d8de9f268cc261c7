'use strict';
// Load balancers in front of Parley nodes for the cluster tests: Debian's nginx and HAProxy,
// each started in the foreground on a free loopback port with its configuration, pid file,
// logs and temporary files in a temporary directory of its own, and stopped when the test ends.
// The configurations are the templates next to this file (nginx-parley.conf, haproxy.cfg),
// which the README's Clustering section shows verbatim; @LISTEN@, @NODE_A@ and @NODE_B@ are
// filled in here.

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const { tempDir, withTimeout, HOST } = require('../../e2e/lib/server');
const { freePort, waitPort } = require('./cluster');

// The template name with its placeholders filled in.
function fill(name, listen, nodes) {
  const text = fs.readFileSync(path.join(__dirname, name), 'utf8');
  return text.replaceAll('@LISTEN@', listen)
    .replaceAll('@NODE_A@', `${HOST}:${nodes[0].port}`)
    .replaceAll('@NODE_B@', `${HOST}:${nodes[1].port}`);
}

// The program's path: on PATH, or in /usr/sbin (where Debian puts both, off a user's PATH).
function program(name) {
  for (const dir of [...(process.env.PATH || '').split(':'), '/usr/sbin']) {
    const p = path.join(dir || '.', name);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      // not there
    }
  }
  throw new Error(`${name} not found (make deps installs the ${name} package)`);
}

// Runs argv in the foreground until t ends; resolves once port accepts connections.
// Returns { url, port, dir, output() }.
async function run(t, argv, port, dir) {
  let out = '';
  const proc = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  proc.stdout.on('data', (c) => { out += c; });
  proc.stderr.on('data', (c) => { out += c; });
  const exited = new Promise((resolve) => proc.once('exit', resolve));
  proc.on('error', () => {}); // reported through exited
  process.on('exit', () => proc.kill('SIGKILL'));
  t.after(async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGTERM');
      await withTimeout(exited, 5000, `${path.basename(argv[0])} to exit`).catch(() => {
        proc.kill('SIGKILL');
      });
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });
  await Promise.race([
    waitPort(port),
    exited.then((code) => {
      throw new Error(`${argv.join(' ')} exited (${code}): ${out}`);
    }),
  ]);
  return { url: `http://${HOST}:${port}`, port, dir, output: () => out };
}

// Starts nginx with nginx-parley.conf in front of the two nodes (each { port }).
// The access log is dir/access.log.
async function startNginx(t, nodes) {
  const dir = tempDir('parley-nginx-');
  fs.chmodSync(dir, 0o755); // a root master's workers run as nobody and write the temp files
  const port = await freePort();
  fs.writeFileSync(path.join(dir, 'parley.conf'), fill('nginx-parley.conf', `${HOST}:${port}`, nodes));
  // the main file: everything nginx writes stays in dir
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']
    .map((k) => `    ${k}_temp_path ${path.join(dir, k)};`).join('\n');
  fs.writeFileSync(path.join(dir, 'nginx.conf'), `pid ${path.join(dir, 'nginx.pid')};
error_log ${path.join(dir, 'error.log')} warn;
worker_processes 1;
events { worker_connections 512; }
http {
    access_log ${path.join(dir, 'access.log')};
${temp}
    include ${path.join(dir, 'parley.conf')};
}
`);
  return run(t, [program('nginx'), '-p', dir, '-e', path.join(dir, 'error.log'),
    '-c', path.join(dir, 'nginx.conf'), '-g', 'daemon off;'], port, dir);
}

// Starts HAProxy with haproxy.cfg in front of the two nodes (each { port }).
async function startHaproxy(t, nodes) {
  const dir = tempDir('parley-haproxy-');
  const port = await freePort();
  const file = path.join(dir, 'haproxy.cfg');
  fs.writeFileSync(file, fill('haproxy.cfg', `${HOST}:${port}`, nodes));
  return run(t, [program('haproxy'), '-f', file, '-db'], port, dir);
}

module.exports = { startNginx, startHaproxy };
