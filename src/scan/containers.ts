/**
 * Per-container namespace views built on a scan's memberships (ns links are never read twice):
 * which container (from `/proc/<pid>/cgroup`) each process is in, and each container's
 * namespaces. The host's namespaces: host-namespaces.ts.
 */
import { parseCgroupFile, type ContainerRef, type ContainerRuntime } from '../procfs/cgroup.js';
import type { ProcReader } from '../procfs/reader.js';
import { NS_TYPES, type NsLink, type NsType } from '../procfs/types.js';
import { sharedTypes, type InitialNamespaces, type NsByType } from './host-namespaces.js';

export interface ContainerInfo {
  id: string;
  runtime: ContainerRuntime;
  podUid?: string;
  /** Processes in the container, ascending. */
  pids: number[];
  /**
   * The container's namespace of each type: the one most of its processes are in (ties: the one
   * of the lowest pid). A `docker exec` that joined only some namespaces does not change it.
   */
  ns: NsByType;
  /** Types whose namespace is the host's (NS_TYPES order). */
  shared: NsType[];
  /** Types whose processes are not all in one namespace (e.g. a process that unshared inside). */
  mixed: NsType[];
}

export interface ContainerScan {
  /** Container of each process that is in one. */
  byPid: Map<number, ContainerRef>;
  /** By container id, in ascending id order. */
  containers: Map<string, ContainerInfo>;
  /** Processes whose cgroup file could not be read (vanished, or missing in a captured tree). */
  unreadable: number;
}

/** Reads every listed process's cgroup file and groups the processes by container. */
export function scanContainers(reader: ProcReader, memberships: ReadonlyMap<number, readonly NsLink[]>, initial: InitialNamespaces): ContainerScan {
  const byPid = new Map<number, ContainerRef>();
  let unreadable = 0;
  for (const pid of memberships.keys()) {
    const text = reader.readCgroup(pid);
    if (text === null) {
      unreadable++;
      continue;
    }
    const ref = parseCgroupFile(text);
    if (ref) byPid.set(pid, ref);
  }
  return { byPid, containers: groupContainers(byPid, memberships, initial), unreadable };
}

export function groupContainers(byPid: ReadonlyMap<number, ContainerRef>, memberships: ReadonlyMap<number, readonly NsLink[]>, initial: InitialNamespaces): Map<string, ContainerInfo> {
  const groups = new Map<string, { ref: ContainerRef; pids: number[] }>();
  for (const [pid, ref] of byPid) {
    let g = groups.get(ref.id);
    if (!g) groups.set(ref.id, (g = { ref, pids: [] }));
    g.pids.push(pid);
  }
  const out = new Map<string, ContainerInfo>();
  for (const id of [...groups.keys()].sort()) {
    const g = groups.get(id);
    if (!g) continue;
    const pids = g.pids.sort((a, b) => a - b);
    // The processes of a container nearly all hold the same links array (the scanners share one
    // per distinct set): count the arrays, then their links, not every process's eight links.
    const bySet = new Map<readonly NsLink[], number>();
    for (const pid of pids) {
      const links = memberships.get(pid);
      if (links) bySet.set(links, (bySet.get(links) ?? 0) + 1);
    }
    const ns: NsByType = {};
    const mixed: NsType[] = [];
    for (const type of NS_TYPES) {
      const counts = new Map<number, number>();
      for (const [links, n] of bySet) {
        const link = links.find((l) => l.type === type);
        if (link) counts.set(link.ino, (counts.get(link.ino) ?? 0) + n);
      }
      // Map order is first-seen = lowest pid first (bySet is in the order of each array's lowest
      // pid, so an inode first appears with the lowest pid that holds it): ties keep the lowest pid's.
      const best = mostCounted(counts);
      if (best !== undefined) ns[type] = best;
      if (counts.size > 1) mixed.push(type);
    }
    // Runtime and pod from the lowest pid's cgroup (all of a container's processes agree).
    const ref = byPid.get(pids[0] ?? -1) ?? g.ref;
    out.set(id, {
      id,
      runtime: ref.runtime,
      ...(ref.podUid !== undefined ? { podUid: ref.podUid } : {}),
      pids,
      ns,
      shared: sharedTypes(initial, ns),
      mixed,
    });
  }
  return out;
}

/** The key with the highest count; ties go to the key counted first (Map order). */
export function mostCounted(counts: ReadonlyMap<number, number>): number | undefined {
  let best: number | undefined;
  let bestCount = 0;
  for (const [key, n] of counts) {
    if (n > bestCount) {
      best = key;
      bestCount = n;
    }
  }
  return best;
}

/** A process's links as a by-type record. */
export function nsByType(links: readonly NsLink[]): NsByType {
  const ns: NsByType = {};
  for (const l of links) ns[l.type] = l.ino;
  return ns;
}
