/**
 * One snapshot: scan a procfs tree (plus the namespaces only bind mounts keep alive, and the
 * hostname inside every UTS namespace), build the Scope report and serialise it. The /proc walk
 * is synchronous and blocking (most of a second with thousands of processes): the daemon runs it
 * on a worker thread (snapshot-worker.ts); `scope-namespaces report` runs it directly.
 *
 * Hostnames are read by setns(uts)+uname on a dedicated UTS worker thread (native/uts.ts), never on
 * libuv's pool. The daemon passes its own long-lived UtsHostnameReader so that one UTS worker
 * serves every refresh; without one, a reader is created for this snapshot and stopped after it.
 */
import { UtsHostnameReader } from '../native/uts.js';
import { loadUserNames, passwdCandidates } from '../procfs/passwd.js';
import { ProcReader, type ReadProblem } from '../procfs/reader.js';
import { NS_TYPES } from '../procfs/types.js';
import { Enricher } from '../scan/enrich.js';
import { scanNamespaces, type NamespaceRow } from '../scan/namespaces.js';
import { buildReport, type ScopeReport } from '../scope/report.js';

export interface SnapshotParams {
  proc: string;
  hostname: string;
  pluginId: string;
}

export interface SnapshotDeps {
  /**
   * A long-lived UTS hostname reader (its worker survives this snapshot). Its cache is cleared
   * first: a hostname may have changed since the last refresh and inodes of dead namespaces are
   * reused.
   */
  uts?: UtsHostnameReader;
}

export interface SnapshotStats {
  rows: number;
  processes: number;
  /** Rows of namespaces pinned only by nsfs bind mounts (NPROCS 0). */
  persistent: number;
  /** uts rows whose hostname could be read / all uts rows. */
  hostnames: number;
  utsRows: number;
  /** Thread id of the UTS worker that read the hostnames (null when none ran). */
  utsWorker: number | null;
  /** Read problems by kind (unreadable, vanished, ...): normal in small numbers on a live host. */
  issues: Partial<Record<ReadProblem, number>>;
  /** Degraded native lookups (e.g. hostnames unreadable), one message per kind. */
  warnings: string[];
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
export async function takeSnapshot(p: SnapshotParams, deps: SnapshotDeps = {}): Promise<Snapshot> {
  const started = performance.now();
  const issues: Partial<Record<ReadProblem, number>> = {};
  const warnings: string[] = [];
  const reader = new ProcReader(p.proc, { onIssue: (i) => (issues[i.problem] = (issues[i.problem] ?? 0) + 1) });
  const users = loadUserNames(passwdCandidates(p.proc));
  const scan = scanNamespaces(reader, users);
  const ownUts = deps.uts === undefined;
  const uts = deps.uts ?? new UtsHostnameReader();
  if (!ownUts) uts.clearCache();
  const enricher = new Enricher(reader, users, { nsfs: false, relations: false, netnsid: false, hostname: true }, (m) => warnings.push(m), { uts });
  let rows: NamespaceRow[];
  let utsWorker: number | null;
  try {
    const persistent = enricher.persistentRows(scan.rows, NS_TYPES);
    rows = [...scan.rows, ...persistent].sort((a, b) => a.ns - b.ns);
    await enricher.hostnames(rows);
    utsWorker = uts.threadId;
  } finally {
    await enricher.close();
    if (ownUts) await uts.terminate();
  }
  const now = new Date();
  const report = buildReport(rows, { hostname: p.hostname, pluginId: p.pluginId, now });
  const utsRows = rows.filter((r) => r.type === 'uts');
  return {
    report,
    stats: {
      rows: rows.length,
      processes: scan.memberships.size,
      persistent: rows.length - scan.rows.length,
      hostnames: utsRows.filter((r) => r.hostname !== undefined).length,
      utsRows: utsRows.length,
      utsWorker,
      issues,
      warnings,
      scanMs: performance.now() - started,
      takenAt: now.getTime(),
      passwd: users.source,
    },
  };
}
