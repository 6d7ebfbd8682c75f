/**
 * Phase 1, the pid allocator's window. Reads the allocator's counters (procfs/pid-alloc.ts) at
 * the start of every tick, before anything else: a pid handed out after this read is then inside
 * the next tick's window (looked at once more), never outside it.
 *
 * Changes: `prevAlloc`; the tick's `verdict` (which pids may name another process than at the
 * last tick), `probeable` (the window can be probed pid by pid) and `stats.full` (first tick).
 */
import { reuseBound } from '../../../procfs/pid-alloc.js';
import type { Phase } from '../state.js';

/** A reuse window wider than this is cheaper to find by listing /proc than by probing each pid. */
export const MAX_PROBED_RANGE = 2048;

export const allocWindow: Phase = {
  name: 'alloc-window',
  // eslint-disable-next-line require-yield -- one read: nothing to slice
  *run(s, t) {
    const alloc = s.reader.readPidAlloc();
    const verdict = reuseBound(s.prevAlloc, alloc);
    s.prevAlloc = alloc;
    t.verdict = verdict;
    t.probeable = !t.first && verdict.safe && verdict.to - verdict.from <= MAX_PROBED_RANGE;
    t.stats.full = t.first;
  },
};
