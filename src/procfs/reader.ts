/**
 * The one place that touches a procfs tree. Works on the live /proc or on a captured fixture
 * directory with the same layout. Synchronous on purpose: sync fs calls walk /proc several times
 * faster than fs.promises (see native-notes/procfs.md); callers that must not block run it on a
 * worker thread.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cmdlineToCommand, parseNsLink, parsePidName, parseStat, parseStatusEuid, type StatFields } from './parse.js';
import { NS_TYPES, type NsLink, type NsType, type ProcDetails } from './types.js';
import { parseForks, parseKernelNumber, parseLoadavgTasks, type PidAllocState } from './pid-alloc.js';
import { errnoName, nativeAvailable, O_DIRECTORY, O_PATH, rawLinkCalls, type RawLinkCalls } from '../native/libc.js';

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

export type ReadProblem =
  | 'unreadable' // EACCES/EPERM: skipped the way lsns skips it
  | 'vanished' // ENOENT/ESRCH: the process (or a zombie's link) is gone
  | 'garbage' // the file exists but does not hold what the kernel writes
  | 'other';

export interface ReadIssue {
  pid: number | null;
  file: string;
  problem: ReadProblem;
  code?: string;
}

export type IssueSink = (issue: ReadIssue) => void;

function errCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err) {
    const code = err.code;
    return typeof code === 'string' ? code : undefined;
  }
  return undefined;
}

function classify(code: string | undefined): ReadProblem {
  switch (code) {
    case 'EACCES':
    case 'EPERM':
      return 'unreadable';
    case 'ENOENT':
    case 'ESRCH':
    case 'ENOTDIR':
      return 'vanished';
    case 'EINVAL': // readlink on something that is not a link
    case 'ELOOP':
    case 'EISDIR':
    case 'ENOTREG': // readCapped: a FIFO, device or socket where a file should be
      return 'garbage';
    default:
      return 'other';
  }
}

/** Opens without blocking (a FIFO planted where a file should be would block open(2) until a
 * writer comes) and only regular files: every file read here is one on procfs or a passwd file. */
const OPEN_FLAGS = fs.constants.O_RDONLY | fs.constants.O_NONBLOCK;

function errnoError(file: string, errno: number): NodeJS.ErrnoException {
  const code = errnoName(errno);
  const err: NodeJS.ErrnoException = new Error(`${code}: ${file}`);
  err.code = code;
  err.errno = errno;
  return err;
}

function notRegular(file: string): NodeJS.ErrnoException {
  const err: NodeJS.ErrnoException = new Error(`${file} is not a regular file`);
  err.code = 'ENOTREG';
  return err;
}

/** readCapped's first buffer; it grows (x8) only for files that fill it. */
const FIRST_READ = 8192;

/** Reads at most `limit` bytes of a regular file with one open/fstat/read/close. Anything else
 * (FIFO, socket, device, directory) throws with code ENOTREG before any read. The buffer starts
 * small and grows: allocating the whole cap (64 MiB for a mountinfo, 16 MiB for passwd) up front
 * made V8 run full GCs for "external memory pressure" on every small file. */
export function readCapped(file: string, limit: number): Buffer {
  const fd = fs.openSync(file, OPEN_FLAGS);
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) throw notRegular(file);
    // procfs files say size 0: start small; a real file's size is a good first guess (+1 to see EOF).
    let buf = Buffer.allocUnsafe(Math.min(limit, Math.max(FIRST_READ, st.size + 1)));
    let total = 0;
    for (;;) {
      if (total === buf.length) {
        if (total >= limit) break;
        const bigger = Buffer.allocUnsafe(Math.min(limit, buf.length * 8));
        buf.copy(bigger, 0, 0, total);
        buf = bigger;
      }
      const n = fs.readSync(fd, buf, total, buf.length - total, null);
      if (n === 0) break;
      total += n;
    }
    return buf.subarray(0, total);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * readCapped into a caller's buffer (at most buf.length bytes): the byte count. `checkRegular`
 * false skips the fstat: only for files on a real procfs, which never holds a FIFO, socket or
 * device where a per-process file should be (a fixture tree can: keep the check there).
 */
