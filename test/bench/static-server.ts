/**
 * The latency floor of this machine for the bench: a trivial server that answers every request
 * with the same prepared bytes (as large as serve's gzip report) and nothing else — no routing, no
 * validation, no timeouts — on a unix socket under a plugins root like serve's, so the probe
 * client measures it exactly as it measures serve. Like serve, it writes raw HTTP/1.1 on `net`
 * (node:http's per-request cost was most of a burst: it would be a floor serve no longer has).
 *
 *   node dist/bench/test/bench/static-server.js <plugins-root> <bytes>
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

export function serveStatic(root: string, bytes: number): net.Server {
  const dir = path.join(root, 'static-floor');
  fs.mkdirSync(dir, { recursive: true });
  const head = `HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\nContent-Length: ${bytes}\r\nConnection: keep-alive\r\n\r\n`;
  const answer = Buffer.concat([Buffer.from(head, 'latin1'), Buffer.alloc(bytes, 0x61)]);
  const server = net.createServer((socket) => {
    let pending = '';
    socket.on('data', (chunk: Buffer) => {
      pending += chunk.toString('latin1');
      // One answer per complete request head; nothing is checked.
      for (let end = pending.indexOf('\r\n\r\n'); end >= 0; end = pending.indexOf('\r\n\r\n')) {
        pending = pending.slice(end + 4);
        socket.write(answer);
      }
    });
    socket.on('error', () => {});
  });
  server.listen(path.join(dir, 'static-floor.sock'));
  return server;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const [root, bytes] = process.argv.slice(2);
  const n = Number(bytes);
  if (root === undefined || !Number.isInteger(n) || n < 0) {
    process.stderr.write('usage: static-server.js <plugins-root> <bytes>\n');
    process.exit(64);
  }
  serveStatic(root, n);
}
