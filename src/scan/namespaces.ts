/**
 * Turns processes into namespace rows, the way lsns counts them: per namespace inode the number of
 * processes in it and the details of its LOWEST pid. Details (stat, uid, cmdline) are read only for
 * those lowest pids, which is what makes a scan cheap on hosts with thousands of processes.
 */
import type { UserNames } from '../procfs/passwd.js';
import type { ProcReader } from '../procfs/reader.js';
import { NS_TYPES, type ByteString, type NsLink, type NsType, type ProcDetails } from '../procfs/types.js';
import type { HolderInfo } from './holders/holder.js';
import type { LinkTable } from './link-table.js';

/** lsns cuts COMMAND at this many bytes (see native-notes/lsns-output-format.md). */
export const COMMAND_MAX_BYTES = 8191;

/**
 * One namespace. Process-backed rows have every field; rows of namespaces no listed process is in
 * (pinned only by a bind mount, or ancestors shown by the owner/parent trees) have NPROCS 0 and
 * null where lsns prints an empty cell.
 */
export interface NamespaceRow {
  ns: number;
  type: NsType;
  /** `/proc/<pid>/ns/<type>` of the row's process, always spelled with /proc as lsns prints it. */
  path: string | null;
  nprocs: number;
  pid: number | null;
  ppid: number | null;
  /** Byte string (see ByteString). */
  command: ByteString | null;
  uid: number | null;
  /** Byte string, as read from passwd; for process-less rows the owner of the (owning) user ns. */
  user: ByteString | null;
  /** Filled by the kernel-native layer when asked for; absent means "not looked up". */
  netnsid?: string;
  nsfs?: string[];
  pns?: number;
  ons?: number;
  /** Our own column: the hostname inside a UTS namespace (byte string, like command). */
  hostname?: ByteString;
  /** Our own column: the container(s) its processes are in (scan/ns-containers.ts); absent = empty. */
  container?: string;
  /** Our own column: who holds a namespace no process is in (holders/holder.ts); absent on process rows. */
  holder?: HolderInfo;
}

export interface ScanOptions {
  /** Only these types (lsns -t). Default: all eight. */
  types?: readonly NsType[];
  /** The ns links already read (link-table.ts, possibly by several threads): the scan then does no
   * listPids/readNsLinks of its own. Its types are the scan's types. */
  links?: LinkTable;
}

export interface ScanResult {
  rows: NamespaceRow[];
  /** Every listed process with the namespaces that could be read, for -p and per-process views.
   * Processes in the same namespaces may share one list: never change one in place. */
  memberships: Map<number, readonly NsLink[]>;
  /** Pids in each namespace, ascending, by inode. */
  members: Map<number, number[]>;
  /** Details read during the scan, by pid (only row processes). */
  details: Map<number, ProcDetails>;
}

interface NsAcc {
  type: NsType;
  ino: number;
  /** Ascending, because pids are visited in ascending order. */
  pids: number[];
  /** Shared by every membership in this namespace (link-table scans). */
  link: NsLink;
}

export function commandOf(d: Pick<ProcDetails, 'cmdline' | 'comm'>): string {
  const cmd = d.cmdline === '' ? d.comm : d.cmdline;
  return cmd.length > COMMAND_MAX_BYTES ? cmd.slice(0, COMMAND_MAX_BYTES) : cmd;
}

/** A process-backed row: namespace `ino` of `type` with `nprocs` processes, shown by its representative `rep`. */
export function processRow(ino: number, type: NsType, nprocs: number, rep: ProcDetails, users: UserNames): NamespaceRow {
  return {
    ns: ino,
    type,
    path: `/proc/${rep.pid}/ns/${type}`,
    nprocs,
    pid: rep.pid,
    ppid: rep.ppid,
    command: commandOf(rep),
    uid: rep.uid,
    user: users.name(rep.uid),
  };
}

