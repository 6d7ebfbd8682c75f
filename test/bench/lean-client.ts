/**
 * A lean HTTP/1.1 client for the bench's latency figures: the probe's request (same path and
 * headers as probe-client.ts) written on a kept-alive unix socket, the answer read to its last
 * byte (Content-Length), nothing else. Node's http client spends ~0.3 ms of CPU per request
 * building and parsing; 50 of them at once on the same 2 cores as the server put most of a burst's
 * latency into the client (the floor rows of the bench showed it). This one measures the server.
 * Time runs from the write (or the connect, for a new connection) to the last byte.
 */
import * as net from 'node:net';
import type { RawAnswer } from '../support/probe-client.js';

const HEADER_LIMIT = 16 * 1024;
const BODY_LIMIT = 50 * 1024 * 1024;

interface Parsed {
  statusCode: number;
  contentLength: number;
  gzip: boolean;
  keepAlive: boolean;
  bodyStart: number;
}

/** Status, Content-Length and the encoding of a response head; null while incomplete, an Error when malformed. */
export function parseHead(buf: Buffer): Parsed | null | Error {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return buf.length > HEADER_LIMIT ? new Error('response head too large') : null;
  const lines = buf.toString('latin1', 0, end).split('\r\n');
  const status = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '');
  if (status === null) return new Error(`bad status line: ${JSON.stringify((lines[0] ?? '').slice(0, 80))}`);
  let contentLength = -1;
  let gzip = false;
  let keepAlive = true;
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === 'content-length') contentLength = /^\d+$/.test(value) ? Number(value) : -2;
    else if (name === 'content-encoding') gzip = value.toLowerCase() === 'gzip';
    else if (name === 'connection') keepAlive = value.toLowerCase() !== 'close';
    else if (name === 'transfer-encoding') return new Error('chunked answers are not supported by the lean client');
  }
  if (contentLength < 0 || contentLength > BODY_LIMIT) return new Error(`bad Content-Length`);
  return { statusCode: Number(status[1]), contentLength, gzip, keepAlive, bodyStart: end + 4 };
}

export class LeanClient {
  private readonly idle: net.Socket[] = [];
  private readonly all = new Set<net.Socket>();
  private readonly request: Buffer;

  constructor(
    private readonly socketPath: string,
    private readonly deadlineMs: number,
  ) {
    const probeId = Array.from({ length: 16 }, () => Math.floor(Math.random() * 16).toString(16)).join('');
    this.request = Buffer.from(`GET /report?api_version=1&probe_id=${probeId} HTTP/1.1\r\nHost: plugin\r\nUser-Agent: Go-http-client/1.1\r\nAccept-Encoding: gzip\r\n\r\n`, 'latin1');
  }

  fetch(): Promise<RawAnswer> {
    const started = performance.now();
    return new Promise((resolve) => {
      let socket = this.idle.pop();
      const fresh = socket === undefined;
      if (socket === undefined) {
        socket = net.createConnection(this.socketPath);
        const s = socket;
        this.all.add(s);
        s.on('close', () => {
          this.all.delete(s);
          const i = this.idle.indexOf(s);
          if (i >= 0) this.idle.splice(i, 1);
        });
        // An idle socket's errors end in 'close'; a busy one's are handled below.
        s.on('error', () => {});
      }
      const s = socket;
      const chunks: Buffer[] = [];
      let received = 0;
      let head: Parsed | null = null;
      let settled = false;
      const finish = (error: string | null, body: Buffer = Buffer.alloc(0)): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        s.off('data', onData);
        s.off('close', onClose);
        const ms = performance.now() - started;
        if (error !== null) s.destroy();
        else if (head?.keepAlive === true) this.idle.push(s);
        else s.end();
        resolve({ error, statusCode: head?.statusCode ?? 0, gzip: head?.gzip ?? false, body, ms });
      };
      const onData = (c: Buffer): void => {
        chunks.push(c);
        received += c.length;
        if (head === null) {
          const h = parseHead(chunks.length === 1 ? c : Buffer.concat(chunks));
          if (h instanceof Error) {
            finish(h.message);
            return;
          }
          if (h === null) return;
          head = h;
        }
        if (received >= head.bodyStart + head.contentLength) {
          const all = chunks.length === 1 ? c : Buffer.concat(chunks);
          finish(received > head.bodyStart + head.contentLength ? 'more bytes than Content-Length' : null, all.subarray(head.bodyStart));
        }
      };
      const onClose = (): void => finish('connection closed before the last byte');
      const timer = setTimeout(() => finish('context deadline exceeded'), this.deadlineMs);
      s.on('data', onData);
      s.on('close', onClose);
      if (fresh) s.once('connect', () => s.write(this.request));
      else s.write(this.request);
    });
  }

  close(): void {
    for (const s of this.all) s.destroy();
    this.all.clear();
    this.idle.length = 0;
  }
}
