/** The bench's lean HTTP client: its head parser on hand-written heads, and whole answers from a real node:http server. */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import t from 'tap';
import { LeanClient, parseHead } from '../bench/lean-client.js';

t.test('parseHead: status, Content-Length, gzip, keep-alive; incomplete and malformed heads', async (t) => {
  const head = 'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\ncontent-length: 12\r\nContent-Encoding: gzip\r\n\r\n';
  t.same(parseHead(Buffer.from(head + 'x')), { statusCode: 200, contentLength: 12, gzip: true, keepAlive: true, bodyStart: head.length });
  t.match(parseHead(Buffer.from('HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n')), { statusCode: 503, contentLength: 0, gzip: false, keepAlive: false });
  t.equal(parseHead(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 12\r\n')), null, 'no blank line yet');
  t.type(parseHead(Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n')), Error);
  t.type(parseHead(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n')), Error);
  t.type(parseHead(Buffer.from('HTTP/1.1 200 OK\r\n\r\n')), Error, 'no Content-Length');
  t.type(parseHead(Buffer.from('SSH-2.0-OpenSSH\r\n\r\n')), Error);
  t.type(parseHead(Buffer.alloc(20_000, 0x61)), Error, 'a head that never ends');
});

function tmpSocket(t: { teardown(fn: () => void): void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lean-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return path.join(dir, 's.sock');
}

t.test('whole answers from a node:http server, on one kept-alive connection', async (t) => {
  const sock = tmpSocket(t);
  const body = Buffer.from(Array.from({ length: 300_000 }, (_, i) => i % 251));
  const seen: Array<{ url: string | undefined; enc: string | undefined; conn: number }> = [];
  let connections = 0;
  const server = http.createServer((req, res) => {
    seen.push({ url: req.url, enc: req.headers['accept-encoding'], conn: connections });
    res.writeHead(200, { 'Content-Length': body.length, 'Content-Encoding': 'gzip' });
    res.end(body);
  });
  server.on('connection', () => connections++);
  await new Promise<void>((r) => server.listen(sock, r));
  t.teardown(() => server.close());
  const c = new LeanClient(sock, 10_000);
  t.teardown(() => c.close());
  for (let i = 0; i < 3; i++) {
    const a = await c.fetch();
    t.equal(a.error, null);
    t.equal(a.statusCode, 200);
    t.equal(a.gzip, true);
    t.ok(a.body.equals(body), 'the body, byte for byte');
  }
  t.equal(connections, 1, 'one connection for three polls');
  t.match(seen[0], { url: /^\/report\?api_version=1&probe_id=[0-9a-f]{16}$/, enc: 'gzip' });
  const burst = await Promise.all(Array.from({ length: 5 }, () => c.fetch()));
  t.same(
    burst.map((a) => [a.error, a.body.length]),
    Array.from({ length: 5 }, () => [null, body.length]),
  );
});

t.test('an answer cut short, or too long, is an error, not a measurement', async (t) => {
  const sock = tmpSocket(t);
  let mode: 'short' | 'long' = 'short';
  const server = net.createServer((s) => {
    s.once('data', () => {
      if (mode === 'short') s.end('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this');
      else s.write('HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcdef');
    });
  });
  await new Promise<void>((r) => server.listen(sock, r));
  t.teardown(() => server.close());
  const c = new LeanClient(sock, 10_000);
  t.teardown(() => c.close());
  t.match(await c.fetch(), { error: /closed before the last byte/ });
  mode = 'long';
  t.match(await c.fetch(), { error: /more bytes than Content-Length/ });
});

t.test('no answer within the deadline', async (t) => {
  const sock = tmpSocket(t);
  const server = net.createServer(() => {});
  await new Promise<void>((r) => server.listen(sock, r));
  t.teardown(() => server.close());
  const c = new LeanClient(sock, 200);
  t.teardown(() => c.close());
  t.match(await c.fetch(), { error: 'context deadline exceeded', statusCode: 0 });
});
