/**
 * The Host table's rows from the scan's namespace rows. On a container host most namespaces come
 * in sets that exactly one container's processes hold together (a default container's mnt, net,
 * pid, uts and ipc): one row each would repeat the same # Procs, Pid, User, Command and Container
 * cells five times, and every cell is a latest entry the probe decodes every second. Such a set is
 * one row: its NS and Type cells list the namespaces (same order), the other cells are shared.
 *
 * The rule, pure: namespaces that are not the host's, whose processes are all in one container,
 * and that are held by exactly the same processes, share one row, in NS_TYPES order, placed at
 * the lowest inode of the set. Every other namespace keeps a row of its own: the host's, those
 * processes outside containers are in (as lsns shows them), those several containers share (a
 * pod's sandbox net), a process's own namespace inside a container, NPROCS 0 rows.
 */
import type { ContainerRef } from '../procfs/cgroup.js';
import { NS_TYPES, type NsType } from '../procfs/types.js';
import { isHostNs, type InitialNamespaces } from '../scan/host-namespaces.js';
import type { NamespaceRow } from '../scan/namespaces.js';

/** One Host table row: a namespace, or (with `merged`) a set of namespaces held alike. */
export interface HostTableRow extends NamespaceRow {
  /** Every namespace of the set, this row's own among them, in NS_TYPES order (two or more). */
  merged?: ReadonlyArray<{ type: NsType; ns: number }>;
}

/** Separates the namespaces of a merged row inside its NS and Type cells. */
export const MERGED_SEPARATOR = ' ';

interface Candidate {
  container: string;
  pids: readonly number[];
  rows: NamespaceRow[];
}

function samePids(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The one container all of `pids` are in, or null (one outside, or two containers). */
function soleContainer(pids: readonly number[], byPid: ReadonlyMap<number, Pick<ContainerRef, 'id'>>): string | null {
  let id: string | null = null;
  for (const pid of pids) {
    const ref = byPid.get(pid);
    if (ref === undefined || (id !== null && ref.id !== id)) return null;
    id = ref.id;
  }
  return id;
}

/**
 * `rows` (sorted by inode) as Host table rows, still sorted by inode. `members`: pids of each
 * non-host namespace, listed in one common order (any), as snapshot assembly builds them.
 */
export function hostTableRows(
  rows: readonly NamespaceRow[],
  members: ReadonlyMap<number, readonly number[]>,
  byPid: ReadonlyMap<number, Pick<ContainerRef, 'id'>>,
  initial: InitialNamespaces,
): HostTableRow[] {
  // Sets keyed by container, size and first pid; pids compared in full within a key.
  const sets = new Map<string, Candidate[]>();
  const setOf = new Map<NamespaceRow, Candidate>();
  for (const row of rows) {
    if (row.nprocs === 0 || isHostNs(initial, row.type, row.ns) === true) continue;
    const pids = members.get(row.ns);
    if (pids === undefined || pids.length === 0) continue;
    const container = soleContainer(pids, byPid);
    if (container === null) continue;
    const key = `${container}|${pids.length}|${pids[0] ?? ''}`;
    let list = sets.get(key);
    if (!list) sets.set(key, (list = []));
    let set = list.find((c) => samePids(c.pids, pids));
    if (!set) list.push((set = { container, pids, rows: [] }));
    set.rows.push(row);
    setOf.set(row, set);
  }
  const out: HostTableRow[] = [];
  for (const row of rows) {
    const set = setOf.get(row);
    if (set === undefined || set.rows.length === 1) {
      out.push(row);
      continue;
    }
    // Rows come sorted by inode: the set's first row is its lowest inode, the others are dropped.
    if (set.rows[0] !== row) continue;
    const byType = [...set.rows].sort((a, b) => NS_TYPES.indexOf(a.type) - NS_TYPES.indexOf(b.type));
    const uts = set.rows.find((r) => r.type === 'uts');
    const merged: HostTableRow = { ...row, merged: byType.map((r) => ({ type: r.type, ns: r.ns })) };
    delete merged.hostname;
    if (uts?.hostname !== undefined) merged.hostname = uts.hostname;
    out.push(merged);
  }
  return out;
}