export function readCappedInto(file: string, buf: Buffer, checkRegular: boolean): number {
  const limit = buf.length;
  const fd = fs.openSync(file, OPEN_FLAGS);
  try {
    if (checkRegular && !fs.fstatSync(fd).isFile()) throw notRegular(file);
    let total = 0;
    // procfs hands out one page per read; loop until EOF or the cap.
    for (;;) {
      const n = fs.readSync(fd, buf, total, limit - total, null);
      if (n === 0) break;
      total += n;
      if (total >= limit) break;
    }
    return total;
  } finally {
    fs.closeSync(fd);
  }
}

export interface ProcReaderOptions {
  /** Where uids come from. `auto`: the directory owner on a real procfs (what lsns shows),
   * the effective uid in `status` elsewhere (fixture files have no meaningful owner). */
  uidSource?: 'auto' | 'owner' | 'status';
  onIssue?: IssueSink;
  /** Read ns links with readlinkat via koffi (default: when it loads). false forces plain fs. */
  nativeLinks?: boolean;
}

export class ProcReader {
  readonly root: string;
  readonly uidFromOwner: boolean;
  /** The root is a mounted procfs (statfs), not a fixture directory. */
  readonly procfs: boolean;
  private readonly onIssue: IssueSink;
  /** Reused by readCgroup (one read per process per refresh; the text is copied out as a string). */
  private cgroupBuf: Buffer | null = null;
  /** Reused by readDetails for stat, status and cmdline (each copied out as a string at once). */
  private detailsBuf: Buffer | null = null;
  /** Reused by readPidAlloc. */
  private statBuf: Buffer | null = null;

  /** Use readlinkat through koffi for ns links (see readNsInosAt); off when koffi is unavailable.
   * null: decided at the first link read, so a reader that reads none never loads koffi (~25 ms
   * of CPU at start-up). */
  private fastLinks: boolean | null;
  /** ns link targets are `cgroup:[4026531835]` at most; a longer one is garbage anyway. */
  private readonly linkBuf = Buffer.alloc(64);
  /** readNsLinks' inode row. */
  private readonly inoScratch = new Float64Array(NS_TYPES.length);

  constructor(root = '/proc', opts: ProcReaderOptions = {}) {
    this.root = root;
    this.onIssue = opts.onIssue ?? (() => {});
    const source = opts.uidSource ?? 'auto';
    this.procfs = ProcReader.isProcfs(root);
    this.uidFromOwner = source === 'owner' || (source === 'auto' && this.procfs);
    this.fastLinks = opts.nativeLinks ?? null;
  }

  /**
   * Read ns links with plain fs from now on, unless they already went through koffi: for a scan
   * of few processes loading koffi costs more CPU than its readlinkat saves (`list` on a small host).
   */
  usePlainLinks(): void {
    if (this.fastLinks === null) this.fastLinks = false;
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
    const pids: number[] = [];
    for (const name of fs.readdirSync(this.root)) {
      const pid = parsePidName(name);
      if (pid !== null) pids.push(pid);
      // All digits but not a pid (`007`, beyond pid_t): procfs never makes such names.
      else if (name.charCodeAt(0) >= 0x30 && name.charCodeAt(0) <= 0x39) this.onIssue({ pid: null, file: name, problem: 'garbage' });
    }
    return pids.sort((a, b) => a - b);
  }

  /** Whether `<root>/<pid>` exists (a zombie does, a reaped process does not). */
  exists(pid: number): boolean {
    return fs.existsSync(`${this.root}/${pid}`);
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
    if ((this.fastLinks ??= nativeAvailable())) {
      const raw = rawLinkCalls();
      if (raw !== null) {
        const r = this.readNsInosAt(raw, pid, types, out, off, sink);
        if (r !== null) return r;
      }
      this.fastLinks = false;
    }
    return this.readNsInodes(pid, types, out, off, sink);
  }

