/**
 * Exits of known processes without listing /proc: one pidfd per process (pidfd_open, Linux 5.3+),
 * all in one epoll set; a pidfd becomes readable when its process exits, so each tick asks epoll
 * (timeout 0) which of them did. Listing /proc costs the kernel ~2 µs per process every time; this
 * costs nothing while nothing exits. A pidfd also pins the process's identity: while its fd has not
 * reported an exit, the pid still names the same process (no reuse). pidfd_open also tells a
 * thread-group leader (a process) from another thread (EINVAL). See native-notes/pidfd-epoll.md.
 */
import { EPOLL_CTL_ADD, EPOLL_CTL_DEL, EPOLL_EVENT_SIZE, EPOLLIN, sysClose, sysEpollCreate, sysEpollCtl, sysEpollWait, sysPidfdOpen, type NativeErr } from './libc.js';

export type WatchResult = 'watching' | 'no-process' | 'thread' | NativeErr;

export class PidWatcher {
  private readonly fds = new Map<number, number>();
  private readonly events = Buffer.alloc(256 * EPOLL_EVENT_SIZE);

  private constructor(private readonly epfd: number) {}

  /** A watcher, or why there can be none (no koffi, no pidfd_open, no epoll). */
  static create(): PidWatcher | NativeErr {
    const ep = sysEpollCreate();
    if (!ep.ok) return ep;
    const w = new PidWatcher(ep.value);
    // Probe pidfd_open on ourselves: ENOSYS (old kernel, seccomp) must be known before relying on it.
    const probe = sysPidfdOpen(process.pid);
    if (!probe.ok) {
      sysClose(ep.value);
      return probe;
    }
    sysClose(probe.value);
    return w;
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
    const fd = sysPidfdOpen(pid);
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
