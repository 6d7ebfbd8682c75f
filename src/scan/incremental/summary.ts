/**
 * What the report needs from the incremental scanner's processes, in one pass over them (no
 * sorting of thousands of pids on every rebuild): the links of every isolated process (the one
 * rule of host-namespaces.ts: in a container, or in a namespace known not to be the host's) and
 * of pids 1 and 2 (they give the host's namespaces), ascending; of every process when `all`.
 * Host-only processes are only counted. Whether a set of links is outside the host's namespaces is
 * decided once per distinct (interned) set.
 */
import type { ContainerRef } from '../../procfs/cgroup.js';
import type { NsLink } from '../../procfs/types.js';
import { initialNamespaces, isIsolated } from '../host-namespaces.js';
import type { Proc } from './state.js';

export interface ProcessSummary {
  /** Links of the processes a report shows (see above), ascending pid. */
  memberships: Map<number, NsLink[]>;
  /** Processes with readable links. */
  processes: number;
  /** Processes in only the host's namespaces and in no container. */
  hostOnly: number;
  /** Container of each process in one (ascending pid), and how many cgroup files were unreadable. */
  containers: { byPid: Map<number, ContainerRef>; unreadable: number };
}

export function summarise(procs: ReadonlyMap<number, Proc>, all: boolean): ProcessSummary {
  const firstTwo = new Map<number, NsLink[]>();
  for (const pid of [1, 2]) {
    const p = procs.get(pid);
    if (p && p.links.length > 0) firstTwo.set(pid, p.links);
  }
  const initial = initialNamespaces(firstTwo);
  const outside = new Map<readonly NsLink[], boolean>();
  const kept: number[] = [];
  const inContainer: number[] = [];
  let processes = 0;
  let hostOnly = 0;
  let unreadable = 0;
  // forEach, not for-of: no entry array per process.
  procs.forEach((p, pid) => {
    if (p.links.length === 0) return;
    processes++;
    const contained = p.container !== null && p.container !== undefined;
    if (p.container === undefined) unreadable++;
    else if (contained) inContainer.push(pid);
    const isolated = isIsolated(initial, p.links, contained, outside);
    if (!isolated) hostOnly++;
    if (all || isolated || pid <= 2) kept.push(pid);
  });
  const memberships = new Map<number, NsLink[]>();
  for (const pid of kept.sort((a, b) => a - b)) memberships.set(pid, (procs.get(pid) as Proc).links);
  const byPid = new Map<number, ContainerRef>();
  for (const pid of inContainer.sort((a, b) => a - b)) byPid.set(pid, (procs.get(pid) as Proc).container as ContainerRef);
  return { memberships, processes, hostOnly, containers: { byPid, unreadable } };
}
