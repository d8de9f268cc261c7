'use strict';
// Plain HTTP: the web client page, the socket.io-client bundle under /socket.io/, /healthz,
// 404s, and path traversal attempts that must never return a file outside the web root.

const assert = require('node:assert/strict');
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const path = require('node:path');
const { describe, it, before, after } = require('node:test');
const { startServer, request, withTimeout, REPO } = require('./lib/server');

// Sends raw bytes on a new TCP connection; resolves with everything received until the server
// closes the connection, or rejects after timeoutMs.
function rawHttp(srv, bytes, timeoutMs = 2000) {
  return withTimeout(new Promise((resolve, reject) => {
    const sock = net.connect(srv.port, srv.host, () => sock.write(bytes));
    const chunks = [];
    sock.on('data', (c) => chunks.push(c));
    sock.on('end', () => resolve(Buffer.concat(chunks).toString('latin1')));
    sock.on('error', reject);
    setTimeout(() => sock.destroy(), timeoutMs + 100).unref();
  }), timeoutMs, 'the server to close a Connection: close request');
}

// GETs paths in order through one keep-alive agent (as browsers and Node 20's global agent do).
async function viaAgent(srv, paths, headers = {}) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const out = [];
  try {
    for (const [method, p] of paths) {
      out.push(await new Promise((resolve) => {
        const req = http.request({ host: srv.host, port: srv.port, method, path: p, agent, headers }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode));
        });
        req.setTimeout(3000, () => req.destroy(new Error('timeout')));
        req.on('error', (e) => resolve(`${method} ${p}: ${e.message}`));
        req.end();
      }));
    }
  } finally {
    agent.destroy();
  }
  return out;
}

const DIST = path.join(__dirname, '..', 'node_modules', 'socket.io-client', 'dist');

describe('http', () => {
  let srv;
  before(async () => {
    srv = await startServer(null, {});
  });
  after(() => srv.cleanup());

  it('GET / serves web/index.html as text/html', async () => {
    const res = await request(srv, { path: '/' });
    assert.equal(res.status, 200);
    assert.match(String(res.headers['content-type']), /^text\/html\b/);
    assert.deepEqual(res.body, fs.readFileSync(path.join(REPO, 'web', 'index.html')));
  });

  it('GET /index.html serves the same page', async () => {
    const res = await request(srv, { path: '/index.html' });
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, fs.readFileSync(path.join(REPO, 'web', 'index.html')));
  });

  for (const file of ['socket.io.js', 'socket.io.min.js', 'socket.io.js.map', 'socket.io.min.js.map']) {
    it(`GET /socket.io/${file} returns socket.io-client's dist/${file}`, async () => {
      const res = await request(srv, { path: `/socket.io/${file}` });
      assert.equal(res.status, 200);
      const want = fs.readFileSync(path.join(DIST, file));
      assert.equal(res.body.length, want.length, 'same length');
      assert.ok(res.body.equals(want), 'same bytes');
      if (file.endsWith('.js')) assert.match(String(res.headers['content-type']), /javascript/);
      else assert.match(String(res.headers['content-type']), /json/);
    });
  }

  it('GET /healthz -> 200 ok', async () => {
    const res = await request(srv, { path: '/healthz' });
    assert.equal(res.status, 200);
    assert.equal(res.text.trimEnd(), 'ok');
  });

  it('unknown files -> 404', async () => {
    for (const p of ['/no-such-file.html', '/no/such/dir/x.js']) {
      const res = await request(srv, { path: p });
      assert.equal(res.status, 404, `${p}: ${res.status}`);
    }
  });

  it('path traversal never returns a file outside the web root', async () => {
    const cmake = fs.readFileSync(path.join(REPO, 'CMakeLists.txt'), 'utf8');
    const attempts = [
      '/../CMakeLists.txt',
      '/%2e%2e/CMakeLists.txt',
      '/%2E%2E/CMakeLists.txt',
      '/..%2fCMakeLists.txt',
      '/%2e%2e%2fCMakeLists.txt',
      '/./../CMakeLists.txt',
      '/web/../../CMakeLists.txt',
      '/web/../../etc/passwd',
      '/../../../../../../etc/passwd',
      '/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd',
      '/..%5cCMakeLists.txt',
      '/..\\CMakeLists.txt',
      '//etc/passwd',
      '/%2fetc%2fpasswd',
      '/index.html%00.js',
      '/socket.io/../CMakeLists.txt',
      '/socket.io/%2e%2e/%2e%2e/CMakeLists.txt',
    ];
    for (const p of attempts) {
      // A request the HTTP layer refuses outright (connection reset) leaks nothing either.
      const res = await request(srv, { path: p }).catch((e) => {
        assert.ok(e.code === 'ECONNRESET' || /socket hang up/.test(e.message), `${p}: ${e.message}`);
        return null;
      });
      if (!res) continue;
      assert.ok([400, 403, 404].includes(res.status), `${p}: status ${res.status}`);
      assert.ok(!res.text.includes('cmake_minimum_required'), `${p}: leaked CMakeLists.txt`);
      assert.ok(!/root:.*:0:0:/.test(res.text), `${p}: leaked /etc/passwd`);
      assert.notEqual(res.text, cmake);
    }
  });

  it('a directory is not listed', async () => {
    const res = await request(srv, { path: '/node_modules/' });
    assert.ok([403, 404].includes(res.status), `status ${res.status}`);
  });

  it('requests with Connection: close are answered with Connection: close, then closed', async () => {
    for (const p of ['/healthz', '/socket.io/?EIO=4&transport=polling', '/socket.io/?EIO=abc&transport=polling', '/nope']) {
      const raw = await rawHttp(srv, `GET ${p} HTTP/1.1\r\nHost: ${srv.host}\r\nConnection: close\r\n\r\n`);
      const head = raw.split('\r\n\r\n')[0];
      assert.match(head, /^HTTP\/1\.1 \d{3} /, `${p}: status line`);
      assert.match(head, /\r\nconnection: *close\r?$/im, `${p}: a closing response says so:\n${head}`);
    }
  });

  it('a keep-alive agent sending Connection: close (node-fetch on Node 20) never hits a dead socket', async () => {
    const seq = [
      ['GET', '/socket.io/?EIO=4&transport=polling'], ['GET', '/socket.io/?transport=polling'],
      ['GET', '/socket.io/?EIO=abc&transport=polling'], ['GET', '/socket.io/?EIO=4'],
      ['POST', '/socket.io/?EIO=4&transport=polling'], ['GET', '/healthz'],
    ];
    assert.deepEqual(await viaAgent(srv, seq, { connection: 'close' }), [200, 400, 400, 400, 400, 200]);
  });

  it('keep-alive: several requests, errors included, over one connection', async () => {
    const seq = [
      ['GET', '/healthz'], ['GET', '/socket.io/?EIO=4&transport=polling'], ['GET', '/socket.io/?EIO=3&transport=polling'],
      ['GET', '/nope'], ['POST', '/socket.io/?EIO=4&transport=polling'], ['GET', '/'], ['GET', '/healthz'],
    ];
    assert.deepEqual(await viaAgent(srv, seq), [200, 200, 400, 404, 400, 200, 200]);
  });

  it('the server keeps serving after bad requests', async () => {
    const res = await request(srv, { path: '/healthz' });
    assert.equal(res.status, 200);
  });
});

