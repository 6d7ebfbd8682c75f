/**
 * The daemon's scanner: the same rows as scanNamespaces (namespaces.ts), kept up to date by cheap
 * incremental ticks instead of a full walk each refresh. A tick runs the discovery phases of
 * incremental/phases/ in order (incremental/driver.ts) over one ScanState (incremental/state.ts):
 *
 * 1. alloc-window: the pid allocator's counters (procfs/pid-alloc.ts): which pids may have been
 *    handed out again since the last tick;
 * 2. exits: pidfd exit reports, or, when not probing, a listing of /proc (gone pids dropped);
 * 3. new-pids: the ns links (and cgroup) of processes not seen yet, and of every pid that may have
 *    been reused: those in the allocator's window, or all of them when a wrap cannot be ruled out;
 * 4. polled-exits: processes without a pidfd, and zombies, looked for one by one;
 * 5. young: processes read again for a few ticks while young (runtimes setns/unshare right after
 *    fork);
 * 6. sweep: a slice of the others, so that every process is re-verified within `fullRescanMs` (a
 *    process may setns/unshare at any time without anything else showing it);
 * 7. holders: the threads and fds of new processes and of those the sweep read in full or that
 *    have more than one thread (what holds a namespace no process is in);
 * 8. representatives: the details (stat, owner, command line) of each namespace's lowest pid when
 *    it becomes the representative, when its parent exits (reparenting: the only way its ppid
 *    changes), when it exits, and at least every detailsMaxAgeMs;
 * 9. rebuild: the rows, when something they show may have changed.
 *
 * So between sweeps two things can be stale: the namespaces of a process older than the young
 * window that called setns/unshare (or turned zombie) since it was last verified, at most
 * `fullRescanMs` (and its cgroup, i.e. its container, the same); and a representative's USER and
 * COMMAND after a setuid, an exec or an argv rewrite, at most detailsMaxAgeMs (and, without
 * pidfds, its PPID when its parent turned zombie but is not reaped yet, the same). Rows
 * otherwise equal a full scan.
 *
 * tick() is a generator: it yields between small units of work, so the daemon can spread a tick
 * over many short slices of its event loop and never keep a /report request waiting.
 */
import type { UserNames } from '../procfs/passwd.js';
import type { ProcReader } from '../procfs/reader.js';
import type { NamespaceRow } from './namespaces.js';
import type { TaskHold } from './holders/holder.js';
import { runPhases } from './incremental/driver.js';
import { createScanState, type IncrementalOptions, type ScanState, type TickStats } from './incremental/state.js';
import { summarise, type ProcessSummary } from './incremental/summary.js';
import { createWatchState } from './incremental/watch-policy.js';

export { DETAILS_MAX_AGE_MS, type IncrementalOptions, type TickStats } from './incremental/state.js';
export type { ProcessSummary } from './incremental/summary.js';

export class IncrementalScanner {
  private readonly state: ScanState;

  constructor(reader: ProcReader, users: UserNames, opts: IncrementalOptions) {
    this.state = createScanState(reader, users, opts, createWatchState(reader, opts.watcher));
  }

  /** null when exits come from pidfds; else why /proc is listed every tick. */
  get listingReason(): string | null {
    return this.state.watch.noWatcher;
  }

  /** Known processes whose exits are looked for one by one (no pidfd to spare for them). */
  get unwatchedCount(): number {
    return this.state.watch.unwatched.size;
  }

  /** RLIMIT_NOFILE raises made for pidfds (`20000 -> 65536`) and failed attempts, oldest first. */
  get fdLimitNotes(): readonly string[] {
    return this.state.watch.watcher?.fdLimitNotes ?? [];
  }

  /** Releases the pidfds. */
  close(): void {
    this.state.watch.watcher?.close();
    this.state.watch.watcher = null;
  }

  /** Names for USER from now on (the daemon reloads passwd now and then). */
  setUsers(users: UserNames): void {
    this.state.users = users;
    this.state.usersChanged = true;
  }

  /** Rows of the last tick: process-backed namespaces, sorted by inode, like scanNamespaces. */
  get rows(): readonly NamespaceRow[] {
    return this.state.rows;
  }

  /** Whether some process is in namespace `ino`. */
  hasProcesses(ino: number): boolean {
    return (this.state.members.byNs.get(ino)?.count ?? 0) > 0;
  }

  /** The thread and fd holds on namespaces no process is in (holders phase), in no order. */
  heldHolds(): TaskHold[] {
    const out: TaskHold[] = [];
    for (const list of this.state.holds.byPid.values()) for (const h of list) if (!this.hasProcesses(h.ino)) out.push(h);
    return out;
  }

  /** Processes whose fd table could not be read at their last read (another uid's, without CAP_DAC_READ_SEARCH). */
  get fdUnreadable(): number {
    return this.state.holds.fdUnreadable.size;
  }

  /** What the report needs from the processes (incremental/summary.ts). */
  summary(all: boolean): ProcessSummary {
    return summarise(this.state.procs, all);
  }

  /**
   * One incremental tick (see the module comment). Yields between units of work; the return value
   * says what it did. Throws only when the procfs root itself cannot be listed.
   */
  tick(): Generator<void, TickStats> {
    return runPhases(this.state);
  }
}
