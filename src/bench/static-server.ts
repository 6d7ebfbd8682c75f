/**
 * The latency floor of this machine for the bench: a trivial Node HTTP server that answers every
 * request with the same prepared bytes (as large as serve's gzip report), on a unix socket under
 * a plugins root like serve's, so the probe client measures it exactly as it measures serve.
 *
 *   node dist/bench/static-server.js <plugins-root> <bytes>
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

export function serveStatic(root: string, bytes: number): http.Server {
  const dir = path.join(root, 'static-floor');
  fs.mkdirSync(dir, { recursive: true });
  const body = Buffer.alloc(bytes, 0x61);
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': body.length, 'Content-Encoding': 'gzip' });
    res.end(body);
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
