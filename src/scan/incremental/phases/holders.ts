/**
 * Phase 7, threads and fds. Runs every tick after the sweep: the holds (holders/process-holds.ts:
 * threads in other namespaces than their process, fds on namespaces) of every process first read
 * this tick, and of a slice of the known processes in pid order sized like the sweep's, so that
 * every process's threads and fds are looked at again within fullRescanMs. In the first tick: every
 * process's. An fd table is read in chunks, yielding between them; a single-threaded process that
 * has not run since its last read is not read again (HOLDS_TRUST_ROUNDS).
 *
 * Changes: `holds` (by pid; only processes that hold something), its cursor, time and `changed`,
 * each read process's holdsRun and holdsAt,
 * `fdUnreadable`.
 */
import { readFdHolds, readThreadHolds } from '../../holders/process-holds.js';
import type { TaskHold } from '../../holders/holder.js';
import { NS_TYPES } from '../../../procfs/types.js';
import type { Phase, ScanState } from '../state.js';
import { sweepOrder } from './sweep.js';

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

/**
 * A single-threaded process whose run time has not moved since its fds were read has not run:
 * its fd table is as read (only the process changes it; a table shared with another process by
 * clone(CLONE_FILES) is the exception, hence a read at least this many rescan periods apart).
 */
export const HOLDS_TRUST_ROUNDS = 10;

/** Reads one process's threads and fds (unless it cannot have changed them) and records what changed. */
export function* readHolds(s: ScanState, pid: number, now: number): Generator<void, void> {
  const p = s.procs.get(pid);
  const h = s.holds;
  if (p === undefined) return;
  const threads = s.reader.threadCount(pid);
  if (threads <= 1) {
    const run = s.reader.readRunTime(pid);
    if (run !== null && run === p.holdsRun && now - p.holdsAt < s.fullRescanMs * HOLDS_TRUST_ROUNDS) return;
    // Taken before the fds: a change after it moves the figure, and the next read sees it.
    p.holdsRun = run ?? -1;
  } else p.holdsRun = -1;
  p.holdsAt = now;
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
    if (t.first) {
      for (const pid of s.procs.keys()) yield* readHolds(s, pid, t.now);
      h.lastAt = t.now;
      return;
    }
    for (const pid of s.young) {
      if (s.procs.get(pid)?.bornTick === s.tickNo) yield* readHolds(s, pid, t.now);
    }
    const order = sweepOrder(s);
    const elapsed = h.lastAt === 0 ? 0 : t.now - h.lastAt;
    const quota = Math.min(order.length, Math.ceil((order.length * elapsed) / s.fullRescanMs));
    for (let i = 0; i < quota; i++) {
      if (h.cursor >= order.length) h.cursor = 0;
      yield* readHolds(s, order[h.cursor++] as number, t.now);
    }
    h.lastAt = t.now;
  },
};
