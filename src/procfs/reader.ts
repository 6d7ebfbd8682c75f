/**
 * The one place that reads a procfs tree, through the I/O strategy it is built with (io.ts).
 * Works on the live /proc or on a captured fixture directory with the same layout. Synchronous on
 * purpose: sync fs calls walk /proc several times faster than fs.promises (see
 * native-notes/procfs.md); callers that must not block run it on a worker thread.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cmdlineToCommand, parseNsLink, parsePidName, parseStat, parseStatusEuid, type StatFields } from './parse.js';
import { NS_TYPES, type FdNsLink, type NsLink, type NsType, type ProcDetails } from './types.js';
import { parseForks, parseKernelNumber, parseLoadavgTasks, type PidAllocState } from './pid-alloc.js';
import { classify, errCode, type IssueSink, type ProcIo, type ReadIssue, type ReadProblem } from './io.js';
import { FS_IO } from './fs-io.js';
import { procIo } from './native-io.js';

export { readCapped, readCappedInto } from './fs-io.js';
export type { IssueSink, ProcIo, ReadIssue, ReadProblem } from './io.js';

/** procfs's f_type (linux/magic.h). */
const PROC_SUPER_MAGIC = 0x9fa0;
/** lsns shows at most 8191 bytes of a command line (black-box verified); reading more is waste. */
export const CMDLINE_READ_LIMIT = 8191;
/** stat and status are small; cap reads so a garbage fixture file cannot make us slurp gigabytes. */
const SMALL_FILE_LIMIT = 16384;
/** Hosts with many containers have long mount tables; 64 MiB is far beyond any real one. */
const MOUNTINFO_LIMIT = 64 * 1024 * 1024;
/** A cgroup file has one line per hierarchy; 64 KiB is far beyond any real one. */
const CGROUP_LIMIT = 64 * 1024;
/** /proc/stat has a line per CPU and an `intr` line with a count per IRQ: 1 MiB covers big hosts. */
const STAT_LIMIT = 1024 * 1024;
/** `<pid>/schedstat` is three numbers on one line. */
const RUN_LIMIT = 96;

/**
 * The pids under a procfs root, ascending. Fails only when the root itself cannot be listed: that
 * is the caller's error, not a scan hiccup. Also usable before a reader is built (to choose its I/O).
 */
export function listPids(root: string, onIssue: IssueSink, io: ProcIo = FS_IO): number[] {
  const pids: number[] = [];
  for (const name of io.listDir(root)) {
    const pid = parsePidName(name);
    if (pid !== null) pids.push(pid);
    // All digits but not a pid (`007`, beyond pid_t): procfs never makes such names.
    else if (name.charCodeAt(0) >= 0x30 && name.charCodeAt(0) <= 0x39) onIssue({ pid: null, file: name, problem: 'garbage' });
  }
  return pids.sort((a, b) => a - b);
}

export interface ProcReaderOptions {
  /** Where uids come from. `auto`: the directory owner on a real procfs (what lsns shows),
   * the effective uid in `status` elsewhere (fixture files have no meaningful owner). */
  uidSource?: 'auto' | 'owner' | 'status';
  onIssue?: IssueSink;
  /**
   * How this reader reads, chosen once here for all of its methods: true (default) reads ns links
   * and single-record files through koffi where it loads (native-io.ts; loading it costs ~25 ms of
   * CPU, more than it saves on a scan of few processes), false plain fs.
   */
  nativeLinks?: boolean;
}