  /**
   * readNsLinks through plain fs (one readlink(2) per link, no koffi), without objects: the inode
   * of types[k] into out[off + k], 0 where that link could not be read (the issue goes to `sink`).
   * false when the process is gone (its row all 0). The fallback of readNsInos when koffi is
   * unavailable: each call walks the whole path and makes a string, about 1.3x koffi's cost here.
   */
  private readNsInodes(pid: number, types: readonly NsType[], out: Float64Array, off: number, sink: IssueSink): boolean {
    const dir = `${this.root}/${pid}/ns/`;
    for (let k = 0; k < types.length; k++) {
      const type = types[k] as NsType;
      out[off + k] = 0;
      let target: string;
      try {
        target = fs.readlinkSync(dir + type);
      } catch (err) {
        const code = errCode(err);
        sink({ pid, file: `ns/${type}`, problem: classify(code), ...(code ? { code } : {}) });
        // The whole process is gone: no point asking for the other links.
        if (code === 'ENOENT' && !fs.existsSync(`${this.root}/${pid}`)) {
          out.fill(0, off, off + types.length);
          return false;
        }
        continue;
      }
      const link = parseNsLink(target, type);
      if (link) out[off + k] = link.ino;
      else sink({ pid, file: `ns/${type}`, problem: 'garbage' });
    }
    return true;
  }

  /**
   * readNsInos through one O_PATH handle on <pid>/ns and readlinkat per type: the kernel resolves
   * `/proc/<pid>/ns` once instead of eight times, and failures are return codes rather than
   * thrown exceptions. This loop is the daemon's hot spot (8 links x every swept process). null:
   * the native open is unavailable here (ENOSYS/ENOTSUP), use fs.
   */
  private readNsInosAt(raw: RawLinkCalls, pid: number, types: readonly NsType[], out: Float64Array, off: number, sink: IssueSink): boolean | null {
    out.fill(0, off, off + types.length);
    const dir = raw.open(`${this.root}/${pid}/ns`, O_PATH | O_DIRECTORY);
    if (dir < 0) {
      const code = errnoName(raw.errno());
      if (code === 'ENOSYS' || code === 'ENOTSUP') return null;
      sink({ pid, file: 'ns', problem: classify(code), code });
      return false;
    }
    let any = false;
    try {
      for (let k = 0; k < types.length; k++) {
        const type = types[k] as NsType;
        const n = raw.readlinkat(dir, type, this.linkBuf, this.linkBuf.length);
        if (n < 0) {
          const code = errnoName(raw.errno());
          sink({ pid, file: `ns/${type}`, problem: classify(code), code });
          continue;
        }
        const ino = this.inoAt(n, type);
        if (ino > 0) {
          out[off + k] = ino;
          any = true;
        } else sink({ pid, file: `ns/${type}`, problem: 'garbage' });
      }
    } finally {
      raw.close(dir);
    }
    return any;
  }

  /**
   * parseNsLink(target, type)'s inode on the first `len` bytes of linkBuf, without making a string:
   * the same answer (`<type>:[<1..20 digits>]`, a safe non-zero integer, else 0 for garbage) for
   * the 40,000 links of a 5,000-process scan at a fraction of the allocations.
   */
  private inoAt(len: number, type: NsType): number {
    const b = this.linkBuf;
    const t = type.length;
    if (len < t + 4 || b[t] !== 0x3a /* : */ || b[t + 1] !== 0x5b /* [ */ || b[len - 1] !== 0x5d /* ] */) return 0;
    for (let i = 0; i < t; i++) if (b[i] !== type.charCodeAt(i)) return 0;
    if (len - 1 - (t + 2) > 20) return 0;
    let ino = 0;
    for (let i = t + 2; i < len - 1; i++) {
      const d = (b[i] as number) - 0x30;
      if (d < 0 || d > 9) return 0;
      ino = ino * 10 + d;
    }
    return Number.isSafeInteger(ino) && ino > 0 ? ino : 0;
  }

