/**
 * The incremental tick: the discovery phases in the order they must run, each filling in the one
 * ScanState (state.ts) and the tick's context. The order matters: exits before new pids (a pid
 * whose exit was reported may be handed out again), the window probed before the unwatched pids
 * get pidfds (a reused one must be read, not taken for the old process), every process's links
 * before the representatives, the representatives before the rows.
 */
import { allocWindow } from './phases/alloc-window.js';
import { exits } from './phases/exits.js';
import { holders } from './phases/holders.js';
import { newPids } from './phases/new-pids.js';
import { polledExits } from './phases/polled-exits.js';
import { rebuild } from './phases/rebuild.js';
import { representatives } from './phases/representatives.js';
import { sweep } from './phases/sweep.js';
import { young } from './phases/young.js';
import type { Phase, ScanState, TickContext, TickStats } from './state.js';

export const PHASES: readonly Phase[] = [allocWindow, exits, newPids, polledExits, young, sweep, holders, representatives, rebuild];

/** Starts a tick: its number, its time, and no exits yet. */
export function beginTick(s: ScanState, now = performance.now()): TickContext {
  s.tickNo++;
  s.exitedNow.clear();
  const first = s.tickNo === 1;
  const stats: TickStats = { full: first, listedProc: false, listed: 0, read: 0, swept: 0, gone: 0, reps: 0, changed: false };
  return { now, first, verdict: { safe: false, why: 'pid allocator not read yet' }, probeable: false, probe: false, listed: null, detailsChanged: false, stats };
}

/** One tick through every phase; yields between small units of work. */
export function* runPhases(s: ScanState, phases: readonly Phase[] = PHASES): Generator<void, TickStats> {
  const t = beginTick(s);
  for (const phase of phases) yield* phase.run(s, t);
  return t.stats;
}
