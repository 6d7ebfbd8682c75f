/**
 * The full scan's holders: every listed process's threads and fds read once (process-holds.ts),
 * the bind-mount rows found in every mount namespace (persistent.ts, read by the caller), and the
 * user / pid hierarchy above all of them, as rows of the namespaces no process is in.
 */
import type { UserNames } from '../../procfs/passwd.js';
import type { ProcReader } from '../../procfs/reader.js';
import { NS_TYPES, type NsType, type ProcDetails } from '../../procfs/types.js';
import type { Enricher } from '../enrich.js';
import type { HoldRead } from '../link-table.js';
import type { NamespaceRow, ScanResult } from '../namespaces.js';
import type { TaskHold } from './holder.js';
import { heldRows } from './held-rows.js';
import { readHoldsNow, typeFilter } from './process-holds.js';

export interface HolderScan {
  /** Namespaces no process is in, held by a thread, an fd, a bind mount (or the hierarchy, when asked), sorted by inode. */
  rows: NamespaceRow[];
  /** Every thread and fd hold read (of namespaces with processes too), for `list <namespace>`. */
  holds: TaskHold[];
  /** Processes whose fd table could not be read (another user's, without CAP_DAC_READ_SEARCH). */
  fdUnreadable: number;
}

/**
 * Another user's `<pid>/fd` is mode 0500 and its own: reading it takes CAP_DAC_READ_SEARCH and the
 * ptrace check (native-notes/holders.md). Namespaces only such fds hold are missing, and that is said.
 */
export function fdUnreadableNote(n: number | 'some'): string {
  const who = n === 'some' ? 'some processes' : `${n} process${n === 1 ? '' : 'es'}`;
  return `the open fds of ${who} could not be read (another user's fd directory needs CAP_DAC_READ_SEARCH besides CAP_SYS_PTRACE); namespaces only those fds hold are not shown`;
}

export function discoverHolders(
  reader: ProcReader,
  users: UserNames,
  scan: Pick<ScanResult, 'memberships' | 'members' | 'rows' | 'details'>,
  mountRows: readonly NamespaceRow[],
  enricher: Enricher,
  opts: { types?: readonly NsType[]; hierarchy: boolean; read?: HoldRead },
): HolderScan {
  const types = opts.types ?? NS_TYPES;
  // Read with the links already (link-table.ts, on several threads), or now.
  const holds: TaskHold[] = opts.read?.out ?? [];
  let fdUnreadable = opts.read?.fdUnreadable ?? 0;
  if (opts.read === undefined) {
    const typeSet = typeFilter(types);
    const scratch = new Float64Array(NS_TYPES.length);
    for (const [pid, own] of scan.memberships) if (!readHoldsNow(reader, pid, own, types, typeSet, holds, scratch)) fdUnreadable++;
  }
  const details = new Map<number, ProcDetails | null>();
  const held = heldRows({
    hasProcesses: (ino) => (scan.members.get(ino)?.length ?? 0) > 0,
    holds,
    mountRows,
    details: (pid) => {
      const known = scan.details.get(pid) ?? details.get(pid);
      if (known !== undefined) return known;
      const d = reader.readDetails(pid);
      details.set(pid, d);
      return d;
    },
    users,
  });
  enricher.addAccessPaths(held.access);
  let rows = held.rows;
  if (opts.hierarchy) {
    const above = enricher.hierarchyRows([...scan.rows, ...rows]).filter((r) => types.includes(r.type));
    if (above.length > 0) rows = [...rows, ...above].sort((a, b) => a.ns - b.ns);
  }
  return { rows, holds, fdUnreadable };
}
