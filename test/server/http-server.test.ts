/**
 * The report server (src/server/http.ts) on its own, on a temporary unix socket with a fixed
 * snapshot: node:http's client as the reference client, pipelined and odd requests on raw sockets,
 * and each timeout with short limits. (The daemon's HTTP surface and hostile clients are in
 * serve.test.ts and reliability/hostile.test.ts.)
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { pino } from 'pino';
import t, { type Test } from 'tap';
import { parseHead } from '../bench/lean-client.js';
import { createReportServer, SERVER_LIMITS, type ReportServer, type ServerLimits } from '../../src/server/http.js';
import type { ServedSnapshot } from '../../src/snapshot/serialise.js';
import type { SnapshotStats } from '../../src/snapshot/types.js';

const BODY = Buffer.from(JSON.stringify({ Plugins: [{ id: 'host-namespaces' }], pad: 'x'.repeat(50_000) }));
const SNAP: ServedSnapshot = { seq: 7, body: BODY, gzip: gzipSync(BODY), stats: {} as SnapshotStats, checkedAt: Date.parse('2026-12-01T00:00:00Z') };

async function start(t: Test, limits: Partial<ServerLimits> = {}, snap: ServedSnapshot | null = SNAP): Promise<{ server: ReportServer; sock: string }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rs-'));
  const sock = path.join(dir, 's.sock');
  const server = createReportServer(() => snap, pino({ level: 'silent' }), { ...SERVER_LIMITS, ...limits });
  await new Promise<void>((resolve) => server.listen(sock, resolve));
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return { server, sock };
}

interface Answer {
  status: number;
  headers: Map<string, string>;
  body: Buffer;
}

/** Splits what a raw client received into answers (Content-Length framed; HEAD answers have no body). */
function answers(bytes: Buffer, headRequests: ReadonlySet<number> = new Set()): Answer[] {
  const out: Answer[] = [];
  let rest = bytes;
  while (rest.length > 0) {
    const h = parseHead(rest);
    if (h === null || h instanceof Error) throw new Error(`bad answer bytes: ${JSON.stringify(rest.toString('latin1').slice(0, 200))}`);
    const headers = new Map<string, string>();
    for (const line of rest
      .toString('latin1', 0, h.bodyStart - 4)
      .split('\r\n')
      .slice(1)) {
      const colon = line.indexOf(':');
      headers.set(line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim());
    }
    const len = headRequests.has(out.length) ? 0 : h.contentLength;
    out.push({ status: h.statusCode, headers, body: rest.subarray(h.bodyStart, h.bodyStart + len) });
    rest = rest.subarray(h.bodyStart + len);
  }
  return out;
}

/** Writes `data`, collects everything until the server closes (or `ms` passes: then `closed` is false). */
function rawExchange(sock: string, data: string | Buffer, ms = 5_000): Promise<{ bytes: Buffer; closed: boolean; afterMs: number }> {
  return new Promise((resolve) => {
    const started = Date.now();
    const chunks: Buffer[] = [];
    const s = net.createConnection(sock, () => s.write(data));
    const timer = setTimeout(() => {
      s.destroy();
      resolve({ bytes: Buffer.concat(chunks), closed: false, afterMs: Date.now() - started });
    }, ms);
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('error', () => {});
    s.on('close', () => {
      clearTimeout(timer);
      resolve({ bytes: Buffer.concat(chunks), closed: true, afterMs: Date.now() - started });
    });
  });
}

function httpGet(
  sock: string,
  agent: http.Agent,
  headers: http.OutgoingHttpHeaders = {},
  method = 'GET',
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer; reused: boolean }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: sock, path: '/report?api_version=1&probe_id=0123456789abcdef', method, agent, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), reused: req.reusedSocket }));
    });
    req.on('error', reject);
    req.end();
  });
}

