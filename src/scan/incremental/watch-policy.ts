/**
 * How exits are found: pidfds (native/pid-watch.ts) when pidfd_open and epoll work on a real
 * procfs, else by listing /proc every tick. Processes beyond the fd limit have no pidfd: they are
 * looked for one by one (`unwatched`) until a pidfd is free for them. A pidfd or epoll failure
 * other than the fd limit turns the watcher off for good (listing from the next tick on).
 */
import { PidWatcher } from '../../native/pid-watch.js';
import type { ProcReader } from '../../procfs/reader.js';
import { dropProcess, readProcess } from './process-index.js';
import type { ScanState, TickStats } from './state.js';

export interface WatchState {
  watcher: PidWatcher | null;
  /** Why exits are found by listing /proc rather than by pidfds (null: pidfds in use). */
  noWatcher: string | null;
  /** Known processes without a pidfd (RLIMIT_NOFILE reached): looked for one by one each tick. */
  readonly unwatched: Set<number>;
}

/** `given`: the options' watcher (undefined: one is made when the root is a real procfs). */
export function createWatchState(reader: ProcReader, given: PidWatcher | null | undefined): WatchState {
  const unwatched = new Set<number>();
  if (given !== undefined) return { watcher: given, noWatcher: given === null ? 'pidfd watcher off' : null, unwatched };
  if (!reader.procfs) return { watcher: null, noWatcher: 'not a procfs root', unwatched };
  const w = PidWatcher.create();
  if (w instanceof PidWatcher) return { watcher: w, noWatcher: null, unwatched };
  return { watcher: null, noWatcher: `pidfd_open/epoll unavailable (${w.code}: ${w.reason})`, unwatched };
}

/** Exits from now on by listing /proc. */
export function disableWatcher(watch: WatchState, why: string): void {
  watch.unwatched.clear();
  watch.watcher?.close();
  watch.watcher = null;
  watch.noWatcher = why;
}

/** Processes whose pidfds the watcher gave back to free fds: looked for one by one from now on. */
export function takeShed(watch: WatchState, w: PidWatcher): void {
  for (const p of w.takeShed()) watch.unwatched.add(p);
}

/**
 * A pid that may be a process not seen before: watched first (so an exit right after the read is
 * still reported), then read. Threads that are not group leaders are not processes (lsns and
 * /proc's listing skip them too). Only with a watcher.
 */
export function admit(s: ScanState, pid: number, now: number, stats: TickStats): void {
  const watch = s.watch;
  const w = watch.watcher;
  if (!w) return;
  const known = s.procs.has(pid);
  const r = w.watch(pid);
  if (r === 'no-process' || r === 'thread') {
    if (known) {
      dropProcess(s, pid);
      stats.gone++;
    }
    return;
  }
  if (r === 'full') {
    // No pidfd to spare: its exit is found by looking for it each tick (polled-exits phase).
    watch.unwatched.add(pid);
    takeShed(watch, w);
  } else if (r !== 'watching') {
    // pidfd_open or epoll failing otherwise: list /proc from the next tick on (exits of the
    // processes watched so far are then found by the listing).
    disableWatcher(watch, `pidfd_open failed (${r.code}); listing /proc every tick`);
  } else {
    watch.unwatched.delete(pid);
  }
  s.zombies.delete(pid);
  readProcess(s, pid, now, known ? 'reused' : 'new');
  stats.read++;
}
