/**
 * Phase 5, young processes again. Runs every tick after the exits, except in a full one (every
 * process was just read): a process first read within the last `youngTicks` ticks is read again
 * (its runtime may unshare/setns right after the fork); older ones leave `young`.
 *
 * Changes: procs (re-reads), `young`; stats.read.
 */
import { readProcess } from '../process-index.js';
import type { Phase } from '../state.js';

export const young: Phase = {
  name: 'young',
  *run(s, t) {
    if (t.stats.full) return;
    for (const pid of [...s.young]) {
      const p = s.procs.get(pid);
      if (p === undefined || s.tickNo - p.bornTick > s.youngTicks) {
        s.young.delete(pid);
        continue;
      }
      if (p.bornTick === s.tickNo) continue;
      readProcess(s, pid, t.now, 'verify');
      t.stats.read++;
      yield;
    }
  },
};