t.test("node:http's client: gzip and identity answers on one kept-alive connection", async (t) => {
  const { sock } = await start(t);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  t.teardown(() => agent.destroy());
  const gz = await httpGet(sock, agent, { 'Accept-Encoding': 'gzip' });
  t.equal(gz.status, 200);
  t.equal(gz.headers['content-encoding'], 'gzip');
  t.same(gunzipSync(gz.body), BODY, 'gzip body decodes to the snapshot');
  t.equal(gz.headers['x-snapshot-seq'], '7');
  t.equal(gz.headers['x-snapshot-time'], '2026-12-01T00:00:00.000Z');
  t.equal(gz.headers['connection'], 'keep-alive');
  const date = Date.parse(gz.headers['date'] ?? '');
  t.ok(Math.abs(date - Date.now()) < 60_000, `Date header is now: ${gz.headers['date'] ?? '(none)'}`);
  const plain = await httpGet(sock, agent, { 'Accept-Encoding': 'gzip;q=0, br' });
  t.equal(plain.headers['content-encoding'], undefined);
  t.same(plain.body, BODY, 'identity body is the snapshot');
  t.equal(plain.reused, true, 'second request on the same connection');
  const head = await httpGet(sock, agent, {}, 'HEAD');
  t.equal(head.status, 200);
  t.equal(head.headers['content-length'], String(BODY.length), 'HEAD: the length GET would send');
  t.equal(head.body.length, 0);
  const post = await httpGet(sock, agent, {}, 'POST');
  t.equal(post.status, 405);
  t.equal(post.headers['allow'], 'GET, HEAD');
});

t.test('pipelined requests are answered in order on one connection', async (t) => {
  const { sock } = await start(t);
  const reqs = 'GET /report HTTP/1.1\r\nAccept-Encoding: gzip\r\n\r\n' + 'GET /nope HTTP/1.1\r\n\r\n' + 'HEAD /report HTTP/1.1\r\n\r\n' + 'GET /report?x=1 HTTP/1.1\r\nConnection: close\r\n\r\n';
  const r = await rawExchange(sock, reqs);
  t.equal(r.closed, true, 'closed after the answer to Connection: close');
  const a = answers(r.bytes, new Set([2]));
  t.same(
    a.map((x) => x.status),
    [200, 404, 200, 200],
  );
  t.same(gunzipSync(a[0]?.body ?? Buffer.alloc(0)), BODY);
  t.equal(a[1]?.headers.get('connection'), 'keep-alive', 'a 404 keeps the connection');
  t.same(a[3]?.body, BODY);
  t.equal(a[3]?.headers.get('connection'), 'close');
});

t.test('a request split into many writes', async (t) => {
  const { sock } = await start(t);
  const text = 'GET /report HTTP/1.1\r\nHost: plugin\r\nConnection: close\r\n\r\n';
  const got = await new Promise<Buffer>((resolve) => {
    const chunks: Buffer[] = [];
    const s = net.createConnection(sock, () => {
      let i = 0;
      const step = (): void => {
        if (i >= text.length) return;
        s.write(text.charAt(i++));
        setTimeout(step, 1);
      };
      step();
    });
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('close', () => resolve(Buffer.concat(chunks)));
  });
  t.same(answers(got)[0]?.body, BODY);
});

t.test('HTTP/1.0 closes unless asked to keep the connection; a request with a body is answered and closed', async (t) => {
  const { sock } = await start(t);
  const old = await rawExchange(sock, 'GET /report HTTP/1.0\r\n\r\n');
  t.equal(old.closed, true, 'HTTP/1.0: closed');
  t.equal(answers(old.bytes)[0]?.headers.get('connection'), 'close');
  const kept = await rawExchange(sock, 'GET /report HTTP/1.0\r\nConnection: keep-alive\r\n\r\n', 300);
  t.equal(kept.closed, false, 'HTTP/1.0 with keep-alive: still open');
  t.equal(answers(kept.bytes)[0]?.status, 200);
  const body = await rawExchange(sock, 'POST /report HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello' + 'GET /report HTTP/1.1\r\n\r\n');
  t.equal(body.closed, true);
  const a = answers(body.bytes);
  t.same(
    a.map((x) => x.status),
    [405],
    'the body (and what follows it) is not taken as a request',
  );
  t.equal(a[0]?.headers.get('connection'), 'close');
});

