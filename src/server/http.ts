/**
 * The plugin's HTTP server: `GET /report` answers the latest pre-serialised snapshot (gzip when the
 * client accepts it, as the probe does); anything else is 404/405, malformed requests 400/431/505.
 *
 * HTTP/1.1 over `net` rather than node:http: the server has one endpoint and answers from bytes
 * prepared once per snapshot, and node:http's per-request machinery (request and response
 * objects, header objects, validation) was most of a burst's cost: 50 concurrent polls of the same
 * prepared bytes took about twice as long through node:http as through this (performance-history.md,
 * fifth round). Requests are parsed by request-head.ts; a request with a body is answered and its
 * connection closed (the server never reads bodies). Timeouts keep stalled clients from holding
 * connections: a sweep every checkIntervalMs closes heads not complete within headersTimeoutMs
 * (408), idle keep-alive connections after keepAliveTimeoutMs, answered-and-closing connections
 * (a body still arriving) after requestTimeoutMs, and a connection whose answers sit unread (a
 * client that stops reading) after idleSocketMs. One sweep rather than a timer per socket: a burst
 * of new connections should cost as little as possible to accept.
 */
import * as net from 'node:net';
import type { Logger } from 'pino';
import type { ServedSnapshot } from '../snapshot/serialise.js';
import { parseRequestHead, type RequestHead } from './request-head.js';

export const SERVER_LIMITS = {
  /** Whole headers must arrive within this (from the connection, or the end of the previous answer). */
  headersTimeoutMs: 2_000,
  /** A connection answered and closing (its client still sending a body) is cut after this. */
  requestTimeoutMs: 5_000,
  /** How often the timeouts above are checked. */
  checkIntervalMs: 500,
  /** Idle keep-alive connections (the probe reuses one per tick, 1 s apart). */
  keepAliveTimeoutMs: 5_000,
  /** A connection whose queued answers are not read for this long (a client that stops reading) is destroyed. */
  idleSocketMs: 10_000,
  maxHeaderSize: 8 * 1024,
  maxConnections: 256,
  /** Answers queued on a connection (pipelined requests of a client that does not read) before it is read no further. */
  maxQueuedBytes: 4 * 1024 * 1024,
} as const;

export type ServerLimits = { readonly [K in keyof typeof SERVER_LIMITS]: number };

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

const REASONS: Record<number, string> = {
  200: 'OK',
  400: 'Bad Request',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  431: 'Request Header Fields Too Large',
  503: 'Service Unavailable',
  505: 'HTTP Version Not Supported',
};

/** The Date header's value (RFC 9110 5.6.7), made once per second. */
let dateSecond = -1;
let dateText = '';
function httpDate(nowMs: number): string {
  const second = Math.floor(nowMs / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateText = new Date(second * 1000).toUTCString();
  }
  return dateText;
}

/** Status line, Date, the fields in order, Connection. */
function headText(status: number, fields: ReadonlyArray<readonly [string, string | number]>, keepAlive: boolean): string {
  let s = `HTTP/1.1 ${status} ${REASONS[status] ?? 'Error'}\r\nDate: ${httpDate(Date.now())}\r\n`;
  for (const [name, value] of fields) s += `${name}: ${value}\r\n`;
  return `${s}Connection: ${keepAlive ? 'keep-alive' : 'close'}\r\n\r\n`;
}

function errorAnswer(status: number, message: string, keepAlive: boolean, extra: ReadonlyArray<readonly [string, string]> = []): Buffer {
  const body = JSON.stringify({ error: message }) + '\n';
  return Buffer.from(headText(status, [['Content-Type', 'application/json'], ['Content-Length', Buffer.byteLength(body)], ...extra], keepAlive) + body, 'utf8');
}

/** Heads of the 200 answer, made once per snapshot, check time and second (they carry all three). */
interface PreparedHeads {
  snap: ServedSnapshot;
  checkedAt: number;
  second: number;
  gzip: Buffer;
  plain: Buffer;
  /** Head and body in one buffer, made on first use (the probe only ever asks for gzip). */
  gzipAnswer: Buffer | null;
  plainAnswer: Buffer | null;
}

