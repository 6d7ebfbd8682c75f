/**
 * Phase 2, exits. Runs every tick after the allocator window.
 *
 * Reads the pidfd watcher's exit reports: a reported pid no longer listed is dropped; one still
 * listed is a zombie (in its pid and user namespaces only), read again and checked each tick
 * until reaped. Then decides how new pids are found this tick (`probe`: the window is probeable
 * and the watcher still works), and when it is not probing lists /proc: every known pid not
 * listed is dropped. Without pidfds a possible wrap means any known pid may now be another
 * process: `stats.full`, every listed pid is read (new-pids phase).
 *
 * Changes: procs (drops, zombie re-reads), `zombies`, `exitedNow`, the watcher (off when
 * epoll_wait fails); the tick's `probe`, `listed` and stats.
 */
import { dropProcess, readProcess } from '../process-index.js';
import type { Phase } from '../state.js';
import { disableWatcher } from '../watch-policy.js';

export const exits: Phase = {
  name: 'exits',
  *run(s, t) {
    const { stats, verdict } = t;
    const w = s.watch.watcher;
    if (w) {
      const exited = w.exited();
      if (Array.isArray(exited)) {
        for (const pid of exited) {
          w.unwatch(pid);
          if (!s.reader.exists(pid)) {
            dropProcess(s, pid);
            stats.gone++;
          } else {
            s.exitedNow.add(pid);
            readProcess(s, pid, t.now, 'verify');
            s.zombies.add(pid);
          }
        }
      } else {
        disableWatcher(s.watch, `epoll_wait failed (${exited.code})`);
      }
    }
    yield;

    t.probe = s.watch.watcher !== null && t.probeable;
    if (t.probe) return;
    stats.listedProc = true;
    if (!t.first && !verdict.safe) stats.why = verdict.why;
    if (!t.first && !verdict.safe && !s.watch.watcher) stats.full = true;
    const listed = s.reader.listPids();
    t.listed = listed;
    stats.listed = listed.length;
    yield;
    const listedSet = new Set(listed);
    for (const pid of [...s.procs.keys()]) {
      if (!listedSet.has(pid)) {
        dropProcess(s, pid);
        stats.gone++;
      }
    }
    yield;
  },
};
