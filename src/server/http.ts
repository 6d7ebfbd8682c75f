/**
 * The plugin's HTTP server: `GET /report` answers the latest pre-serialised snapshot (gzip when the
 * client accepts it, as the probe does); anything else is 404/405. Timeouts keep stalled clients
 * from holding connections.
 */
import * as http from 'node:http';
import type { Logger } from 'pino';
import type { ServedSnapshot } from './incremental-source.js';

export const SERVER_LIMITS = {
  /** Whole headers must arrive within this. */
  headersTimeoutMs: 2_000,
  /** Whole request must arrive within this. */
  requestTimeoutMs: 5_000,
  /** How often Node checks the two above (its default, 30 s, would let stalled clients linger). */
  checkIntervalMs: 500,
  /** Idle keep-alive connections (the probe reuses one per tick, 1 s apart). */
  keepAliveTimeoutMs: 5_000,
  /** A socket with no activity at all (e.g. a client that stops reading) is destroyed. */
  idleSocketMs: 10_000,
  maxHeaderSize: 8 * 1024,
  maxConnections: 256,
} as const;

/** True when the client takes gzip (`gzip` listed without q=0). */
export function acceptsGzip(header: string | undefined): boolean {
  if (!header) return false;
  for (const part of header.split(',')) {
    const [coding, ...params] = part.trim().split(';');
    if (coding?.trim().toLowerCase() !== 'gzip') continue;
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    return q === undefined || Number(q.slice(2)) > 0;
  }
  return false;
}

function sendError(res: http.ServerResponse, status: number, message: string, extra: http.OutgoingHttpHeaders = {}): void {
  const body = JSON.stringify({ error: message }) + '\n';
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body), ...extra });
  res.end(body);
}

export function createReportServer(current: () => ServedSnapshot | null, log: Logger): http.Server {
  const server = http.createServer(
    {
      headersTimeout: SERVER_LIMITS.headersTimeoutMs,
      requestTimeout: SERVER_LIMITS.requestTimeoutMs,
      connectionsCheckingInterval: SERVER_LIMITS.checkIntervalMs,
      keepAliveTimeout: SERVER_LIMITS.keepAliveTimeoutMs,
      maxHeaderSize: SERVER_LIMITS.maxHeaderSize,
    },
    (req, res) => {
      const url = req.url ?? '/';
      const q = url.indexOf('?');
      const pathname = q < 0 ? url : url.slice(0, q);
      if (pathname !== '/report') {
        sendError(res, 404, `no such endpoint: ${pathname}`);
        return;
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        sendError(res, 405, `method ${req.method ?? '?'} not allowed`, { Allow: 'GET, HEAD' });
        return;
      }
      const snap = current();
      if (!snap) {
        sendError(res, 503, 'no snapshot yet');
        return;
      }
      const gzip = acceptsGzip(req.headers['accept-encoding']);
      const body = gzip ? snap.gzip : snap.body;
      const headers: http.OutgoingHttpHeaders = {
        'Content-Type': 'application/json',
        'Content-Length': body.length,
        'Cache-Control': 'no-store',
        Vary: 'Accept-Encoding',
        'X-Snapshot-Seq': String(snap.seq),
        // When a refresh last confirmed these bytes (an unchanged report is not rebuilt).
        'X-Snapshot-Time': new Date(snap.checkedAt).toISOString(),
      };
      if (gzip) headers['Content-Encoding'] = 'gzip';
      res.writeHead(200, headers);
      if (req.method === 'HEAD') res.end();
      else res.end(body);
      log.trace({ gzip, bytes: body.length, seq: snap.seq }, 'report served');
    },
  );
  server.timeout = SERVER_LIMITS.idleSocketMs;
  server.maxConnections = SERVER_LIMITS.maxConnections;
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    log.debug({ code: err.code, error: err.message }, 'client error');
    if (!socket.writable || err.code === 'ECONNRESET') {
      socket.destroy();
      return;
    }
    const status = err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : err.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : '400 Bad Request';
    socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  });
  return server;
}