function prepareHeads(snap: ServedSnapshot): PreparedHeads {
  const fields = (body: Buffer, gzip: boolean): Array<readonly [string, string | number]> => [
    ['Content-Type', 'application/json'],
    ['Content-Length', body.length],
    ...(gzip ? [['Content-Encoding', 'gzip'] as const] : []),
    ['Cache-Control', 'no-store'],
    ['Vary', 'Accept-Encoding'],
    ['X-Snapshot-Seq', snap.seq],
    // When a refresh last confirmed these bytes (an unchanged report is not rebuilt).
    ['X-Snapshot-Time', new Date(snap.checkedAt).toISOString()],
  ];
  return {
    snap,
    checkedAt: snap.checkedAt,
    second: Math.floor(Date.now() / 1000),
    gzip: Buffer.from(headText(200, fields(snap.gzip, true), true), 'latin1'),
    plain: Buffer.from(headText(200, fields(snap.body, false), true), 'latin1'),
    gzipAnswer: null,
    plainAnswer: null,
  };
}

/**
 * What a connection is doing, for the timeout sweep. head: waiting for (the rest of) a request
 * head; closing: answered a request with a body (or a bad one), input is discarded.
 */
type Phase = 'head' | 'closing';

interface Conn {
  socket: net.Socket;
  /** Bytes received and not yet parsed (null: none). */
  pending: Buffer | null;
  phase: Phase;
  /** When the current phase started (the head's clock, or the closing's). */
  since: number;
  /** Whether any byte of the current head arrived (a keep-alive connection between requests: no). */
  started: boolean;
  /** Reading stopped until queued answers drain. */
  paused: boolean;
  /** Bytes queued for the client at the last sweep, and when the queue last shrank or was empty: a client that stops reading shows no progress. */
  queued: number;
  progressAt: number;
}

export class ReportServer extends net.Server {
  private readonly conns = new Set<Conn>();
  private sweeper: NodeJS.Timeout | null = null;
  private heads: PreparedHeads | null = null;

  constructor(
    private readonly current: () => ServedSnapshot | null,
    private readonly log: Logger,
    /** Tests shorten the timeouts. */
    private readonly limits: ServerLimits = SERVER_LIMITS,
  ) {
    super({ allowHalfOpen: false });
    this.maxConnections = limits.maxConnections;
    this.on('connection', (socket: net.Socket) => this.accept(socket));
    this.on('close', () => this.stopSweeper());
  }

  /** Idle connections (between requests, nothing received) are closed; busy ones finish. */
  closeIdleConnections(): void {
    for (const c of this.conns) if (c.phase === 'head' && !c.started && c.socket.writableLength === 0) c.socket.destroy();
  }

  closeAllConnections(): void {
    for (const c of this.conns) c.socket.destroy();
  }

  private accept(socket: net.Socket): void {
    const now = performance.now();
    const c: Conn = { socket, pending: null, phase: 'head', since: now, started: false, paused: false, queued: 0, progressAt: now };
    this.conns.add(c);
    socket.on('data', (chunk: Buffer) => this.onData(c, chunk));
    socket.on('drain', () => {
      if (!c.paused) return;
      c.paused = false;
      socket.resume();
      this.process(c);
    });
    socket.on('error', (err: NodeJS.ErrnoException) => this.log.debug({ code: err.code, error: err.message }, 'client error'));
    socket.on('close', () => {
      this.conns.delete(c);
      if (this.conns.size === 0) this.stopSweeper();
    });
    this.sweeper ??= setInterval(() => this.sweep(), this.limits.checkIntervalMs).unref();
  }

  private stopSweeper(): void {
    if (this.sweeper === null) return;
    clearInterval(this.sweeper);
    this.sweeper = null;
  }

  private onData(c: Conn, chunk: Buffer): void {
    if (c.phase === 'closing') return;
    if (!c.started) {
      c.started = true;
      c.since = performance.now();
    }
    c.pending = c.pending === null ? chunk : Buffer.concat([c.pending, chunk]);
    this.process(c);
  }

