/**
 * A whole snapshot from one full scan (takeSnapshot: the `report` command). The daemon does not
 * call it: it keeps its parts up to date with incremental ticks (incremental-source.ts) and
 * assembles a report only when something changed.
 *
 * takeSnapshot reads hostnames by setns(uts)+uname on a dedicated thread (a UTS worker,
 * native/uts.ts, started for this snapshot unless the caller passes a reader), never on libuv's pool.
 */
import { UtsHostnameReader } from '../native/uts.js';
import { loadUserNames, passwdCandidates } from '../procfs/passwd.js';
import { ProcReader, type ReadProblem } from '../procfs/reader.js';
import { NS_TYPES } from '../procfs/types.js';
import { scanContainers } from '../scan/containers.js';
import { initialNamespaces } from '../scan/host-namespaces.js';
import { Enricher } from '../scan/enrich.js';
import { discoverHolders, fdUnreadableNote } from '../scan/holders/discover.js';
import { scanNamespaces, type NamespaceRow } from '../scan/namespaces.js';
import { TOPOLOGY_NAMES } from '../scope/topologies.js';
import { assembleSnapshot, needsCgroups } from './assemble.js';
import type { ScanParts, Snapshot, SnapshotDeps, SnapshotParams } from './types.js';

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
    // Namespaces no process is in: held by a thread, an fd, a bind mount or a child namespace.
    const held = discoverHolders(reader, users, scan, enricher.persistentRows(scan.rows, NS_TYPES), enricher, { hierarchy: true });
    if (held.fdUnreadable > 0) warnings.push(fdUnreadableNote(held.fdUnreadable));
    rows = [...scan.rows, ...held.rows].sort((a, b) => a.ns - b.ns);
    await enricher.hostnames(rows);
    utsWorker = uts.threadId;
  } finally {
    await enricher.close();
    if (ownUts) await uts.terminate();
  }
  const topologies = p.topologies ?? TOPOLOGY_NAMES;
  let containers: ScanParts['containers'] = null;
  if (needsCgroups(topologies)) {
    const c = scanContainers(reader, scan.memberships, initialNamespaces(scan.memberships));
    containers = { byPid: c.byPid, unreadable: c.unreadable };
  }
  const parts: ScanParts = { rows, persistent: rows.length - scan.rows.length, memberships: scan.memberships, containers, issues, warnings, utsWorker, passwd: users.source };
  return assembleSnapshot(p, parts, deps, started);
}