export class ProcReader {
  readonly root: string;
  readonly uidFromOwner: boolean;
  /** The root is a mounted procfs (statfs), not a fixture directory. */
  readonly procfs: boolean;
  /** The I/O of every method, fixed at construction. */
  readonly io: ProcIo;
  private readonly onIssue: IssueSink;
  /** Reused by readCgroup (one read per process per refresh; the text is copied out as a string). */
  private cgroupBuf: Buffer | null = null;
  /** Reused by readDetails for stat, status and cmdline (each copied out as a string at once). */
  private detailsBuf: Buffer | null = null;
  /** Reused by readPidAlloc. */
  private statBuf: Buffer | null = null;
  /** Reused by readRunTime. */
  private runBuf: Buffer | null = null;
  /** readNsLinks' inode row. */
  private readonly inoScratch = new Float64Array(NS_TYPES.length);

  constructor(root = '/proc', opts: ProcReaderOptions = {}) {
    this.root = root;
    this.onIssue = opts.onIssue ?? (() => {});
    const source = opts.uidSource ?? 'auto';
    this.procfs = ProcReader.isProcfs(root);
    this.uidFromOwner = source === 'owner' || (source === 'auto' && this.procfs);
    this.io = procIo(opts.nativeLinks ?? true);
  }

  static isProcfs(dir: string): boolean {
    try {
      return fs.statfsSync(dir).type === PROC_SUPER_MAGIC;
    } catch {
      return false;
    }
  }

  private report(pid: number | null, file: string, err: unknown): void {
    const code = errCode(err);
    this.onIssue({ pid, file, problem: classify(code), ...(code ? { code } : {}) });
  }

  /** Fails only when the root itself cannot be listed: that is the caller's error, not a scan hiccup. */
  listPids(): number[] {
    return listPids(this.root, this.onIssue, this.io);
  }

  /** Whether `<root>/<pid>` exists (a zombie does, a reaped process does not). */
  exists(pid: number): boolean {
    return this.io.exists(`${this.root}/${pid}`);
  }

  /** Passes an issue found outside this reader (a link-table worker's) to this reader's sink. */
  emitIssue(issue: ReadIssue): void {
    this.onIssue(issue);
  }

  /** The namespaces of one process; links that cannot be read are skipped (as lsns does). */
  readNsLinks(pid: number, types: readonly NsType[] = NS_TYPES): NsLink[] {
    const inos = this.inoScratch.length >= types.length ? this.inoScratch : new Float64Array(types.length);
    this.readNsInos(pid, types, inos);
    const links: NsLink[] = [];
    for (let k = 0; k < types.length; k++) {
      const ino = inos[k] as number;
      if (ino > 0) links.push({ type: types[k] as NsType, ino });
    }
    return links;
  }

  /**
   * The inode of each types[k] link into out[off + k] (0 where it cannot be read; the issue goes
   * to `sink`), allocating nothing on a mounted procfs with koffi: the daemon compares these with
   * what it knew and builds link objects only for a process whose namespaces changed; `list` fills
   * its link table with them. false: no link was read (the process is gone, or <pid>/ns could not
   * be opened).
   */
  readNsInos(pid: number, types: readonly NsType[], out: Float64Array, off = 0, sink: IssueSink = this.onIssue): boolean {
    return this.io.readNsInos(this.root, pid, types, out, off, sink);
  }

  /**
   * How many threads a process has: `<pid>/task`'s link count minus 2 (procfs counts one per
   * thread; a captured tree has one directory per thread). 1 when it cannot be read (gone, or a
   * tree that did not record tasks): the process is then looked at as single-threaded.
   */
  threadCount(pid: number): number {
    const n = this.io.linkCount(`${this.root}/${pid}/task`);
    return n > 2 ? n - 2 : 1;
  }

  /** The thread ids of a process (its own pid among them), ascending; [] when gone or unreadable. */
  listTids(pid: number): number[] {
    let names: string[];
    try {
      names = this.io.listDir(`${this.root}/${pid}/task`);
    } catch (err) {
      this.report(pid, 'task', err);
      return [];
    }
    const tids: number[] = [];
    for (const name of names) {
      const tid = parsePidName(name);
      if (tid !== null) tids.push(tid);
    }
    return tids.sort((a, b) => a - b);
  }

