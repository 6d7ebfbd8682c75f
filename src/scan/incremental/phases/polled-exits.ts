/**
 * Phase 4, exits looked for one by one. Runs every tick after the new pids.
 *
 * When probing (no wrap possible since the last tick, so a pid still there is still its process):
 * the processes beyond the pidfd limit (`unwatched`) that are gone are dropped, and as many as
 * there is room for are given a pidfd (watched ones exit and free theirs). A zombie among them
 * keeps its namespaces until the sweep reads it again. Then every tick: zombies until reaped (a
 * reaped zombie's reused pid was admitted by the new-pids phase as a new process); a zombie that
 * has a pidfd again is the watcher's to report.
 *
 * Changes: procs (drops), `unwatched`, the watcher, `zombies`; stats.gone.
 */
import { dropProcess } from '../process-index.js';
import type { Phase, ScanState, TickContext } from '../state.js';
import { takeShed } from '../watch-policy.js';

function* checkUnwatched(s: ScanState, t: TickContext): Generator<void, void> {
  const w = s.watch.watcher;
  const unwatched = s.watch.unwatched;
  if (!w || unwatched.size === 0) return;
  let n = 0;
  for (const pid of [...unwatched]) {
    if (++n % 256 === 0) yield;
    if (!s.reader.exists(pid)) {
      dropProcess(s, pid);
      t.stats.gone++;
      continue;
    }
    if (!w.hasRoom) continue;
    const r = w.watch(pid);
    if (r === 'watching') unwatched.delete(pid);
    else if (r === 'full') takeShed(s.watch, w);
    else if (r === 'no-process') {
      dropProcess(s, pid);
      t.stats.gone++;
    }
  }
}

function checkZombies(s: ScanState, t: TickContext): void {
  for (const pid of [...s.zombies]) {
    if (s.watch.watcher?.has(pid)) {
      s.zombies.delete(pid);
      continue;
    }
    if (!s.reader.exists(pid)) {
      dropProcess(s, pid);
      t.stats.gone++;
    }
  }
}

export const polledExits: Phase = {
  name: 'polled-exits',
  *run(s, t) {
    if (t.probe) yield* checkUnwatched(s, t);
    checkZombies(s, t);
  },
};