describe('hostile HTTP', () => {
  let srv;
  before(async () => {
    srv = await startServer(null, {});
  });
  after(() => srv.cleanup());

  const handshake = async () => {
    const res = await request(srv, { path: '/socket.io/?EIO=4&transport=polling' });
    return JSON.parse(res.text.slice(1)).sid;
  };
  const post = (sid, headers, body = '40') =>
    `POST /socket.io/?EIO=4&transport=polling&sid=${sid} HTTP/1.1\r\nHost: ${srv.host}\r\n` +
    `Content-Type: text/plain;charset=UTF-8\r\n${headers}\r\n${body}`;

  it('ambiguous request framing (smuggling) -> 400 and the connection closes', async () => {
    for (const framing of [
      'Content-Length: 1\r\nContent-Length: 1\r\n',
      'Content-Length: 1\r\nContent-Length: 7\r\n',
      'Content-Length: 1, 1\r\n',
      'Content-Length: +1\r\n',
      'Transfer-Encoding: chunked\r\nContent-Length: 1\r\n',
      'Content-Length: 1\r\nTransfer-Encoding: identity\r\n',
    ]) {
      const sid = await handshake();
      // the body is a close packet: taken as one, it would end the session
      const raw = await rawHttp(srv, post(sid, framing, '1'));
      assert.match(raw, /^HTTP\/1\.1 400 /, `${JSON.stringify(framing)}: ${raw.slice(0, 80)}`);
      const ok = await rawHttp(srv, post(sid, 'Content-Length: 2\r\nConnection: close\r\n', '40'));
      assert.match(ok, /^HTTP\/1\.1 200 /, `${JSON.stringify(framing)}: the session goes on`);
      const res = await request(srv, { path: `/socket.io/?EIO=4&transport=polling&sid=${sid}` });
      assert.match(res.text, /^40\{"sid":/, `${JSON.stringify(framing)}: ${res.text}`);
    }
    assert.equal((await request(srv, { path: '/healthz' })).status, 200);
  });

  it('a second POST while one is arriving -> 400, and the session is closed', async () => {
    const sid = await handshake();
    const first = net.connect(srv.port, srv.host);
    const firstAnswer = new Promise((resolve) => {
      let got = '';
      first.on('data', (c) => { got += c.toString('latin1'); });
      first.on('close', () => resolve(got));
      first.on('error', () => resolve(got));
    });
    await new Promise((resolve) => first.once('connect', resolve));
    first.write(post(sid, 'Content-Length: 10\r\n', '40'));
    await new Promise((r) => setTimeout(r, 100));
    const second = await rawHttp(srv, post(sid, 'Content-Length: 2\r\nConnection: close\r\n'));
    assert.match(second, /^HTTP\/1\.1 400 /, second.slice(0, 80));
    const res = await request(srv, { path: `/socket.io/?EIO=4&transport=polling&sid=${sid}` });
    assert.equal(res.status, 400, res.text);
    first.destroy();
    await firstAnswer;
  });

  it('a symbolic link out of the web root is not followed', async (t) => {
    const root = fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'parley-webroot-'));
    t.after(() => fs.rmSync(root, { recursive: true, force: true }));
    fs.writeFileSync(path.join(root, 'index.html'), '<p>hi</p>');
    fs.writeFileSync(path.join(root, 'real.txt'), 'inside');
    fs.symlinkSync('/etc/passwd', path.join(root, 'passwd.txt'));
    fs.symlinkSync('/etc', path.join(root, 'etc'));
    fs.symlinkSync('real.txt', path.join(root, 'alias.txt'));
    const s = await startServer(t, { args: ['--web-root', root] });
    assert.equal((await request(s, { path: '/passwd.txt' })).status, 404);
    assert.equal((await request(s, { path: '/etc/passwd' })).status, 404);
    assert.equal((await request(s, { path: '/etc/' })).status, 404);
    const alias = await request(s, { path: '/alias.txt' });
    assert.equal(alias.status, 200);
    assert.equal(alias.text, 'inside');
  });
});
