/**
 * Keeps the served snapshot fresh with incremental ticks (scan/incremental.ts) on the main thread:
 * a tick every `intervalMs`, cut into slices of about `sliceMs` between which the event loop
 * answers /report requests, so a request never waits for a scan (nor for a whole rebuild: building,
 * serialising and compressing the report are separate turns). The report is rebuilt and
 * serialised only when something it shows changed (or the namespace-count metric is due);
 * otherwise the same bytes are served and only the check time advances.
 *
 * Besides the scanner's rows: namespaces only bind mounts keep alive are looked up again every
 * PERSISTENT_EVERY_MS, and when a mount namespace appears; the hostname inside each UTS namespace
 * is read when the namespace first appears and again every HOSTNAME_MAX_AGE_MS (read on this
 * thread with setns+uname+setns back: native/uts-read.ts).
 */
import { gzipSync } from 'node:zlib';
import type { Logger } from 'pino';
import { InThreadUtsReader } from '../native/uts-read.js';
import { loadUserNames, passwdCandidates, type UserNames } from '../procfs/passwd.js';
import { ProcReader, type ReadProblem } from '../procfs/reader.js';
import { NS_TYPES } from '../procfs/types.js';
import { utf8Bytes } from '../procfs/bytes.js';
import { Enricher } from '../scan/enrich.js';
import { IncrementalScanner, type TickStats } from '../scan/incremental.js';
import type { NamespaceRow } from '../scan/namespaces.js';
import { serialiseJson } from '../scope/report.js';
import { MetricHistory, ProcessNodeCache, TOPOLOGY_NAMES } from '../scope/topologies.js';
import { assembleSnapshot, needsCgroups, REPORT_GZIP_LEVEL, type ScanParts, type SnapshotParams, type SnapshotStats } from './snapshot.js';

/** A report rebuilt at least this often even when unchanged: the Host node's metric needs samples. */
export const METRIC_EVERY_MS = 15_000;
/** Bind-mount-only namespaces are looked up again this often (and when a mount namespace appears). */
export const PERSISTENT_EVERY_MS = 10_000;
/** A UTS namespace's hostname is read again this often (sethostname shows no other sign). */
export const HOSTNAME_MAX_AGE_MS = 10_000;
/** UTS hostnames read in one turn of the event loop. */
const HOSTNAMES_PER_TURN = 8;
/** Longest stretch of scanning between two turns of the event loop. */
export const DEFAULT_SLICE_MS = 1;

export interface ServedSnapshot {
  seq: number;
  body: Buffer;
  gzip: Buffer;
  stats: SnapshotStats;
  /** When a tick last confirmed this snapshot is current (ms since the epoch). */
  checkedAt: number;
}

