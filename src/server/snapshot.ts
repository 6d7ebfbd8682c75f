/**
 * One snapshot: scan a procfs tree, build the Scope report and serialise it. Synchronous and
 * blocking (a /proc walk of thousands of processes takes most of a second): the daemon runs it on
 * a worker thread (snapshot-worker.ts); `scope-namespaces report` runs it directly.
 */
import { loadUserNames, passwdCandidates } from '../procfs/passwd.js';
import { ProcReader, type ReadProblem } from '../procfs/reader.js';
import { scanNamespaces } from '../scan/namespaces.js';
import { buildReport, type ScopeReport } from '../scope/report.js';

export interface SnapshotParams {
  proc: string;
  hostname: string;
  pluginId: string;
}

export interface SnapshotStats {
  rows: number;
  processes: number;
  /** Read problems by kind (unreadable, vanished, ...): normal in small numbers on a live host. */
  issues: Partial<Record<ReadProblem, number>>;
  scanMs: number;
  /** When the scan finished: the timestamp of every entry in the report (ms since the epoch). */
  takenAt: number;
  passwd: string | null;
}

export interface Snapshot {
  report: ScopeReport;
  stats: SnapshotStats;
}

/** Throws when the procfs root itself cannot be listed. */
export function takeSnapshot(p: SnapshotParams): Snapshot {
  const started = performance.now();
  const issues: Partial<Record<ReadProblem, number>> = {};
  const reader = new ProcReader(p.proc, { onIssue: (i) => (issues[i.problem] = (issues[i.problem] ?? 0) + 1) });
  const users = loadUserNames(passwdCandidates(p.proc));
  const scan = scanNamespaces(reader, users);
  const now = new Date();
  const report = buildReport(scan.rows, { hostname: p.hostname, pluginId: p.pluginId, now });
  return {
    report,
    stats: {
      rows: scan.rows.length,
      processes: scan.memberships.size,
      issues,
      scanMs: performance.now() - started,
      takenAt: now.getTime(),
      passwd: users.source,
    },
  };
}
