/**
 * Phase 6, the sweep. Runs every tick after the young re-reads, except in a full one: a slice of
 * the known processes in pid order, sized so that the whole set is covered within fullRescanMs
 * (a process may setns/unshare at any time without anything else showing it), plus any process
 * not verified for that long (a tick that came late, a set that grew).
 *
 * A process whose main thread has not run since it was last read in full is only checked for a
 * new cgroup (verify, RUN_TRUST_ROUNDS): on a host of sleeping processes that is one small read
 * instead of eight links.
 *
 * Changes: procs (re-reads), the sweep's order, cursor and time, `holds.due` (whose threads and
 * fds the holders phase reads this tick); stats.swept, stats.read.
 */
import { readProcess, verifyCgroupOnly } from '../process-index.js';
import type { Phase, ScanState } from '../state.js';

/**
 * A process whose main thread's run time has not moved since its last full read is taken as
 * unchanged (links, threads if it had one, fds) for at most this many rescan periods; then it is
 * read in full regardless (an fd table shared by clone(CLONE_FILES) changes without it running).
 */
export const RUN_TRUST_ROUNDS = 10;

/**
 * One process re-verified: in full (links, cgroup; its threads and fds by the holders phase), or,
 * when its main thread has not run since the last full read (schedstat), only its cgroup, and its
 * threads and fds only if it had more than one thread (another thread may have run).
 */
function verify(s: ScanState, pid: number, now: number): void {
  const p = s.procs.get(pid);
  if (p === undefined) return;
  // Read before the links: a change after it moves the figure, and the next sweep sees it.
  const run = s.reader.readRunTime(pid);
  if (run !== null && run === p.run && now - p.fullAt < s.fullRescanMs * RUN_TRUST_ROUNDS) {
    verifyCgroupOnly(s, pid, now);
    if (p.threads > 1) s.holds.due.add(pid);
    return;
  }
  readProcess(s, pid, now, 'verify', run);
  s.holds.due.add(pid);
}

export const sweep: Phase = {
  name: 'sweep',
  *run(s, t) {
    const { now, stats } = t;
    const sw = s.sweep;
    if (!stats.full) {
      if (sw.dirty) {
        sw.order = [...s.procs.keys()].sort((a, b) => a - b);
        sw.dirty = false;
      }
      const elapsed = sw.lastAt === 0 ? 0 : now - sw.lastAt;
      const order = sw.order;
      const quota = Math.min(order.length, Math.ceil((order.length * elapsed) / s.fullRescanMs));
      for (let i = 0; i < quota && order.length > 0; i++) {
        if (sw.cursor >= order.length) sw.cursor = 0;
        const pid = order[sw.cursor++] as number;
        const p = s.procs.get(pid);
        if (!p || p.verifiedAt === now) continue;
        verify(s, pid, now);
        stats.swept++;
        yield;
      }
      // By index over the pid list (iterating the Map would allocate an entry per process per tick).
      for (let i = 0; i < order.length; i++) {
        const pid = order[i] as number;
        const p = s.procs.get(pid);
        if (i % 1024 === 1023) yield;
        if (p === undefined || now - p.verifiedAt < s.fullRescanMs) continue;
        verify(s, pid, now);
        stats.swept++;
        yield;
      }
    }
    sw.lastAt = now;
    stats.read += stats.swept;
  },
};