t.test('no snapshot yet: 503', async (t) => {
  const { sock } = await start(t, {}, null);
  const r = await rawExchange(sock, 'GET /report HTTP/1.1\r\nConnection: close\r\n\r\n');
  t.equal(answers(r.bytes)[0]?.status, 503);
});

t.test('timeouts: unfinished head 408, idle keep-alive, a body still arriving, a client that stops reading', async (t) => {
  const limits = { headersTimeoutMs: 300, keepAliveTimeoutMs: 400, requestTimeoutMs: 500, idleSocketMs: 600, checkIntervalMs: 50, maxQueuedBytes: 64 * 1024 };
  const { server, sock } = await start(t, limits);
  const partial = await rawExchange(sock, 'GET /report HTTP/1.1\r\nHost: plugin\r\n');
  t.equal(partial.closed, true, 'unfinished head: closed');
  t.equal(answers(partial.bytes)[0]?.status, 408);
  t.ok(partial.afterMs >= 300, `not before the header timeout (${partial.afterMs} ms)`);

  const idle = await rawExchange(sock, 'GET /report HTTP/1.1\r\n\r\n');
  t.equal(idle.closed, true, 'idle keep-alive connection closed');
  t.ok(idle.afterMs >= 400, `not before the keep-alive timeout (${idle.afterMs} ms)`);
  t.equal(answers(idle.bytes)[0]?.status, 200, 'after its answer');

  // A client that sends an endless body and ignores our end of the connection.
  const endless = await new Promise<{ reply: string; ms: number }>((resolve) => {
    const started = Date.now();
    let reply = '';
    const s = net.createConnection({ path: sock, allowHalfOpen: true }, () => s.write('POST /report HTTP/1.1\r\nContent-Length: 100000000\r\n\r\n'));
    const timer = setInterval(() => s.writable && s.write(Buffer.alloc(4096, 0x61)), 10);
    s.on('data', (c: Buffer) => (reply += c.toString('latin1')));
    s.on('error', () => {});
    s.on('close', () => {
      clearInterval(timer);
      resolve({ reply, ms: Date.now() - started });
    });
  });
  t.match(endless.reply, /^HTTP\/1\.1 405 /);
  t.ok(endless.ms >= 500, `endless body cut off by the request timeout (${endless.ms} ms)`);

  // Pipelined requests for the identity body, never read: the server stops reading the
  // connection and drops it once its queued answers make no progress. (A paused client does not
  // see the close: the server's connection count tells.)
  const s = net.createConnection(sock, () => {
    s.pause();
    s.write('GET /report HTTP/1.1\r\n\r\n'.repeat(200));
  });
  s.on('error', () => {});
  t.teardown(() => s.destroy());
  const connections = (): Promise<number> => new Promise((resolve) => server.getConnections((_e, n) => resolve(n)));
  await new Promise((r) => setTimeout(r, 100));
  t.equal(await connections(), 1, 'the stalled connection is open at first');
  const deadline = Date.now() + 10_000;
  while ((await connections()) > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  t.equal(await connections(), 0, 'a client that stops reading is disconnected');
});

t.test('a retired server answers with Connection: close, then its close completes', async (t) => {
  const { server, sock } = await start(t);
  const s = net.createConnection(sock);
  t.teardown(() => s.destroy());
  const chunks: Buffer[] = [];
  s.on('data', (c: Buffer) => chunks.push(c));
  const closedConn = new Promise<void>((resolve) => s.on('close', () => resolve()));
  await new Promise<void>((resolve) => s.on('connect', () => resolve()));
  s.write('GET /report HTTP/1.1\r\n\r\n');
  await new Promise((r) => setTimeout(r, 100));
  const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  await closedConn;
  await serverClosed;
  const a = answers(Buffer.concat(chunks));
  t.equal(a.length, 1, 'the answer before close arrived');
  t.pass('the idle connection was closed and the server closed');

  const { server: s2, sock: sock2 } = await start(t);
  const busy = net.createConnection(sock2);
  t.teardown(() => busy.destroy());
  const got: Buffer[] = [];
  busy.on('data', (c: Buffer) => got.push(c));
  const busyClosed = new Promise<void>((resolve) => busy.on('close', () => resolve()));
  await new Promise<void>((resolve) => busy.on('connect', () => resolve()));
  busy.write('GET /report HTTP/1.1\r\n');
  await new Promise((r) => setTimeout(r, 50));
  const closed2 = new Promise<void>((resolve) => s2.close(() => resolve()));
  s2.closeIdleConnections();
  busy.write('\r\n');
  await busyClosed;
  await closed2;
  const b = answers(Buffer.concat(got));
  t.equal(b[0]?.status, 200, 'a request in progress is still answered');
  t.equal(b[0]?.headers.get('connection'), 'close', 'with Connection: close');
});

/** Python's http.client on a unix socket: three kept-alive GETs with gzip, a HEAD, a POST with a body. */
const PY_CLIENT = `
import gzip, http.client, json, socket, sys
class C(http.client.HTTPConnection):
    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.connect(sys.argv[1])
c = C('plugin')
out = []
for i in range(3):
    c.request('GET', '/report?api_version=1&probe_id=0123456789abcdef', headers={'Accept-Encoding': 'gzip'})
    r = c.getresponse()
    out.append([r.status, r.getheader('Content-Encoding'), gzip.decompress(r.read()).decode('latin1')])
first = c.sock
c.request('HEAD', '/report')
r = c.getresponse()
out.append([r.status, r.getheader('Content-Length'), len(r.read()), c.sock is first])
c.request('POST', '/report', body=b'x' * 10)
r = c.getresponse()
out.append([r.status, r.getheader('Allow'), r.getheader('Connection'), json.loads(r.read())['error']])
print(json.dumps(out))
`;

/** Runs a client as a child process (asynchronously: the server under test is in this process). */
function run(cmd: string, args: readonly string[]): Promise<{ missing: boolean; code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { encoding: 'utf8', timeout: 30_000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
      resolve({ missing: err !== null && err.code === 'ENOENT', code, stdout, stderr });
    });
  });
}

t.test("independent clients: Python's http.client and curl", async (t) => {
  const { sock } = await start(t);
  const py = await run('python3', ['-c', PY_CLIENT, sock]);
  if (py.missing) t.skip('python3 not installed', () => {});
  else {
    t.equal(py.code, 0, py.stderr);
    const out = JSON.parse(py.stdout) as unknown[][];
    for (let i = 0; i < 3; i++) t.same(out[i], [200, 'gzip', BODY.toString('latin1')], `GET ${i + 1} on one connection`);
    t.same(out[3], [200, String(BODY.length), 0, true], 'HEAD: length, no body, same connection');
    t.same(out[4], [405, 'GET, HEAD', 'close', 'method POST not allowed']);
  }
  const curl = await run('curl', [
    '-sS',
    '--unix-socket',
    sock,
    '--compressed',
    '-w',
    '%{http_code} %{num_connects}\\n',
    '-o',
    '/dev/null',
    'http://plugin/report',
    '-o',
    '/dev/null',
    'http://plugin/report?x=1',
  ]);
  if (curl.missing) t.skip('curl not installed', () => {});
  else t.same(curl.stdout.trim().split('\n'), ['200 1', '200 0'], 'curl: two answers, the second on the first connection');
});
