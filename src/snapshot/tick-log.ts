/**
 * The daemon's log lines about its ticks: one debug line per tick, the first snapshot at info, and
 * warnings and fd-limit notes only when they change (a warning repeated every second is noise).
 */
import type { Logger } from 'pino';
import type { IncrementalScanner, TickStats } from '../scan/incremental.js';
import type { ServedSnapshot } from './serialise.js';

export interface BuiltTick {
  served: ServedSnapshot;
  /** JSON.stringify of the report, in ms. */
  serialiseMs: number;
  first: boolean;
}

export class TickLog {
  private lastWarnings = '';
  private limitNotesLogged = 0;
  private lastListing: string | null = null;
  private lastBeyond = false;

  constructor(
    private readonly log: Logger,
    private readonly scanner: IncrementalScanner,
    private readonly proc: string,
  ) {}

  /** One tick: `built` null when the served snapshot stayed as it was. */
  tick(stats: TickStats, scanMs: number, built: BuiltTick | null): void {
    const { log } = this;
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
      if (s.rows === 0) log.warn({ proc: this.proc }, 'the first scan found no namespaces; is --proc a procfs with processes?');
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
