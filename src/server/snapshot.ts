/**
 * One snapshot: the Scope report and its statistics from a scan's parts (assembleSnapshot), and a
 * whole snapshot from one full scan (takeSnapshot: the `report` command). The daemon does not call
 * takeSnapshot: it keeps its parts up to date with incremental ticks (incremental-source.ts) and
 * assembles a report only when something changed.
 *
 * takeSnapshot reads hostnames by setns(uts)+uname on a dedicated thread (a UTS worker,
 * native/uts.ts, started for this snapshot unless the caller passes a reader), never on libuv's pool.
 */
import { UtsHostnameReader, type HostnameReader } from '../native/uts.js';
import { loadUserNames, passwdCandidates } from '../procfs/passwd.js';
import { ProcReader, type ReadProblem } from '../procfs/reader.js';
import { NS_TYPES } from '../procfs/types.js';
import { Enricher } from '../scan/enrich.js';
import { scanNamespaces, type NamespaceRow } from '../scan/namespaces.js';
import { serialiseJson, type ScopeReport } from '../scope/report.js';
import { buildFullReport, MetricHistory, TOPOLOGY_NAMES, type ProcessNodeCache, type ProcessNodesMode, type ProcessView, type TopologyName } from '../scope/topologies.js';
import { groupContainers, initialNamespaces, isHostNs, scanContainers, type InitialNamespaces } from '../scan/containers.js';
import { assignNamespaceContainers } from '../scan/ns-containers.js';
import { hostTableRows, type HostTableRow } from '../scope/host-rows.js';
import type { ContainerRef } from '../procfs/cgroup.js';
import type { NsLink } from '../procfs/types.js';
import { gzipSync } from 'node:zlib';

export interface SnapshotParams {
  proc: string;
  hostname: string;
  pluginId: string;
  /** Topologies to report (default all four). */
  topologies?: readonly TopologyName[];
  /** Which processes get Process nodes (default `distinct`; see PROCESS_NODES_MODES). */
  processNodes?: ProcessNodesMode;
}

export interface SnapshotDeps {
  /** Namespace counts of earlier refreshes (the daemon keeps one); default: this one only. */
  history?: MetricHistory;
  /**
   * A long-lived UTS hostname reader (a UTS worker that survives this snapshot, or the daemon's
   * daemon reading on its main thread: InThreadUtsReader). Its cache is cleared first: a
   * hostname may have changed since the last refresh and inodes of dead namespaces are reused.
   */
  uts?: HostnameReader;
  /**
   * Process nodes of earlier refreshes (the daemon keeps one): unchanged nodes are reused
   * with their JSON and the timestamp of when their content was set. Default: every node afresh.
   */
  processNodes?: ProcessNodeCache;
}

export interface SnapshotStats {
  rows: number;
  processes: number;
  /** Rows of namespaces pinned only by nsfs bind mounts (NPROCS 0). */
  persistent: number;
  /** uts rows whose hostname could be read / all uts rows. */
  hostnames: number;
  utsRows: number;
  /** Thread id of the thread that read the hostnames (null when none ran or the daemon's main thread read them). */
  utsWorker: number | null;
  /** Read problems by kind (unreadable, vanished, ...): normal in small numbers on a live host. */
  issues: Partial<Record<ReadProblem, number>>;
  /** Degraded native lookups (e.g. hostnames unreadable), one message per kind. */
  warnings: string[];
  /** Nodes per reported topology. */
  nodes: Partial<Record<TopologyName, number>>;
  /** Processes found in a container / containers found (0 when the container topology is off). */
  containerized: number;
  containers: number;
  /** Processes whose cgroup file could not be read. */
  cgroupUnreadable: number;
  /** Which pid gave the initial (host) namespaces: 1, 2 (pid 1's links unreadable), both, or none. */
  initialFrom: '1' | '2' | '1+2' | 'none';
  scanMs: number;
  /** When the scan finished: the timestamp of every entry in the report (ms since the epoch). */
  takenAt: number;
  passwd: string | null;
}

export interface Snapshot {
  report: ScopeReport;
  stats: SnapshotStats;
}

/** What a scan (full or incremental) hands to the report: everything but the report itself. */
export interface ScanParts {
  /** Process rows plus persistent (NPROCS 0) rows, hostnames set, sorted by inode. */
  rows: NamespaceRow[];
  /** How many of `rows` are persistent (bind-mount-only) rows. */
  persistent: number;
  /** Links by pid: every process, or (IncrementalScanner.summary) the isolated ones and pids 1 and 2. */
  memberships: ReadonlyMap<number, readonly NsLink[]>;
  /** When `memberships` leaves host-only processes out: how many processes there are, and how many of them are host-only. */
  counts?: { processes: number; hostOnly: number };
  /** Containers by pid (null when neither the Container nor the Host topology is reported). */
  containers: { byPid: Map<number, ContainerRef>; unreadable: number } | null;
  issues: Partial<Record<ReadProblem, number>>;
  warnings: string[];
  utsWorker: number | null;
  passwd: string | null;
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
  const topologies = p.topologies ?? TOPOLOGY_NAMES;
  let containers: ScanParts['containers'] = null;
  if (needsCgroups(topologies)) {
    const c = scanContainers(reader, scan.memberships, initialNamespaces(scan.memberships));
    containers = { byPid: c.byPid, unreadable: c.unreadable };
  }
  const parts: ScanParts = { rows, persistent: rows.length - scan.rows.length, memberships: scan.memberships, containers, issues, warnings, utsWorker, passwd: users.source };
  return assembleSnapshot(p, parts, deps, started);
}