export function scanNamespaces(reader: ProcReader, users: UserNames, opts: ScanOptions = {}): ScanResult {
  const table = opts.links;
  const types = table?.types ?? opts.types ?? NS_TYPES;
  const byIno = new Map<number, NsAcc>();
  const memberships = new Map<number, readonly NsLink[]>();
  const add = (pid: number, type: NsType, ino: number): NsAcc => {
    let acc = byIno.get(ino);
    if (!acc) {
      acc = { type, ino, pids: [], link: { type, ino } };
      byIno.set(ino, acc);
    }
    acc.pids.push(pid);
    return acc;
  };

  if (table) {
    // Same visit order and the same first-seen type per inode as the readNsLinks loop below; the
    // NsLink objects are one per namespace, shared by its members. Consecutive pids are nearly
    // always in the same namespaces: each type's last namespace is checked before the map, and a
    // process in exactly the previous one's namespaces shares its (read-only) membership list.
    const t = types.length;
    const { pids, inos } = table;
    const lastIno = new Float64Array(t);
    const lastAcc: Array<NsAcc | undefined> = new Array<NsAcc | undefined>(t);
    const row: NsLink[] = [];
    let prev: readonly NsLink[] | null = null;
    for (let i = 0; i < pids.length; i++) {
      const pid = pids[i] as number;
      row.length = 0;
      for (let k = 0; k < t; k++) {
        const ino = inos[i * t + k] as number;
        if (ino <= 0) continue;
        let acc = ino === lastIno[k] ? lastAcc[k] : undefined;
        if (acc === undefined) {
          acc = add(pid, types[k] as NsType, ino);
          lastIno[k] = ino;
          lastAcc[k] = acc;
        } else acc.pids.push(pid);
        row.push(acc.link);
      }
      if (row.length === 0) continue;
      if (prev === null || prev.length !== row.length || row.some((l, j) => l !== prev?.[j])) prev = row.slice();
      memberships.set(pid, prev);
    }
  } else {
    for (const pid of reader.listPids()) {
      const links = reader.readNsLinks(pid, types);
      if (links.length === 0) continue;
      memberships.set(pid, links);
      for (const link of links) add(pid, link.type, link.ino);
    }
  }

  const details = new Map<number, ProcDetails>();
  const gone = new Set<number>();
  /** A process that vanished between its ns links and its stat never existed for this scan. */
  const detailsOf = (pid: number): ProcDetails | null => {
    if (gone.has(pid)) return null;
    const cached = details.get(pid);
    if (cached) return cached;
    const d = reader.readDetails(pid);
    if (d) details.set(pid, d);
    else gone.add(pid);
    return d;
  };

  // On a real procfs stat is never garbage and a process that cannot be read has just exited (a
  // race either answer fits), so details are read for representatives only, which keeps scans
  // cheap. A captured or hand-made tree (uids from status) can hold processes with a broken stat
  // or status: read them all there, so such a process is left out of every count whatever -t asks.
  if (!reader.uidFromOwner) for (const pid of memberships.keys()) detailsOf(pid);

  // Representatives first, counts after: a process found gone (vanished, garbage stat) while
  // looking for any namespace's representative is then left out of EVERY namespace's NPROCS, not
  // only of those that happen to come later in the map.
  const reps: Array<[NsAcc, ProcDetails]> = [];
  for (const acc of byIno.values()) {
    for (const pid of acc.pids) {
      const d = detailsOf(pid);
      if (d) {
        reps.push([acc, d]);
        break;
      }
    }
  }
  const rows: NamespaceRow[] = [];
  for (const [acc, rep] of reps) {
    const alive = acc.pids.reduce((n, pid) => (gone.has(pid) ? n : n + 1), 0);
    rows.push(processRow(acc.ino, acc.type, alive, rep, users));
  }
  const members = new Map<number, number[]>();
  for (const acc of byIno.values()) members.set(acc.ino, gone.size ? acc.pids.filter((p) => !gone.has(p)) : acc.pids);
  for (const pid of gone) memberships.delete(pid);
  rows.sort((a, b) => a.ns - b.ns);
  return { rows, memberships, members, details };
}
