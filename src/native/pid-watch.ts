/**
 * Exits of known processes without listing /proc: one pidfd per process (pidfd_open, Linux 5.3+),
 * all in one epoll set; a pidfd becomes readable when its process exits, so each tick asks epoll
 * (timeout 0) which of them did. Listing /proc costs the kernel ~2 µs per process every time; this
 * costs nothing while nothing exits. A pidfd also pins the process's identity: while its fd has not
 * reported an exit, the pid still names the same process (no reuse). pidfd_open also tells a
 * thread-group leader (a process) from another thread (EINVAL). See native-notes/pidfd-epoll.md.
 */
import { sysClose } from './fd.js';
import { nrOpen, raiseFdLimit, RLIMIT_NOFILE, sysGetRlimit } from './fd-limit.js';
import { callInt } from './loader.js';
import type { LibcPrototypes } from './prototypes.js';
import { ok, type NativeErr, type NativeResult } from './result.js';

const WATCH_CALLS = {
  // syscall(2) is variadic; two long arguments are passed in the same registers on x86_64 and arm64.
  syscall: 'long syscall(long number, long a1, long a2)',
  epoll_create1: 'int epoll_create1(int flags)',
  epoll_ctl: 'int epoll_ctl(int epfd, int op, int fd, void *event)',
  epoll_wait: 'int epoll_wait(int epfd, void *events, int maxevents, int timeout)',
} as const satisfies LibcPrototypes;

/** pidfd_open(2) has number 434 on every Linux architecture (new syscalls share one table). */
const SYS_PIDFD_OPEN = 434;

/**
 * pidfd_open(pid, 0): an fd that becomes readable when the process exits. EINVAL for a pid that
 * is a thread but not a thread-group leader, ESRCH for no such process, ENOSYS before Linux 5.3
 * (or under a seccomp profile that denies it), EMFILE when out of fds.
 */
export function sysPidfdOpen(pid: number): NativeResult<number> {
  return callInt(WATCH_CALLS.syscall, [SYS_PIDFD_OPEN, pid, 0], `pidfd_open ${pid}`);
}

const EPOLL_CLOEXEC = 0o2000000;
const EPOLL_CTL_ADD = 1;
const EPOLL_CTL_DEL = 2;
const EPOLLIN = 0x001;
/** struct epoll_event is packed on x86_64 (12 bytes: u32 events, u64 data), naturally aligned elsewhere (16). */
const EPOLL_EVENT_SIZE = process.arch === 'x64' ? 12 : 16;
const EPOLL_DATA_OFFSET = process.arch === 'x64' ? 4 : 8;

function sysEpollCreate(): NativeResult<number> {
  return callInt(WATCH_CALLS.epoll_create1, [EPOLL_CLOEXEC]);
}

/** epoll_ctl(epfd, op, fd, {events, data.u64 = data}). */
function sysEpollCtl(epfd: number, op: number, fd: number, events: number, data: number): NativeResult<void> {
  const ev = Buffer.alloc(EPOLL_EVENT_SIZE);
  ev.writeUInt32LE(events, 0);
  ev.writeBigUInt64LE(BigInt(data), EPOLL_DATA_OFFSET);
  const r = callInt(WATCH_CALLS.epoll_ctl, [epfd, op, fd, ev]);
  return r.ok ? ok(undefined) : r;
}

/** epoll_wait(epfd, buf, buf.length / EPOLL_EVENT_SIZE, timeoutMs): the data of each ready fd. */
function sysEpollWait(epfd: number, buf: Buffer, timeoutMs: number): NativeResult<number[]> {
  const max = Math.floor(buf.length / EPOLL_EVENT_SIZE);
  const r = callInt(WATCH_CALLS.epoll_wait, [epfd, buf, max, timeoutMs]);
  if (!r.ok) return r;
  const out: number[] = [];
  for (let i = 0; i < r.value; i++) out.push(Number(buf.readBigUInt64LE(i * EPOLL_EVENT_SIZE + EPOLL_DATA_OFFSET)));
  return ok(out);
}

/** `full`: no pidfd left to spare (RLIMIT_NOFILE less a reserve for sockets and files). */
export type WatchResult = 'watching' | 'no-process' | 'thread' | 'full' | NativeErr;

/** Fds never used for pidfds: the HTTP server's connections, file reads, workers, libraries. */
export const FD_RESERVE = 512;

export class PidWatcher {
  private readonly fds = new Map<number, number>();
  private readonly events = Buffer.alloc(256 * EPOLL_EVENT_SIZE);
  /** RLIMIT_NOFILE raises so far (`20000 -> 65536`), or why the last one failed. */
  private readonly limitNotes: string[] = [];

  private readonly nrOpen = nrOpen();
  /** How many pidfds may be open; lowered when an fd could not be had below it. */
  private capacity: number;
  private raiseFailed = false;
  /** Pids whose pidfds were closed to free fds, not yet taken by the caller. */
  private shedPids: number[] = [];

  private constructor(private readonly epfd: number) {
    const limit = sysGetRlimit(RLIMIT_NOFILE);
    // Unreadable: assume the common default soft limit.
    this.capacity = PidWatcher.capacityFor(limit.ok ? limit.value.soft : 1024);
  }

