/**
 * Phase 8, the rows. Runs last, and rebuilds only when something the rows show may have changed:
 * memberships or containers (`structureChanged`), a representative's details, USER names, or the
 * first tick. One row per namespace with a representative, built like a full scan's
 * (namespaces.ts processRow), sorted by inode.
 *
 * Changes: `rows`; `repDetails` loses pids that are no longer representatives (their details
 * would go stale unnoticed: a parent's exit is only looked for among representatives); clears
 * `structureChanged` and `usersChanged`; stats.changed.
 */
import { processRow, type NamespaceRow } from '../../namespaces.js';
import type { Phase, ScanState } from '../state.js';

function sameRow(a: NamespaceRow, b: NamespaceRow): boolean {
  return a.ns === b.ns && a.type === b.type && a.nprocs === b.nprocs && a.pid === b.pid && a.ppid === b.ppid && a.uid === b.uid && a.command === b.command && a.user === b.user;
}

/** The rows from the members and the representatives' details; whether they differ from `s.rows`. */
export function rebuildRows(s: ScanState): boolean {
  s.repDetails.forEach((e, pid) => {
    if (e.repTick !== s.tickNo) s.repDetails.delete(pid);
  });
  const rows: NamespaceRow[] = [];
  s.members.byNs.forEach((m, ino) => {
    const rep = s.repDetails.get(m.min)?.d;
    if (rep !== undefined) rows.push(processRow(ino, m.type, m.count, rep, s.users));
  });
  rows.sort((a, b) => a.ns - b.ns);
  const prev = s.rows;
  s.rows = rows;
  return rows.length !== prev.length || rows.some((r, i) => !sameRow(r, prev[i] as NamespaceRow));
}

export const rebuild: Phase = {
  name: 'rebuild',
  // eslint-disable-next-line require-yield -- one pass over the namespaces, not the processes
  *run(s, t) {
    let rowsChanged = false;
    if (s.structureChanged || t.detailsChanged || s.usersChanged || t.first) rowsChanged = rebuildRows(s);
    t.stats.changed = rowsChanged || s.structureChanged || s.holds.changed;
    s.structureChanged = false;
    s.holds.changed = false;
    s.usersChanged = false;
  },
};