export interface IncrementalSourceOptions {
  params: SnapshotParams;
  intervalMs: number;
  fullRescanMs: number;
  log: Logger;
  sliceMs?: number;
}

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export class IncrementalSource {
  private latest: ServedSnapshot | null = null;
  private seq = 0;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private running: Promise<void> | null = null;
  private lastWarnings = '';
  private limitNotesLogged = 0;
  private lastListing: string | null = null;
  private lastBeyond = false;
  /** Read problems of the current tick, by kind. */
  private issues: Partial<Record<ReadProblem, number>> = {};
  private readonly reader: ProcReader;
  private users: UserNames;
  private usersAt = 0;
  private readonly scanner: IncrementalScanner;
  private readonly uts = new InThreadUtsReader({ mainThread: true });
  /** Hostname by UTS namespace inode (null: unreadable) and when it was read. */
  private readonly hostnames = new Map<number, { name: string | null; at: number }>();
  /** When the oldest hostname is due to be read again. */
  private hostnamesDueAt = 0;
  private persistent: NamespaceRow[] = [];
  private persistentAt = 0;
  private mntSeen = '';
  private readonly history = new MetricHistory();
  private readonly processNodes = new ProcessNodeCache();
  private lastSignature = '';
  private builtAt = 0;
  private readonly sliceMs: number;

  constructor(private readonly opts: IncrementalSourceOptions) {
    const p = opts.params;
    this.reader = new ProcReader(p.proc, {
      onIssue: (i) => {
        this.issues[i.problem] = (this.issues[i.problem] ?? 0) + 1;
      },
    });
    this.users = loadUserNames(passwdCandidates(p.proc));
    this.usersAt = performance.now();
    const topologies = p.topologies ?? TOPOLOGY_NAMES;
    this.scanner = new IncrementalScanner(this.reader, this.users, { fullRescanMs: opts.fullRescanMs, cgroups: needsCgroups(topologies) });
    this.sliceMs = opts.sliceMs ?? DEFAULT_SLICE_MS;
  }

  get current(): ServedSnapshot | null {
    return this.latest;
  }

  /** Runs the first tick (a full scan) and resolves with its snapshot; rejects when it fails. */
  async start(): Promise<ServedSnapshot> {
    await this.tick(true);
    const snap = this.latest;
    if (!snap) throw new Error('no snapshot');
    this.schedule();
    return snap;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.running) await this.running.catch(() => {});
    this.scanner.close();
    await this.uts.terminate();
  }

  private schedule(): void {
    if (this.stopped || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.running = this.tick(false)
        .catch((err: unknown) => {
          if (this.stopped) return;
          const e = err instanceof Error ? err : new Error(String(err));
          this.opts.log.error({ code: (e as NodeJS.ErrnoException).code, keptSeq: this.latest?.seq }, `scan of ${this.opts.params.proc} failed: ${e.message}; serving the previous snapshot`);
        })
        .finally(() => {
          this.running = null;
          this.schedule();
        });
    }, this.opts.intervalMs);
  }

  /** Drives one scanner tick in slices; the first one (start) is run at once. */
  private async runScannerTick(first: boolean): Promise<TickStats> {
    const gen = this.scanner.tick();
    for (;;) {
      const until = performance.now() + (first ? Infinity : this.sliceMs);
      let r = gen.next();
      while (!r.done && performance.now() < until) r = gen.next();
      if (r.done) return r.value;
      await nextTurn();
      if (this.stopped) throw new Error('stopped');
    }
  }

  private async tick(first: boolean): Promise<void> {
    const started = performance.now();
    this.issues = {};
    const warnings: string[] = [];
    if (started - this.usersAt >= this.opts.fullRescanMs) {
      // New accounts show in USER within one full-rescan period.
      this.users = loadUserNames(passwdCandidates(this.opts.params.proc));
      this.usersAt = started;
      this.scanner.setUsers(this.users);
    }
    const stats = await this.runScannerTick(first);
    const scanMs = performance.now() - started;
    // Nothing changed and nothing due (bind-mount lookup, hostnames, the metric): the served bytes
    // stay, only the check time advances, and no row is copied or compared.
    const at = performance.now();
    if (!first && !stats.changed && this.latest && at - this.persistentAt < PERSISTENT_EVERY_MS && at < this.hostnamesDueAt && at - this.builtAt < METRIC_EVERY_MS) {
      this.latest.checkedAt = Date.now();
      this.logTick(stats, scanMs, null);
      return;
    }
    const rows = this.scanner.rows.map((r) => ({ ...r }));
    this.refreshPersistent(rows, warnings, started);
    await nextTurn();
    const persistent = this.persistent.filter((p) => !rows.some((r) => r.ns === p.ns));
    const all = [...rows, ...persistent].sort((a, b) => a.ns - b.ns);
    await this.readHostnames(all, warnings, started);
    const signature = all.map((r) => `${r.ns}:${r.hostname ?? ''}`).join(',');
    const changed = first || stats.changed || signature !== this.lastSignature;
    const now = Date.now();
    if (!changed && this.latest && performance.now() - this.builtAt < METRIC_EVERY_MS) {
      this.latest.checkedAt = now;
      this.logTick(stats, scanMs, null);
      return;
    }
    this.lastSignature = signature;
    const topologies = this.opts.params.topologies ?? TOPOLOGY_NAMES;
    const summary = this.scanner.summary(this.opts.params.processNodes === 'all');
    const parts: ScanParts = {
      rows: all,
      persistent: persistent.length,
      memberships: summary.memberships,
      counts: { processes: summary.processes, hostOnly: summary.hostOnly },
      containers: needsCgroups(topologies) ? summary.containers : null,
      issues: { ...this.issues },
      warnings,
      utsWorker: this.uts.threadId,
      passwd: this.users.source,
    };
    const snap = assembleSnapshot(this.opts.params, parts, { history: this.history, processNodes: this.processNodes }, started);
    await nextTurn();
    const t0 = performance.now();
    const body = Buffer.from(serialiseJson(snap.report), 'utf8');
    const serialiseMs = performance.now() - t0;
    await nextTurn();
    // On this thread: a few ms for a report of a few hundred kB, and libuv's pool would give
    // each of its threads a malloc arena of its own (tens of MB of RSS for one gzip a second).
    const zipped = gzipSync(body, { level: REPORT_GZIP_LEVEL });
    this.builtAt = performance.now();
    const served: ServedSnapshot = { seq: ++this.seq, body, gzip: zipped, stats: snap.stats, checkedAt: Date.now() };
    this.latest = served;
    this.logTick(stats, scanMs, { served, serialiseMs, first });
  }

  /** Bind-mount-only namespaces: again when due or when a new mount namespace showed up. */
  private refreshPersistent(rows: readonly NamespaceRow[], warnings: string[], now: number): void {
    const mnt = rows
      .filter((r) => r.type === 'mnt')
      .map((r) => r.ns)
      .join(',');
    if (mnt === this.mntSeen && now - this.persistentAt < PERSISTENT_EVERY_MS) return;
    this.mntSeen = mnt;
    this.persistentAt = now;
    const enricher = new Enricher(this.reader, this.users, { nsfs: false, relations: false, netnsid: false, hostname: false }, (m) => warnings.push(m));
    this.persistent = enricher.persistentRows(rows, NS_TYPES);
    this.persistentAccess = new Map(this.persistent.map((p) => [p.ns, enricher.accessPath(p)]));
  }

  private persistentAccess = new Map<number, string | null>();

  /** Hostnames of new UTS namespaces, and of the others once they are HOSTNAME_MAX_AGE_MS old. */
  private async readHostnames(rows: NamespaceRow[], warnings: string[], now: number): Promise<void> {
    const targets: Array<{ ino: number; path: string }> = [];
    const live = new Set<number>();
    for (const r of rows) {
      if (r.type !== 'uts') continue;
      live.add(r.ns);
      const known = this.hostnames.get(r.ns);
      if (known !== undefined && now - known.at < HOSTNAME_MAX_AGE_MS) continue;
      const path = r.pid !== null ? this.reader.resolve(String(r.pid), 'ns', 'uts') : (this.persistentAccess.get(r.ns) ?? null);
      if (path === null) continue;
      this.uts.forget(r.ns);
      targets.push({ ino: r.ns, path });
    }
    // Inodes of dead namespaces are reused: forget them.
    for (const ino of [...this.hostnames.keys()]) if (!live.has(ino)) this.hostnames.delete(ino);
    try {
      // A few per turn (each is open + setns + uname + setns back, ~0.1 ms): all of a node's UTS
      // namespaces fall due together, and /report requests must not wait for a hundred of them.
      for (let i = 0; i < targets.length; i += HOSTNAMES_PER_TURN) {
        if (i > 0) {
          await nextTurn();
          if (this.stopped) throw new Error('stopped');
        }
        const chunk = targets.slice(i, i + HOSTNAMES_PER_TURN);
        const names = await this.uts.hostnames(chunk);
        for (const t of chunk) this.hostnames.set(t.ino, { name: names.get(t.ino) ?? null, at: now });
      }
    } catch (err) {
      if (this.stopped) throw err;
      warnings.push(`UTS hostnames could not be read: ${err instanceof Error ? err.message : String(err)}`);
    }
    let oldest = Infinity;
    for (const h of this.hostnames.values()) if (h.at < oldest) oldest = h.at;
    this.hostnamesDueAt = oldest + HOSTNAME_MAX_AGE_MS;
    let failed = 0;
    for (const r of rows) {
      if (r.type !== 'uts') continue;
      const name = this.hostnames.get(r.ns)?.name;
      if (name !== undefined && name !== null) r.hostname = utf8Bytes(name);
      else failed++;
    }
    if (failed > 0) warnings.push(`hostnames of ${failed} UTS namespace(s) could not be read (setns into them needs CAP_SYS_ADMIN over their owner); their Hostname cells stay empty`);
  }

  private logTick(stats: TickStats, scanMs: number, built: { served: ServedSnapshot; serialiseMs: number; first: boolean } | null): void {
    const { log } = this.opts;
    const fields = {
      full: stats.full,
      listedProc: stats.listedProc,
      ...(stats.why ? { why: stats.why } : {}),
      listed: stats.listed,
      read: stats.read,
      swept: stats.swept,
      gone: stats.gone,
      reps: stats.reps,
      scanMs: Math.round(scanMs * 10) / 10,
    };
    if (!built) {
      log.debug(fields, 'snapshot unchanged');
      return;
    }
    const { served, serialiseMs } = built;
    const s = served.stats;
    const all = {
      ...fields,
      seq: served.seq,
      rows: s.rows,
      processes: s.processes,
      serialiseMs: Math.round(serialiseMs * 10) / 10,
      bytes: served.body.length,
      gzipBytes: served.gzip.length,
      persistent: s.persistent,
      nodes: s.nodes,
      containers: s.containers,
      containerized: s.containerized,
      initialFrom: s.initialFrom,
      hostnames: `${s.hostnames}/${s.utsRows}`,
      issues: s.issues,
    };
    const warnings = s.warnings.join('\n');
    if (warnings !== this.lastWarnings) {
      for (const w of s.warnings) log.warn({ seq: served.seq }, w);
      this.lastWarnings = warnings;
    }
    const notes = this.scanner.fdLimitNotes;
    for (const n of notes.slice(this.limitNotesLogged)) log.info({ rlimitNofile: n }, 'pidfds ran out of file descriptors');
    this.limitNotesLogged = notes.length;
    const beyond = this.scanner.unwatchedCount > 0;
    if (!built.first && beyond && !this.lastBeyond) log.warn({ exits: this.exitsMode() }, 'more processes than pidfds');
    this.lastBeyond = beyond;
    const listing = this.scanner.listingReason;
    if (!built.first && listing !== null && listing !== this.lastListing) log.warn({ exits: this.exitsMode() }, 'process exits are found by listing /proc from now on');
    this.lastListing = listing;
    if (built.first) {
      log.info({ ...all, passwd: s.passwd, exits: this.exitsMode() }, 'first snapshot ready');
      if (s.rows === 0) log.warn({ proc: this.opts.params.proc }, 'the first scan found no namespaces; is --proc a procfs with processes?');
    } else {
      log.debug(all, 'snapshot refreshed');
    }
  }

  /** How process exits are found: by listing /proc (and why), or by pidfds (and how many processes are beyond them). */
  private exitsMode(): string {
    const listing = this.scanner.listingReason;
    if (listing !== null) return `listing /proc (${listing})`;
    const n = this.scanner.unwatchedCount;
    const limit = this.scanner.fdLimitNotes.at(-1);
    return n === 0 ? 'pidfd' : `pidfd; ${n} processes beyond the fd limit (${limit ?? 'RLIMIT_NOFILE'}) looked for one by one`;
  }
}