  private static capacityFor(softLimit: number): number {
    return Math.max(0, softLimit - FD_RESERVE);
  }

  /** A watcher, or why there can be none (no koffi, no pidfd_open, no epoll); `maxWatched` caps the pidfds below what RLIMIT_NOFILE allows. */
  static create(opts: { maxWatched?: number } = {}): PidWatcher | NativeErr {
    const ep = sysEpollCreate();
    if (!ep.ok) return ep;
    const w = new PidWatcher(ep.value);
    if (opts.maxWatched !== undefined) {
      // A fixed ceiling (tests): the fd limit is neither consulted beyond it nor raised.
      w.capacity = Math.min(w.capacity, opts.maxWatched);
      w.raiseFailed = true;
    }
    // Probe pidfd_open on ourselves: ENOSYS (old kernel, seccomp) must be known before relying on it.
    const probe = sysPidfdOpen(process.pid);
    if (!probe.ok) {
      sysClose(ep.value);
      return probe;
    }
    sysClose(probe.value);
    return w;
  }

  /** What happened to RLIMIT_NOFILE when pidfds ran out (empty: they never did). */
  get fdLimitNotes(): readonly string[] {
    return this.limitNotes;
  }

  get size(): number {
    return this.fds.size;
  }

  has(pid: number): boolean {
    return this.fds.has(pid);
  }

  /** Starts watching `pid`: `no-process` (ESRCH, ENOENT), `thread` (EINVAL: not a thread-group leader), or an error (EMFILE...). */
  watch(pid: number): WatchResult {
    if (this.fds.has(pid)) return 'watching';
    if (this.fds.size >= this.capacity && !this.raise()) return 'full';
    const fd = sysPidfdOpen(pid);
    if (!fd.ok && (fd.code === 'EMFILE' || fd.code === 'ENFILE')) {
      // Other fds took more than the reserve (or the system ran out): give the reserve back.
      this.capacity = Math.max(0, this.fds.size - FD_RESERVE);
      const excess = [...this.fds.keys()].slice(this.capacity);
      for (const p of excess) this.unwatch(p);
      this.shedPids.push(...excess);
      return 'full';
    }
    // ENOENT: newer kernels (pidfs) answer so for a process that is being reaped.
    if (!fd.ok) return fd.code === 'ESRCH' || fd.code === 'ENOENT' ? 'no-process' : fd.code === 'EINVAL' ? 'thread' : fd;
    const add = sysEpollCtl(this.epfd, EPOLL_CTL_ADD, fd.value, EPOLLIN, pid);
    if (!add.ok) {
      sysClose(fd.value);
      return add;
    }
    this.fds.set(pid, fd.value);
    return 'watching';
  }

  /** More room: RLIMIT_NOFILE raised (once it failed, never tried again). */
  private raise(): boolean {
    if (this.raiseFailed) return false;
    const raised = raiseFdLimit(this.nrOpen);
    if (!raised.ok) {
      this.raiseFailed = true;
      this.limitNotes.push(raised.why);
      return false;
    }
    this.limitNotes.push(`${raised.from} -> ${raised.to}`);
    this.capacity = PidWatcher.capacityFor(raised.to);
    return this.fds.size < this.capacity;
  }

  /** Pids no longer watched because their pidfds were given back (once each); still alive as far as is known. */
  takeShed(): number[] {
    const out = this.shedPids;
    this.shedPids = [];
    return out;
  }

  /** Whether a watch() may find room now (a pidfd was freed, or the limit can still be raised). */
  get hasRoom(): boolean {
    return this.fds.size < this.capacity || !this.raiseFailed;
  }

  unwatch(pid: number): void {
    const fd = this.fds.get(pid);
    if (fd === undefined) return;
    sysEpollCtl(this.epfd, EPOLL_CTL_DEL, fd, 0, 0);
    sysClose(fd);
    this.fds.delete(pid);
  }

  /** Watched processes that have exited (zombies or reaped) since they were watched; they stay watched until unwatch(). */
  exited(): number[] | NativeErr {
    const out: number[] = [];
    for (;;) {
      const r = sysEpollWait(this.epfd, this.events, 0);
      if (!r.ok) return r;
      // Level-triggered: exited pidfds stay ready, so unwatch them before asking again.
      for (const pid of r.value) if (this.fds.has(pid)) out.push(pid);
      if (r.value.length * EPOLL_EVENT_SIZE < this.events.length) return out;
      for (const pid of r.value) this.unwatchKeep(pid);
    }
  }

  /** Removes from epoll (so a full batch can be drained) but remembers nothing else: the caller unwatches. */
  private unwatchKeep(pid: number): void {
    const fd = this.fds.get(pid);
    if (fd !== undefined) sysEpollCtl(this.epfd, EPOLL_CTL_DEL, fd, 0, 0);
  }

  close(): void {
    for (const fd of this.fds.values()) sysClose(fd);
    this.fds.clear();
    sysClose(this.epfd);
  }
}
