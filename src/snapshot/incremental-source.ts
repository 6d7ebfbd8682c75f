/**
 * Keeps the served snapshot fresh with incremental ticks (scan/incremental.ts) on the main thread:
 * a tick every `intervalMs`, cut into slices of about `sliceMs` between which the event loop
 * answers /report requests, so a request never waits for a scan (nor for a whole rebuild: building,
 * serialising and compressing the report are separate turns). The report is rebuilt and
 * serialised only when something it shows changed (or the namespace-count metric is due);
 * otherwise the same bytes are served and only the check time advances.
 *
 * Besides the scanner's rows: namespaces no process is in, held by a thread or an fd (the
 * scanner's holders phase), a bind mount or the hierarchy (persistent-refresh.ts), and
 * the hostname inside each UTS namespace (hostname-refresh.ts); USER names are reloaded from
 * passwd once per full-rescan period.
 */
import type { Logger } from 'pino';
import { loadUserNames, passwdCandidates, type UserNames } from '../procfs/passwd.js';
import { ProcReader, type ReadProblem } from '../procfs/reader.js';
import type { ProcDetails } from '../procfs/types.js';
import { IncrementalScanner } from '../scan/incremental.js';
import { MetricHistory } from '../scope/host-metric.js';
import { ProcessNodeCache } from '../scope/process-topology.js';
import { TOPOLOGY_NAMES } from '../scope/topologies.js';
import { assembleSnapshot, needsCgroups } from './assemble.js';
import { HostnameRefresh } from './hostname-refresh.js';
import { PersistentRefresh } from './persistent-refresh.js';
import { fdUnreadableNote } from '../scan/holders/discover.js';
import { heldRows, type HeldRows } from '../scan/holders/held-rows.js';
import { serialiseBetweenTurns, servedSnapshot, type ServedSnapshot } from './serialise.js';
import { runSlicedTick } from './sliced-tick.js';
import { TickLog } from './tick-log.js';
import { nextTurn } from './turns.js';
import type { ScanParts, SnapshotParams } from './types.js';

export { HOSTNAME_MAX_AGE_MS } from './hostname-refresh.js';
export { PERSISTENT_EVERY_MS } from './persistent-refresh.js';
export type { ServedSnapshot } from './serialise.js';

/** A report rebuilt at least this often even when unchanged: the Host node's metric needs samples. */
export const METRIC_EVERY_MS = 15_000;
/** Longest stretch of scanning between two turns of the event loop. */
export const DEFAULT_SLICE_MS = 1;

export interface IncrementalSourceOptions {
  params: SnapshotParams;
  intervalMs: number;
  fullRescanMs: number;
  log: Logger;
  sliceMs?: number;
}

export class IncrementalSource {
  private latest: ServedSnapshot | null = null;
  private seq = 0;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private running: Promise<void> | null = null;
  /** Read problems of the current tick, by kind. */
  private issues: Partial<Record<ReadProblem, number>> = {};
  private readonly reader: ProcReader;
  private users: UserNames;
  private usersAt = 0;
  private readonly scanner: IncrementalScanner;
  private readonly persistent: PersistentRefresh;
  private readonly hostnames: HostnameRefresh;
  private readonly tickLog: TickLog;
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
    this.persistent = new PersistentRefresh(this.reader);
    this.hostnames = new HostnameRefresh(this.reader, () => this.stopped);
    this.tickLog = new TickLog(opts.log, this.scanner, p.proc);
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
    await this.hostnames.terminate();
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

  /** Rows of the namespaces a thread, an fd or a bind mount holds and no process is in. */
  private heldRows(): HeldRows {
    const details = new Map<number, ProcDetails | null>();
    return heldRows({
      hasProcesses: (ino) => this.scanner.hasProcesses(ino),
      holds: this.scanner.heldHolds(),
      mountRows: this.persistent.rows,
      details: (pid) => {
        let d = details.get(pid);
        if (d === undefined) details.set(pid, (d = this.reader.readDetails(pid)));
        return d;
      },
      users: this.users,
    });
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
    // The first tick (start) is run at once.
    const stats = await runSlicedTick(this.scanner, first ? Infinity : this.sliceMs, () => this.stopped);
    const scanMs = performance.now() - started;
    // Nothing changed and nothing due (bind-mount lookup, hostnames, the metric): the served bytes
    // stay, only the check time advances, and no row is copied or compared.
    const at = performance.now();
    if (!first && !stats.changed && this.latest && !this.persistent.due(at) && !this.hostnames.due(at) && at - this.builtAt < METRIC_EVERY_MS) {
      this.latest.checkedAt = Date.now();
      this.tickLog.tick(stats, scanMs, null);
      return;
    }
    const rows = this.scanner.rows.map((r) => ({ ...r }));
    this.persistent.refresh(rows, this.users, warnings, started);
    await nextTurn();
    // Namespaces no process is in: held by a thread or an fd (the scanner's holders phase), a
    // bind mount (persistent-refresh.ts), or only by a child namespace (the hierarchy above all).
    const held = this.heldRows();
    const above = this.persistent.hierarchy([...rows, ...held.rows], held.access, this.users, warnings, started);
    const known = new Set([...rows, ...held.rows].map((r) => r.ns));
    const noProcess = [...held.rows.map((r) => ({ ...r })), ...above.filter((r) => !known.has(r.ns)).map((r) => ({ ...r }))];
    if (this.scanner.fdUnreadable > 0) warnings.push(fdUnreadableNote('some')); // no count: the log says it again only when it changes
    const all = [...rows, ...noProcess].sort((a, b) => a.ns - b.ns);
    const heldPath = (ns: number): string | null => {
      const parts = held.access.get(ns);
      return parts === undefined ? this.persistent.accessPath(ns) : this.reader.resolve(...parts);
    };
    await this.hostnames.read(all, heldPath, warnings, started);
    const signature = all.map((r) => `${r.ns}:${r.hostname ?? ''}`).join(',');
    const changed = first || stats.changed || signature !== this.lastSignature;
    const now = Date.now();
    if (!changed && this.latest && performance.now() - this.builtAt < METRIC_EVERY_MS) {
      this.latest.checkedAt = now;
      this.tickLog.tick(stats, scanMs, null);
      return;
    }
    this.lastSignature = signature;
    const topologies = this.opts.params.topologies ?? TOPOLOGY_NAMES;
    const summary = this.scanner.summary(this.opts.params.processNodes === 'all');
    const parts: ScanParts = {
      rows: all,
      persistent: noProcess.length,
      memberships: summary.memberships,
      counts: { processes: summary.processes, hostOnly: summary.hostOnly },
      containers: needsCgroups(topologies) ? summary.containers : null,
      issues: { ...this.issues },
      warnings,
      utsWorker: this.hostnames.threadId,
      passwd: this.users.source,
    };
    const snap = assembleSnapshot(this.opts.params, parts, { history: this.history, processNodes: this.processNodes }, started);
    await nextTurn();
    const serialised = await serialiseBetweenTurns(snap.report);
    this.builtAt = performance.now();
    const served = servedSnapshot(++this.seq, serialised, snap.stats);
    this.latest = served;
    this.tickLog.tick(stats, scanMs, { served, serialiseMs: serialised.jsonMs, first });
  }
}