  /** Answers every complete request in `pending`, in order (pipelining), until writes back up. */
  private process(c: Conn): void {
    const socket = c.socket;
    while (c.pending !== null && c.phase === 'head' && !c.paused) {
      const head = parseRequestHead(c.pending, 0, this.limits.maxHeaderSize);
      if (head.kind === 'incomplete') return;
      if (head.kind === 'error') {
        this.log.debug({ status: head.status, reason: head.reason }, 'bad request');
        this.closeWith(c, errorAnswer(head.status, head.reason, false));
        return;
      }
      c.pending = head.end < c.pending.length ? c.pending.subarray(head.end) : null;
      // Bodies are never read: answer, then close (what follows the head is not a request).
      // A retired or stopping server (no longer listening) closes each connection after its answer.
      const keepAlive = head.keepAlive && !head.hasBody && this.listening;
      if (!keepAlive) {
        this.closeWith(c, this.answer(head, false));
        return;
      }
      socket.write(this.answer(head, true));
      c.started = c.pending !== null;
      c.since = performance.now();
      if (socket.writableLength > this.limits.maxQueuedBytes) {
        c.paused = true;
        socket.pause();
      }
    }
  }

  private closeWith(c: Conn, answer: Buffer): void {
    c.phase = 'closing';
    c.since = performance.now();
    c.pending = null;
    c.socket.end(answer);
  }

  /** The bytes of the answer to one request. */
  private answer(req: RequestHead, keepAlive: boolean): Buffer {
    const q = req.target.indexOf('?');
    const pathname = q < 0 ? req.target : req.target.slice(0, q);
    if (pathname !== '/report') return errorAnswer(404, `no such endpoint: ${pathname}`, keepAlive);
    if (req.method !== 'GET' && req.method !== 'HEAD') return errorAnswer(405, `method ${req.method} not allowed`, keepAlive, [['Allow', 'GET, HEAD']]);
    const snap = this.current();
    if (snap === null) return errorAnswer(503, 'no snapshot yet', keepAlive);
    let heads = this.heads;
    if (heads === null || heads.snap !== snap || heads.checkedAt !== snap.checkedAt || heads.second !== Math.floor(Date.now() / 1000)) heads = this.heads = prepareHeads(snap);
    const gzip = acceptsGzip(req.acceptEncoding);
    this.log.trace({ gzip, seq: snap.seq }, 'report served');
    if (!keepAlive) {
      const head = Buffer.from((gzip ? heads.gzip : heads.plain).toString('latin1').replace('Connection: keep-alive\r\n', 'Connection: close\r\n'), 'latin1');
      return req.method === 'HEAD' ? head : Buffer.concat([head, gzip ? snap.gzip : snap.body]);
    }
    if (req.method === 'HEAD') return gzip ? heads.gzip : heads.plain;
    // Head and body in one write: the client sees the whole answer in as few reads as the kernel allows.
    if (gzip) return (heads.gzipAnswer ??= Buffer.concat([heads.gzip, snap.gzip]));
    return (heads.plainAnswer ??= Buffer.concat([heads.plain, snap.body]));
  }

  private sweep(): void {
    const now = performance.now();
    for (const c of this.conns) {
      // Answers queued and none of them taken for idleSocketMs: a client that stopped reading.
      const queued = c.socket.writableLength;
      if (queued === 0 || queued < c.queued) c.progressAt = now;
      c.queued = queued;
      if (queued > 0 && now - c.progressAt > this.limits.idleSocketMs) {
        c.socket.destroy();
        continue;
      }
      // Paused with complete requests waiting: only the progress above applies.
      if (c.paused) continue;
      const age = now - c.since;
      if (c.phase === 'closing') {
        if (age > this.limits.requestTimeoutMs) c.socket.destroy();
      } else if (c.started) {
        if (age > this.limits.headersTimeoutMs) {
          this.log.debug('request head timed out');
          this.closeWith(c, errorAnswer(408, 'request head not received in time', false));
        }
      } else if (c.socket.writableLength === 0 && age > this.limits.keepAliveTimeoutMs) {
        c.socket.destroy();
      }
    }
  }
}

export function createReportServer(current: () => ServedSnapshot | null, log: Logger, limits: ServerLimits = SERVER_LIMITS): ReportServer {
  return new ReportServer(current, log, limits);
}