/** Processes' containers are needed for the Container and Pod topologies and the Host table's Container column and summary. */
export function needsCgroups(topologies: readonly TopologyName[]): boolean {
  return topologies.includes('container') || topologies.includes('host') || topologies.includes('pod');
}

/** Pids of each namespace that is not the host's, ascending (the Container cells need no more). */
function nonHostMembers(memberships: ReadonlyMap<number, readonly NsLink[]>, initial: InitialNamespaces): Map<number, number[]> {
  const members = new Map<number, number[]>();
  for (const [pid, links] of memberships) {
    for (const l of links) {
      if (isHostNs(initial, l.type, l.ino) === true) continue;
      let list = members.get(l.ino);
      if (!list) members.set(l.ino, (list = []));
      list.push(pid);
    }
  }
  return members;
}

/** The report and its statistics from a scan's parts. `started`: performance.now() when the scan began. */
export function assembleSnapshot(p: SnapshotParams, parts: ScanParts, deps: SnapshotDeps, started: number): Snapshot {
  const { rows } = parts;
  const topologies = p.topologies ?? TOPOLOGY_NAMES;
  const wantProcess = topologies.includes('process');
  const wantContainer = topologies.includes('container') || topologies.includes('pod');
  const initial = initialNamespaces(parts.memberships);
  const containers = parts.containers ? { ...parts.containers, containers: groupContainers(parts.containers.byPid, parts.memberships, initial) } : null;
  let hostRows: HostTableRow[] = rows;
  if (containers) {
    const members = nonHostMembers(parts.memberships, initial);
    assignNamespaceContainers(rows, members, containers.byPid, initial);
    hostRows = hostTableRows(rows, members, containers.byPid, initial);
  }
  const now = new Date();
  const process: ProcessView | undefined =
    wantProcess || wantContainer
      ? {
          memberships: parts.memberships,
          initial,
          mode: p.processNodes ?? 'distinct',
          ...(containers ? { containerOf: containers.byPid, containers: containers.containers } : {}),
          ...(parts.counts ? { hostOnly: parts.counts.hostOnly } : {}),
        }
      : undefined;
  const history = deps.history ?? new MetricHistory();
  const hostSamples = topologies.includes('host') ? history.add(now, rows.length) : [];
  const report = buildFullReport(
    {
      rows,
      hostRows,
      topologies,
      ...(process ? { process } : {}),
      ...(containers ? { containers: containers.containers } : {}),
      hostSamples,
      ...(deps.processNodes ? { processNodes: deps.processNodes } : {}),
    },
    { hostname: p.hostname, pluginId: p.pluginId, now },
  );
  const utsRows = rows.filter((r) => r.type === 'uts');
  const froms = new Set(Object.values(initial.from));
  const nodes: Partial<Record<TopologyName, number>> = {};
  if (report.Host) nodes.host = Object.keys(report.Host.nodes).length;
  if (report.Process) nodes.process = Object.keys(report.Process.nodes).length;
  if (report.Container) nodes.container = Object.keys(report.Container.nodes).length;
  if (report.Pod) nodes.pod = Object.keys(report.Pod.nodes).length;
  return {
    report,
    stats: {
      nodes,
      containerized: containers?.byPid.size ?? 0,
      containers: containers?.containers.size ?? 0,
      cgroupUnreadable: containers?.unreadable ?? 0,
      initialFrom: froms.size === 0 ? 'none' : froms.size === 2 ? '1+2' : froms.has(1) ? '1' : '2',
      rows: rows.length,
      processes: parts.counts?.processes ?? parts.memberships.size,
      persistent: parts.persistent,
      hostnames: utsRows.filter((r) => r.hostname !== undefined).length,
      utsRows: utsRows.length,
      utsWorker: parts.utsWorker,
      issues: parts.issues,
      warnings: parts.warnings,
      scanMs: performance.now() - started,
      takenAt: now.getTime(),
      passwd: parts.passwd,
    },
  };
}

export interface Serialised {
  json: Buffer;
  gzip: Buffer;
  /** JSON.stringify + gzip, in ms: what every refresh pays before the answer can be served. */
  serialiseMs: number;
}

/** gzip level of the served report: on this very repetitive JSON, level 3 (zlib's fast deflate)
 * is ~3.5x cheaper than level 6 for ~4 % more bytes (4 MB -> 35 kB vs 34 kB at 5,000 processes). */
export const REPORT_GZIP_LEVEL = 3;

/**
 * The bytes the daemon serves, plain and gzip (the report is so repetitive that gzip shrinks it
 * ~100x: about 4 MB of JSON at 5,000 processes becomes about 35 KB).
 */
export function serialiseReport(report: ScopeReport): Serialised {
  const t0 = performance.now();
  // Exactly JSON.stringify(report); cached Process nodes are pasted in as their stored JSON.
  const json = Buffer.from(serialiseJson(report), 'utf8');
  const gzip = gzipSync(json, { level: REPORT_GZIP_LEVEL });
  return { json, gzip, serialiseMs: performance.now() - t0 };
}
