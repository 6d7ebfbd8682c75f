/** One snapshot (the Scope report and its statistics) from a scan's parts, full or incremental. */
import type { NsLink } from '../procfs/types.js';
import { groupContainers } from '../scan/containers.js';
import { initialNamespaces, isHostNs, type InitialNamespaces } from '../scan/host-namespaces.js';
import { assignNamespaceContainers } from '../scan/ns-containers.js';
import { hostTableRows, type HostTableRow } from '../scope/host-rows.js';
import { buildReport } from '../scope/build-report.js';
import { MetricHistory } from '../scope/host-metric.js';
import type { ProcessView } from '../scope/process-topology.js';
import { TOPOLOGY_NAMES, type TopologyName } from '../scope/topologies.js';
import type { ScanParts, Snapshot, SnapshotDeps, SnapshotParams } from './types.js';

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
  const report = buildReport(
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
