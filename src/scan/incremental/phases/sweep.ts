/**
 * Phase 6, the sweep. Runs every tick after the young re-reads, except in a full one: a slice of
 * the known processes in pid order, sized so that the whole set is covered within fullRescanMs
 * (a process may setns/unshare at any time without anything else showing it), plus any process
 * not verified for that long (a tick that came late, a set that grew).
 *
 * Changes: procs (re-reads), the sweep's order, cursor and time; stats.swept, stats.read.
 */
import { readProcess } from '../process-index.js';
import type { Phase, ScanState } from '../state.js';

/** The known pids, ascending, rebuilt when a process came or went (the sweep's and the holders' order). */
export function sweepOrder(s: ScanState): readonly number[] {
  const sw = s.sweep;
  if (sw.dirty) {
    sw.order = [...s.procs.keys()].sort((a, b) => a - b);
    sw.dirty = false;
  }
  return sw.order;
}

export const sweep: Phase = {
  name: 'sweep',
  *run(s, t) {
    const { now, stats } = t;
    const sw = s.sweep;
    if (!stats.full) {
      const order = sweepOrder(s);
      const elapsed = sw.lastAt === 0 ? 0 : now - sw.lastAt;
      const quota = Math.min(order.length, Math.ceil((order.length * elapsed) / s.fullRescanMs));
      for (let i = 0; i < quota && order.length > 0; i++) {
        if (sw.cursor >= order.length) sw.cursor = 0;
        const pid = order[sw.cursor++] as number;
        const p = s.procs.get(pid);
        if (!p || p.verifiedAt === now) continue;
        readProcess(s, pid, now, 'verify');
        stats.swept++;
        yield;
      }
      // By index over the pid list (iterating the Map would allocate an entry per process per tick).
      for (let i = 0; i < order.length; i++) {
        const pid = order[i] as number;
        const p = s.procs.get(pid);
        if (i % 1024 === 1023) yield;
        if (p === undefined || now - p.verifiedAt < s.fullRescanMs) continue;
        readProcess(s, pid, now, 'verify');
        stats.swept++;
        yield;
      }
    }
    sw.lastAt = now;
    stats.read += stats.swept;
  },
};
