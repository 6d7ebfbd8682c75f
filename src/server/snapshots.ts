/**
 * Keeps the latest snapshot: drives the worker thread, one refresh at a time, every interval.
 * The main thread only swaps Buffers. A failed refresh keeps the previous snapshot; a worker that
 * crashes or hangs is replaced.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { SnapshotParams, SnapshotStats } from './snapshot.js';
import type { FromWorker, ToWorker } from './worker-protocol.js';

export interface ServedSnapshot {
  seq: number;
  body: Buffer;
  gzip: Buffer;
  stats: SnapshotStats;
}

export interface SnapshotSourceOptions {
  params: SnapshotParams;
  intervalMs: number;
  log: Logger;
  /** A refresh slower than this is abandoned and the worker replaced. Default max(60 s, 10 intervals). */
  refreshTimeoutMs?: number;
  workerUrl?: URL;
}

/** The compiled worker next to this module; from the TypeScript sources (tests), the one in dist/. */
export function defaultWorkerUrl(): URL {
  const here = fileURLToPath(import.meta.url);
  if (here.endsWith('.js')) return new URL('./snapshot-worker.js', import.meta.url);
  const compiled = path.resolve(path.dirname(here), '../../dist/server/snapshot-worker.js');
  if (!fs.existsSync(compiled)) throw new Error(`${compiled} is missing: run 'npx tsc -p .' first (workers run compiled JS)`);
  return pathToFileURL(compiled);
}

/** Young-generation cap of the snapshot worker's isolate (MiB). */
export const SNAPSHOT_WORKER_YOUNG_MB = 6;

export class SnapshotSource {
  private latest: ServedSnapshot | null = null;
  private worker: Worker | null = null;
  private seq = 0;
  private inFlight: { seq: number; started: number; watchdog: NodeJS.Timeout } | null = null;
  private next: NodeJS.Timeout | null = null;
  private stopped = false;
  private lastWarnings = '';
  private firstWaiter: { resolve: (s: ServedSnapshot) => void; reject: (e: Error) => void } | null = null;
  private readonly refreshTimeoutMs: number;
  private readonly workerUrl: URL;

  constructor(private readonly opts: SnapshotSourceOptions) {
    this.refreshTimeoutMs = opts.refreshTimeoutMs ?? Math.max(60_000, 10 * opts.intervalMs);
    this.workerUrl = opts.workerUrl ?? defaultWorkerUrl();
  }

  get current(): ServedSnapshot | null {
    return this.latest;
  }

  /** Spawns the worker and resolves with the first snapshot (rejects when the first scan fails). */
  start(): Promise<ServedSnapshot> {
    return new Promise((resolve, reject) => {
      this.firstWaiter = { resolve, reject };
      this.spawn();
      this.refresh();
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.next) clearTimeout(this.next);
    if (this.inFlight) clearTimeout(this.inFlight.watchdog);
    this.inFlight = null;
    const w = this.worker;
    this.worker = null;
    if (w) await w.terminate();
  }

  private spawn(): void {
    // A scan allocates a lot of short-lived garbage; V8 would grow this isolate's young generation
    // to its 16 MiB semi-spaces (tens of MB of RSS) for no measurable CPU saving. 6 MiB keeps the
    // daemon's RSS down (issue 8, P4; see README's Performance section).
    const w = new Worker(this.workerUrl, { workerData: this.opts.params, name: 'snapshot', resourceLimits: { maxYoungGenerationSizeMb: SNAPSHOT_WORKER_YOUNG_MB } });
    this.worker = w;
    w.on('message', (msg: FromWorker) => this.onMessage(msg));
    w.on('error', (err) => this.onWorkerDeath(w, `snapshot worker crashed: ${err.message}`));
    w.on('exit', (code) => this.onWorkerDeath(w, `snapshot worker exited with code ${code}`));
  }

  private onWorkerDeath(w: Worker, why: string): void {
    if (this.stopped || this.worker !== w) return;
    this.worker = null;
    this.failed(why);
  }

  private refresh(): void {
    this.next = null;
    if (this.stopped || this.inFlight) return;
    if (!this.worker) this.spawn();
    const seq = ++this.seq;
    const watchdog = setTimeout(() => this.onTimeout(seq), this.refreshTimeoutMs);
    this.inFlight = { seq, started: performance.now(), watchdog };
    const msg: ToWorker = { kind: 'refresh', seq };
    this.worker?.postMessage(msg);
  }

  private onTimeout(seq: number): void {
    if (!this.inFlight || this.inFlight.seq !== seq) return;
    const w = this.worker;
    this.worker = null;
    if (w) void w.terminate();
    this.failed(`refresh took longer than ${this.refreshTimeoutMs} ms; worker replaced`);
  }

  private onMessage(msg: FromWorker): void {
    if (this.stopped || !this.inFlight || msg.seq !== this.inFlight.seq) return;
    if (msg.kind === 'failed') {
      this.failed(`scan of ${this.opts.params.proc} failed: ${msg.message}`, msg.code);
      return;
    }
    const totalMs = performance.now() - this.inFlight.started;
    clearTimeout(this.inFlight.watchdog);
    this.inFlight = null;
    const snap: ServedSnapshot = {
      seq: msg.seq,
      body: Buffer.from(msg.json.buffer, msg.json.byteOffset, msg.json.byteLength),
      gzip: Buffer.from(msg.gzip.buffer, msg.gzip.byteOffset, msg.gzip.byteLength),
      stats: msg.stats,
    };
    this.latest = snap;
    const s = msg.stats;
    const fields = {
      seq: msg.seq,
      rows: s.rows,
      processes: s.processes,
      scanMs: Math.round(s.scanMs),
      serialiseMs: Math.round(msg.serialiseMs),
      totalMs: Math.round(totalMs),
      bytes: snap.body.length,
      gzipBytes: snap.gzip.length,
      persistent: s.persistent,
      nodes: s.nodes,
      containers: s.containers,
      containerized: s.containerized,
      initialFrom: s.initialFrom,
      hostnames: `${s.hostnames}/${s.utsRows}`,
      utsWorker: s.utsWorker,
      issues: s.issues,
    };
    // Degraded lookups (e.g. hostnames unreadable): warn when they first appear or change.
    const warnings = s.warnings.join('\n');
    if (warnings !== this.lastWarnings) {
      for (const w of s.warnings) this.opts.log.warn({ seq: msg.seq }, w);
      this.lastWarnings = warnings;
    }
    if (this.firstWaiter) {
      this.opts.log.info({ ...fields, passwd: s.passwd }, 'first snapshot ready');
      if (s.rows === 0) this.opts.log.warn({ proc: this.opts.params.proc }, 'the first scan found no namespaces; is --proc a procfs with processes?');
      const w = this.firstWaiter;
      this.firstWaiter = null;
      w.resolve(snap);
    } else {
      this.opts.log.debug(fields, 'snapshot refreshed');
    }
    this.schedule();
  }

  private failed(why: string, code?: string): void {
    if (this.inFlight) clearTimeout(this.inFlight.watchdog);
    this.inFlight = null;
    if (this.firstWaiter) {
      const w = this.firstWaiter;
      this.firstWaiter = null;
      w.reject(Object.assign(new Error(why), code ? { code } : {}));
      return;
    }
    this.opts.log.error({ code, keptSeq: this.latest?.seq }, `${why}; serving the previous snapshot`);
    this.schedule();
  }

  private schedule(): void {
    if (this.stopped || this.next) return;
    this.next = setTimeout(() => this.refresh(), this.opts.intervalMs);
  }
}
