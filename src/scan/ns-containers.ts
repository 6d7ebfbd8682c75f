/**
 * The containers a namespace's processes are in: the Host table's Container cell and the `list`
 * column CONTAINER. Pure: the scan's members of each namespace, the container of each process
 * (from its cgroup, scan/containers.ts) and the host's namespaces in; one cell text out.
 *
 * The rule:
 * - a namespace that is the host's (the initial one of its type) has an empty cell, whatever
 *   containers share it: which containers share the host's net, pid or ipc is the Host node's
 *   summary (scope/host-summary.ts), not thousands of ids in one cell;
 * - otherwise the containers of its processes; processes in no container are not counted;
 * - none: empty cell. One: its 12-hex short id. Several (a pod's sandbox net/ipc/uts, or a
 *   container that joined another's namespace): `<short id> +N`, where the named one is the
 *   container of the LOWEST pid among the namespace's containerised processes (so when that pid is
 *   the row's Pid, the cell names the container of the row's Command; in a pod it is normally the
 *   sandbox, started first) and N is the number of other distinct containers.
 */
import { shortId, type ContainerRef } from '../procfs/cgroup.js';
import type { NsType } from '../procfs/types.js';
import { isHostNs, type InitialNamespaces } from './host-namespaces.js';

export interface NamespaceContainers {
  /** Full id of the container of the lowest containerised pid. */
  first: string;
  /** How many other distinct containers have processes in the namespace. */
  others: number;
}

/** The containers of a set of processes (any order); null when none is in a container. */
export function containersOf(pids: Iterable<number>, byPid: ReadonlyMap<number, Pick<ContainerRef, 'id'>>): NamespaceContainers | null {
  let lowest = Infinity;
  let first: string | null = null;
  const ids = new Set<string>();
  for (const pid of pids) {
    const ref = byPid.get(pid);
    if (ref === undefined) continue;
    ids.add(ref.id);
    if (pid < lowest) {
      lowest = pid;
      first = ref.id;
    }
  }
  return first === null ? null : { first, others: ids.size - 1 };
}

/** `a1b2c3d4e5f6`, or `a1b2c3d4e5f6 +2` when two more containers are in the namespace. */
export function containerCell(c: NamespaceContainers | null): string {
  if (c === null) return '';
  return c.others > 0 ? `${shortId(c.first)} +${c.others}` : shortId(c.first);
}

/**
 * Sets `container` on every row whose namespace is not the host's and has containerised processes
 * (see the rule above); other rows are left without it (an empty cell). Rows with no processes
 * (NPROCS 0) have no members and stay empty.
 */
export function assignNamespaceContainers(
  rows: ReadonlyArray<{ ns: number; type: NsType; container?: string }>,
  members: ReadonlyMap<number, readonly number[]>,
  byPid: ReadonlyMap<number, Pick<ContainerRef, 'id'>>,
  initial: InitialNamespaces,
): void {
  for (const row of rows) {
    // Host rows are skipped before their members are looked at: they hold most processes.
    if (isHostNs(initial, row.type, row.ns) === true) continue;
    const pids = members.get(row.ns);
    if (pids === undefined) continue;
    const cell = containerCell(containersOf(pids, byPid));
    if (cell !== '') row.container = cell;
  }
}
