/**
 * Who keeps a namespace alive when no process is in it, and how that is said. A namespace lives
 * while anything refers to it: a process (the rows' NPROCS), a thread of a process that is not in
 * it itself (setns or unshare on one thread), an open fd on its nsfs file, an nsfs bind mount in
 * some mount namespace, or a child namespace (a user or pid namespace's parent, the user
 * namespace that owns any namespace). Pure.
 */
import type { ByteString, NsType } from '../../procfs/types.js';

/** The kinds, most telling first: a row shows the first kind that holds its namespace. */
export const HOLDER_KINDS = ['thread', 'fd', 'mount', 'hierarchy'] as const;
export type HolderKind = (typeof HOLDER_KINDS)[number];

/** How the Host summary and the notes name each kind. */
export const HOLDER_KIND_LABELS: Readonly<Record<HolderKind, string>> = { thread: 'thread', fd: 'fd', mount: 'bind mount', hierarchy: 'hierarchy' };

/** A thread's or an fd's hold on a namespace, as read from `/proc/<pid>/task/<tid>/ns/*` or `/proc/<pid>/fd/*`. */
export interface TaskHold {
  kind: 'thread' | 'fd';
  pid: number;
  /** The tid (thread) or the fd number. */
  id: number;
  type: NsType;
  ino: number;
}

/** What a row says about who holds it; absent on rows that processes are in. */
export interface HolderInfo {
  kind: HolderKind;
  /** The most telling holder (byte string: it may hold a comm or a mount point). */
  text: ByteString;
  /** How many other holders there are (of any kind). */
  more: number;
}

/** `thread 8123 of 812 (cni)`, `fd 4 of 812 (containerd-shim)`. */
export function taskHoldText(h: Pick<TaskHold, 'kind' | 'pid' | 'id'>, comm: ByteString | null): ByteString {
  const who = comm === null ? String(h.pid) : `${h.pid} (${comm})`;
  return `${h.kind} ${h.id} of ${who}`;
}

/** `bind mount /run/netns/cni-1f2e (mnt 4026531841)`; without the mount namespace when unknown (0). */
export function mountHoldText(mountPoint: ByteString, mntNs: number): ByteString {
  return mntNs > 0 ? `bind mount ${mountPoint} (mnt ${mntNs})` : `bind mount ${mountPoint}`;
}

/** `parent of user 4026532yyy` (a user or pid namespace's parent), `owner of net 4026532zzz` (its owning user namespace). */
export function hierarchyHoldText(relation: 'parent' | 'owner', child: { type: NsType; ino: number }): ByteString {
  return `${relation} of ${child.type} ${child.ino}`;
}

/** The cell: the holder, then `, +N more` when others hold it too. */
export function holderCell(h: HolderInfo): ByteString {
  return h.more > 0 ? `${h.text}, +${h.more} more` : h.text;
}

/** Orders holds by precedence: threads before fds, then lowest pid, then lowest tid or fd. */
export function compareTaskHolds(a: TaskHold, b: TaskHold): number {
  if (a.kind !== b.kind) return a.kind === 'thread' ? -1 : 1;
  return a.pid - b.pid || a.id - b.id;
}

/** `none`, or `<N>: thread a, fd b, bind mount c, hierarchy d` (kinds with none left out), for rows no process is in. */
export function heldSummary(rows: ReadonlyArray<{ nprocs?: number; holder?: HolderInfo }>): string {
  const counts = new Map<HolderKind, number>();
  let total = 0;
  for (const r of rows) {
    if (r.holder === undefined || (r.nprocs ?? 0) > 0) continue;
    counts.set(r.holder.kind, (counts.get(r.holder.kind) ?? 0) + 1);
    total++;
  }
  if (total === 0) return 'none';
  return `${total}: ${HOLDER_KINDS.filter((k) => counts.has(k))
    .map((k) => `${HOLDER_KIND_LABELS[k]} ${counts.get(k) ?? 0}`)
    .join(', ')}`;
}
