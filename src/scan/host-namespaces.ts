/**
 * Which namespaces are the host's, and the one rule built on that: which processes are isolated.
 *
 * The host's namespaces are the INITIAL ones: those of pid 1, and for every type pid 1's link does
 * not give (unreadable, as on hosts where pid 1 is protected) those of pid 2, kthreadd, which the
 * kernel always runs in the initial namespaces. Scanning a procfs whose pid 1 is a container's init
 * (a plugin without --pid=host) makes that container's namespaces the reference: run with the
 * host's pids.
 */
import { NS_TYPES, type NsLink, type NsType } from '../procfs/types.js';

export type NsByType = Partial<Record<NsType, number>>;

export interface InitialNamespaces {
  ns: NsByType;
  /** Which pid gave each type's inode. */
  from: Partial<Record<NsType, 1 | 2>>;
}

export function initialNamespaces(memberships: ReadonlyMap<number, readonly NsLink[]>): InitialNamespaces {
  const ns: NsByType = {};
  const from: Partial<Record<NsType, 1 | 2>> = {};
  for (const pid of [1, 2] as const) {
    for (const link of memberships.get(pid) ?? []) {
      if (ns[link.type] !== undefined) continue;
      ns[link.type] = link.ino;
      from[link.type] = pid;
    }
  }
  return { ns, from };
}

/** Whether a namespace is the host's: true, false, or null when the host's of that type is unknown. */
export function isHostNs(initial: InitialNamespaces, type: NsType, ino: number): boolean | null {
  const host = initial.ns[type];
  return host === undefined ? null : host === ino;
}

/** The types (in NS_TYPES order) in which `ns` equals the host's. */
export function sharedTypes(initial: InitialNamespaces, ns: NsByType): NsType[] {
  return NS_TYPES.filter((t) => ns[t] !== undefined && ns[t] === initial.ns[t]);
}

/** Whether at least one of `links` is a namespace known not to be the host's. */
export function outsideHostNamespaces(initial: InitialNamespaces, links: readonly NsLink[]): boolean {
  for (const l of links) if (isHostNs(initial, l.type, l.ino) === false) return true;
  return false;
}

/**
 * An isolated process: in a container, or in at least one namespace known not to be the host's
 * (one whose host namespace is unknown does not count). `outside` caches outsideHostNamespaces
 * per links array: the scanners share one array per distinct set, so thousands of host processes
 * cost one check.
 */
export function isIsolated(initial: InitialNamespaces, links: readonly NsLink[], inContainer: boolean, outside?: Map<readonly NsLink[], boolean>): boolean {
  if (inContainer) return true;
  let v = outside?.get(links);
  if (v === undefined) {
    v = outsideHostNamespaces(initial, links);
    outside?.set(links, v);
  }
  return v;
}
