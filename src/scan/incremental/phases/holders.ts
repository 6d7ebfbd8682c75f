/**
 * Phase 7, threads and fds. Runs every tick after the sweep: the holds (holders/process-holds.ts:
 * threads in other namespaces than their process, fds on namespaces) of every process first read
 * this tick and of those the sweep re-verified and found may have changed them (`holds.due`: it
 * ran, or has more than one thread), so that every process's threads and fds are as recent as its
 * links. In a full tick (the first, or when every process's links were read): every process's.
 * An fd table is read in chunks, yielding between them.
 *
 * Changes: `holds` (by pid; only processes that hold something), `due` (emptied), `changed`,
 * `fdUnreadable`; each read process's `threads`.
 */
import { readFdHolds, readThreadHolds } from '../../holders/process-holds.js';
import type { TaskHold } from '../../holders/holder.js';
import { NS_TYPES } from '../../../procfs/types.js';
import type { Phase, ScanState } from '../state.js';

function sameHolds(a: readonly TaskHold[] | undefined, b: readonly TaskHold[]): boolean {
  if (a === undefined) return b.length === 0;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as TaskHold;
    const y = b[i] as TaskHold;
    if (x.kind !== y.kind || x.id !== y.id || x.ino !== y.ino || x.type !== y.type) return false;
  }
  return true;
}

/** Reads one process's threads and fds and records what changed. */
export function* readHolds(s: ScanState, pid: number): Generator<void, void> {
  const p = s.procs.get(pid);
  const h = s.holds;
  if (p === undefined) return;
  const threads = s.reader.threadCount(pid);
  p.threads = threads;
  const out: TaskHold[] = [];
  readThreadHolds(s.reader, pid, p.links, NS_TYPES, out, h.scratch, threads);
  const r = yield* readFdHolds(s.reader, pid, null, out);
  if (r === 'unreadable') h.fdUnreadable.add(pid);
  else h.fdUnreadable.delete(pid);
  // Gone meanwhile: the exits phase drops it (and its holds) when its exit is seen.
  if (r === 'vanished' && out.length === 0) return;
  if (sameHolds(h.byPid.get(pid), out)) return;
  if (out.length === 0) h.byPid.delete(pid);
  else h.byPid.set(pid, out);
  h.changed = true;
}

export const holders: Phase = {
  name: 'holders',
  *run(s, t) {
    const h = s.holds;
    // A full tick (the first; a pid wrap not ruled out) read every process's links: their holds too.
    if (t.first || t.stats.full) {
      for (const pid of s.procs.keys()) yield* readHolds(s, pid);
      h.due.clear();
      return;
    }
    for (const pid of s.young) {
      if (s.procs.get(pid)?.bornTick === s.tickNo) h.due.add(pid);
    }
    for (const pid of h.due) yield* readHolds(s, pid);
    h.due.clear();
  },
};