  /** A process's stat fields (ppid, comm, start time), or null when it vanished or its stat is garbage. */
  readStat(pid: number): StatFields | null {
    let statText: string;
    try {
      const buf = (this.detailsBuf ??= Buffer.allocUnsafe(Math.max(SMALL_FILE_LIMIT, CMDLINE_READ_LIMIT)));
      statText = buf.toString('latin1', 0, this.readRecord(`${this.root}/${pid}/stat`, buf, SMALL_FILE_LIMIT));
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
      if (classify(errCode(err)) === 'vanished' && !fs.existsSync(dir)) return null;
    }
    return { pid, ppid: stat.ppid, uid, comm: stat.comm, cmdline: cmdlineToCommand(cmdline), startTime: stat.startTime };
  }

  /**
   * readCappedInto(file, buf[0, limit)) for a per-process file the kernel makes in one go
   * (`stat`, `cgroup`: single_open seq files, see native-notes/procfs.md): on a mounted procfs
   * with koffi already in use, through direct open/read/close calls and ONE read: the kernel builds such a file
   * whole and a read returns min(size, count) of it, so no second read is needed to see EOF. A
   * fixture tree, or no koffi: readCappedInto.
   * Throws an error with the errno's code, as fs does.
   */
  private readRecord(file: string, buf: Buffer, limit: number): number {
    // Only once ns links go through koffi (the daemon): `list` must not load it for ~200 stat files.
    const raw = this.procfs && this.fastLinks === true ? rawLinkCalls() : null;
    if (raw === null) return readCappedInto(file, buf.subarray(0, limit), !this.procfs);
    const fd = raw.open(file, 0);
    if (fd < 0) throw errnoError(file, raw.errno());
    try {
      // One read returns min(limit, size) of a single-record file: all of it, or the cap.
      const n = raw.read(fd, buf, 0, limit);
      if (n < 0) throw errnoError(file, raw.errno());
      return n;
    } finally {
      raw.close(fd);
    }
  }

  /** readCapped(file, limit) as latin1 text, through the reused details buffer. */
  private readText(file: string, limit: number): string {
    const buf = (this.detailsBuf ??= Buffer.allocUnsafe(Math.max(SMALL_FILE_LIMIT, CMDLINE_READ_LIMIT)));
    return buf.toString('latin1', 0, readCappedInto(file, buf.subarray(0, limit), !this.procfs));
  }

  private readUid(pid: number, dir: string): number | null {
    if (this.uidFromOwner) {
      try {
        return fs.statSync(dir).uid;
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
      const n = this.readRecord(`${this.root}/${pid}/cgroup`, buf, CGROUP_LIMIT);
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
      const lastPid = parseKernelNumber(buf.toString('latin1', 0, readCappedInto(`${this.root}/sys/kernel/ns_last_pid`, buf, !this.procfs)));
      const pidMax = parseKernelNumber(buf.toString('latin1', 0, readCappedInto(`${this.root}/sys/kernel/pid_max`, buf, !this.procfs)));
      const tasks = parseLoadavgTasks(buf.toString('latin1', 0, readCappedInto(`${this.root}/loadavg`, buf, !this.procfs)));
      const forks = parseForks(buf.toString('latin1', 0, readCappedInto(`${this.root}/stat`, buf, !this.procfs)));
      if (lastPid === null || pidMax === null || tasks === null || forks === null) return null;
      return { lastPid, pidMax, forks, tasks };
    } catch {
      return null;
    }
  }

  /** mountinfo of a process (or `self`, the reader's own mount namespace); null when unreadable. */
  readMountinfo(pid: number | 'self'): string | null {
    try {
      return readCapped(`${this.root}/${pid}/mountinfo`, MOUNTINFO_LIMIT).toString('latin1');
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
