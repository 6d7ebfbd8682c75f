/**
 * The rows of namespaces no process is in but a thread, an fd or a bind mount holds: one row per
 * namespace, shown by its most telling holder (holder.ts's order), with the holder's process in
 * PID, PPID, USER and COMMAND as for a process row and NPROCS 0. Pure over what was read.
 */
import type { UserNames } from '../../procfs/passwd.js';
import type { ProcDetails } from '../../procfs/types.js';
import { processRow, type NamespaceRow } from '../namespaces.js';
import { compareTaskHolds, taskHoldText, type TaskHold } from './holder.js';

export interface HeldRowInputs {
  /** Whether some process is in the namespace (its row is a process row: no held row). */
  hasProcesses: (ino: number) => boolean;
  holds: Iterable<TaskHold>;
  /** Rows of namespaces only bind mounts hold (NPROCS 0, their holder set). */
  mountRows: readonly NamespaceRow[];
  /** The holder process's details, or null when it is gone (the next holder shows the row). */
  details: (pid: number) => ProcDetails | null;
  users: UserNames;
}

export interface HeldRows {
  /** Sorted by inode. */
  rows: NamespaceRow[];
  /** For each thread- or fd-held row, the path (under the reader's root) that opens its namespace. */
  access: Map<number, string[]>;
}

/** `/proc/<pid>/task/<tid>/ns/<type>` or `/proc/<pid>/fd/<n>`, as a path's parts after the root. */
export function holdPathParts(h: TaskHold): string[] {
  return h.kind === 'thread' ? [String(h.pid), 'task', String(h.id), 'ns', h.type] : [String(h.pid), 'fd', String(h.id)];
}

export function heldRows(inp: HeldRowInputs): HeldRows {
  const byIno = new Map<number, TaskHold[]>();
  for (const h of inp.holds) {
    if (inp.hasProcesses(h.ino)) continue;
    const list = byIno.get(h.ino);
    if (list) list.push(h);
    else byIno.set(h.ino, [h]);
  }
  const mountByIno = new Map(inp.mountRows.map((r) => [r.ns, r]));
  const rows: NamespaceRow[] = [];
  const access = new Map<number, string[]>();
  for (const [ino, holds] of byIno) {
    holds.sort(compareTaskHolds);
    const mount = mountByIno.get(ino);
    const mountHolders = mount?.holder ? 1 + mount.holder.more : 0;
    let row: NamespaceRow | null = null;
    for (const h of holds) {
      const d = inp.details(h.pid);
      if (d === null) continue;
      const parts = holdPathParts(h);
      row = { ...processRow(ino, h.type, 0, d, inp.users), path: `/proc/${parts.join('/')}` };
      row.holder = { kind: h.kind, text: taskHoldText(h, d.comm), more: holds.length - 1 + mountHolders };
      if (mount?.nsfs !== undefined) row.nsfs = mount.nsfs;
      access.set(ino, parts);
      break;
    }
    if (row === null) continue;
    rows.push(row);
    mountByIno.delete(ino);
  }
  for (const r of mountByIno.values()) if (!inp.hasProcesses(r.ns)) rows.push(r);
  rows.sort((a, b) => a.ns - b.ns);
  return { rows, access };
}