  /** The inode of the reader's own namespace of `type` (`<root>/self/ns/<type>`), 0 when it cannot be read. */
  readOwnNsIno(type: NsType): number {
    try {
      return parseNsLink(fs.readlinkSync(`${this.root}/self/ns/${type}`), type)?.ino ?? 0;
    } catch {
      return 0;
    }
  }

  /**
   * How long the process's main thread has run, in ns (`<pid>/schedstat`'s first field), or null
   * when unknown (gone, a kernel without schedstat, or not a real procfs). A task whose figure has
   * not moved has not run since: nothing it holds can have changed (native-notes/holders.md).
   */
  readRunTime(pid: number): number | null {
    if (!this.procfs) return null;
    try {
      const buf = (this.runBuf ??= Buffer.allocUnsafe(RUN_LIMIT));
      const n = this.io.readRecord(`${this.root}/${pid}/schedstat`, buf, RUN_LIMIT, false);
      let v = 0;
      let i = 0;
      for (; i < n; i++) {
        const d = (buf[i] as number) - 0x30;
        if (d < 0 || d > 9) break;
        v = v * 10 + d;
      }
      return i > 0 && i < n && buf[i] === 0x20 ? v : null;
    } catch {
      return null;
    }
  }

  /** readNsInos for one thread: `<pid>/task/<tid>/ns/<type>`. */
  readTaskNsInos(pid: number, tid: number, types: readonly NsType[], out: Float64Array, off = 0): boolean {
    return this.io.readNsInos(`${this.root}/${pid}/task`, tid, types, out, off, this.onIssue);
  }

  /** The names in `<pid>/fd`, or why they cannot be listed (gone; other users' fds need CAP_SYS_PTRACE). */
  listFds(pid: number): string[] | ReadProblem {
    try {
      return this.io.listDir(`${this.root}/${pid}/fd`);
    } catch (err) {
      this.report(pid, 'fd', err);
      return classify(errCode(err));
    }
  }

  /** The fds among names[from, to) of `<pid>/fd` whose links name a namespace, pushed to `found` (ProcIo.readNsFdLinks). */
  readNsFdLinks(pid: number, names: readonly string[], from: number, to: number, found: FdNsLink[]): boolean {
    return this.io.readNsFdLinks(`${this.root}/${pid}/fd`, pid, names, from, to, found, this.onIssue);
  }

  /** A process's stat fields (ppid, comm, start time), or null when it vanished or its stat is garbage. */
  readStat(pid: number): StatFields | null {
    let statText: string;
    try {
      const buf = this.details();
      statText = buf.toString('latin1', 0, this.io.readRecord(`${this.root}/${pid}/stat`, buf, SMALL_FILE_LIMIT, !this.procfs));
    } catch (err) {
      this.report(pid, 'stat', err);
      return null;
    }
    const stat = parseStat(statText);
    if (!stat) this.onIssue({ pid, file: 'stat', problem: 'garbage' });
    return stat;
  }

  /**
   * ppid, uid, comm and command line of a process, or null when it vanished or its stat is garbage.
   * `stat`: its stat fields when the caller has just read them (readStat), so they are not read twice.
   */
  readDetails(pid: number, stat: StatFields | null = this.readStat(pid)): ProcDetails | null {
    if (!stat) return null;
    const dir = `${this.root}/${pid}`;
    const uid = this.readUid(pid, dir);
    if (uid === null) return null;
    let cmdline = '';
    try {
      cmdline = this.readText(`${dir}/cmdline`, CMDLINE_READ_LIMIT);
    } catch (err) {
      // A process whose cmdline vanished is gone; an unreadable one still has a comm. So does one
      // whose directory is still there (a capture that left this cmdline out, see capture/snapshot.ts).
      this.report(pid, 'cmdline', err);
      if (classify(errCode(err)) === 'vanished' && !this.io.exists(dir)) return null;
    }
    return { pid, ppid: stat.ppid, uid, comm: stat.comm, cmdline: cmdlineToCommand(cmdline), startTime: stat.startTime };
  }

