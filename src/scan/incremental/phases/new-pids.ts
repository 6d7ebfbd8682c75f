/**
 * Phase 3, new pids. Runs every tick after the exits.
 *
 * When probing (exits phase): every process created since the last tick has a pid in the
 * allocator's window (from, to], so just those are admitted (watched, then read); a watched pid
 * there is still its old process (its pidfd reported no exit). When /proc was listed: each listed
 * pid that may be a process not seen before is admitted (with a watcher) or read (without): a
 * pid not known, a known one inside the window, and, when a wrap cannot be ruled out, every one
 * not watched (with pidfds) or every one (without).
 *
 * Changes: procs (reads, drops of pids found gone or to be threads), `zombies`, the watcher and
 * `unwatched`; stats.read and stats.gone.
 */
import { readProcess } from '../process-index.js';
import type { Phase, ScanState, TickContext } from '../state.js';
import { admit } from '../watch-policy.js';

function* probeWindow(s: ScanState, t: TickContext): Generator<void, void> {
  if (!t.verdict.safe) return;
  for (let pid = t.verdict.from + 1; pid <= t.verdict.to; pid++) {
    if (s.watch.watcher?.has(pid)) continue;
    admit(s, pid, t.now, t.stats);
    yield;
  }
}

function* readListed(s: ScanState, t: TickContext, listed: readonly number[]): Generator<void, void> {
  const { verdict, first, stats } = t;
  const inWindow = (pid: number): boolean => verdict.safe && pid > verdict.from && pid <= verdict.to;
  for (const pid of listed) {
    const known = s.procs.has(pid);
    const w = s.watch.watcher;
    if (w) {
      // A watched pid is still its process; so is an unwatched one outside the reuse range when
      // the allocator did not wrap; anything else is new (or a zombie's number reused).
      if (known && w.has(pid)) continue;
      if (known && !first && verdict.safe && s.watch.unwatched.has(pid) && !inWindow(pid)) continue;
      admit(s, pid, t.now, stats);
    } else {
      const reused = known && (first || !verdict.safe || inWindow(pid));
      if (known && !reused) continue;
      readProcess(s, pid, t.now, !known ? 'new' : !verdict.safe ? 'recheck' : 'reused');
      stats.read++;
    }
    yield;
  }
}

export const newPids: Phase = {
  name: 'new-pids',
  *run(s, t) {
    if (t.probe) yield* probeWindow(s, t);
    else if (t.listed !== null) yield* readListed(s, t, t.listed);
  },
};