  /** The buffer for stat, status and cmdline. */
  private details(): Buffer {
    return (this.detailsBuf ??= Buffer.allocUnsafe(Math.max(SMALL_FILE_LIMIT, CMDLINE_READ_LIMIT)));
  }

  /** readCapped(file, limit) as latin1 text, through the reused details buffer. */
  private readText(file: string, limit: number): string {
    const buf = this.details();
    return buf.toString('latin1', 0, this.io.readInto(file, buf.subarray(0, limit), !this.procfs));
  }

  private readUid(pid: number, dir: string): number | null {
    if (this.uidFromOwner) {
      try {
        return this.io.ownerUid(dir);
      } catch (err) {
        this.report(pid, '.', err);
        return null;
      }
    }
    try {
      const uid = parseStatusEuid(this.readText(`${dir}/status`, SMALL_FILE_LIMIT));
      if (uid === null) this.onIssue({ pid, file: 'status', problem: 'garbage' });
      return uid;
    } catch (err) {
      this.report(pid, 'status', err);
      return null;
    }
  }

  /**
   * `/proc/<pid>/cgroup` (capped: a real one is a dozen short lines), or null when it cannot be
   * read (the process vanished, or a captured tree lacks it). Failures are not reported as issues:
   * a missing cgroup file only means "no container known". `previous`: the text the caller read
   * last time; returned itself when the file still says exactly that.
   */
  readCgroup(pid: number, previous?: string): string | null {
    try {
      const buf = (this.cgroupBuf ??= Buffer.allocUnsafe(CGROUP_LIMIT));
      const n = this.io.readRecord(`${this.root}/${pid}/cgroup`, buf, CGROUP_LIMIT, !this.procfs);
      // Unchanged (nearly always, for the daemon's sweep): the same string back, no new one made.
      if (previous !== undefined && previous.length === n) {
        let same = true;
        for (let i = 0; i < n && same; i++) same = buf[i] === previous.charCodeAt(i);
        if (same) return previous;
      }
      return buf.toString('latin1', 0, n);
    } catch {
      return null;
    }
  }

  /**
   * The pid allocator's counters (pid-alloc.ts), or null when any is missing or garbage (a
   * fixture tree without them, a kernel without ns_last_pid): callers then assume pids may have
   * been reused. /proc/stat is read whole (its `processes` line follows one line per IRQ).
   */
  readPidAlloc(): PidAllocState | null {
    try {
      const buf = (this.statBuf ??= Buffer.allocUnsafe(STAT_LIMIT));
      const text = (file: string): string => buf.toString('latin1', 0, this.io.readInto(`${this.root}/${file}`, buf, !this.procfs));
      const lastPid = parseKernelNumber(text('sys/kernel/ns_last_pid'));
      const pidMax = parseKernelNumber(text('sys/kernel/pid_max'));
      const tasks = parseLoadavgTasks(text('loadavg'));
      const forks = parseForks(text('stat'));
      if (lastPid === null || pidMax === null || tasks === null || forks === null) return null;
      return { lastPid, pidMax, forks, tasks };
    } catch {
      return null;
    }
  }

  /** mountinfo of a process (or `self`, the reader's own mount namespace); null when unreadable. */
  readMountinfo(pid: number | 'self'): string | null {
    try {
      return this.io.readCapped(`${this.root}/${pid}/mountinfo`, MOUNTINFO_LIMIT).toString('latin1');
    } catch (err) {
      this.report(pid === 'self' ? null : pid, 'mountinfo', err);
      return null;
    }
  }

  /** A file under the root, for the passwd lookup (`<root>/1/root/etc/passwd`). */
  resolve(...parts: string[]): string {
    return path.join(this.root, ...parts);
  }
}
