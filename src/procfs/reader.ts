/**
 * The one place that touches a procfs tree. Works on the live /proc or on a captured fixture
 * directory with the same layout. Synchronous on purpose: sync fs calls walk /proc several times
 * faster than fs.promises (see native-notes/procfs.md); callers that must not block run it on a
 * worker thread.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cmdlineToCommand, parseNsLink, parsePidName, parseStat, parseStatusEuid } from './parse.js';
import { NS_TYPES, type NsLink, type NsType, type ProcDetails } from './types.js';
import { nativeAvailable, O_DIRECTORY, O_PATH, sysClose, sysOpen, sysReadlinkAt } from '../native/libc.js';

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

function notRegular(file: string): NodeJS.ErrnoException {
  const err: NodeJS.ErrnoException = new Error(`${file} is not a regular file`);
  err.code = 'ENOTREG';
  return err;
}

/** Reads at most `limit` bytes of a regular file with one open/fstat/read/close. Anything else
 * (FIFO, socket, device, directory) throws with code ENOTREG before any read. */
export function readCapped(file: string, limit: number): Buffer {
  const buf = Buffer.allocUnsafe(limit);
  return buf.subarray(0, readCappedInto(file, buf, true));
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

  /** Use readlinkat through koffi for ns links (see readNsLinksAt); off when koffi is unavailable. */
  private fastLinks: boolean;
  /** ns link targets are `cgroup:[4026531835]` at most; a longer one is garbage anyway. */
  private readonly linkBuf = Buffer.alloc(64);

  constructor(root = '/proc', opts: ProcReaderOptions = {}) {
    this.root = root;
    this.onIssue = opts.onIssue ?? (() => {});
    const source = opts.uidSource ?? 'auto';
    this.procfs = ProcReader.isProcfs(root);
    this.uidFromOwner = source === 'owner' || (source === 'auto' && this.procfs);
    this.fastLinks = opts.nativeLinks ?? nativeAvailable();
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

  /** The namespaces of one process; links that cannot be read are skipped (as lsns does). */
  readNsLinks(pid: number, types: readonly NsType[] = NS_TYPES): NsLink[] {
    if (this.fastLinks) {
      const links = this.readNsLinksAt(pid, types);
      if (links !== null) return links;
    }
    const links: NsLink[] = [];
    const dir = `${this.root}/${pid}/ns/`;
    for (const type of types) {
      let target: string;
      try {
        target = fs.readlinkSync(dir + type);
      } catch (err) {
        this.report(pid, `ns/${type}`, err);
        // The whole process is gone: no point asking for the other seven links.
        if (errCode(err) === 'ENOENT' && !fs.existsSync(`${this.root}/${pid}`)) return [];
        continue;
      }
      this.addLink(links, pid, type, target);
    }
    return links;
  }

  private addLink(links: NsLink[], pid: number, type: NsType, target: string): void {
    const link = parseNsLink(target, type);
    if (link) links.push(link);
    else this.onIssue({ pid, file: `ns/${type}`, problem: 'garbage' });
  }

  /**
   * The same through one O_PATH handle on <pid>/ns and readlinkat per type: the kernel resolves
   * `/proc/<pid>/ns` once instead of eight times, and failures are return codes rather than
   * thrown exceptions. This loop is the daemon's hot spot (8 links x every process). null: the
   * native layer is unavailable, use fs.
   */
  private readNsLinksAt(pid: number, types: readonly NsType[]): NsLink[] | null {
    const dir = sysOpen(`${this.root}/${pid}/ns`, O_PATH | O_DIRECTORY);
    if (!dir.ok) {
      if (dir.code === 'ENOSYS' || dir.code === 'ENOTSUP') {
        this.fastLinks = false;
        return null;
      }
      this.onIssue({ pid, file: 'ns', problem: classify(dir.code), code: dir.code });
      return [];
    }
    const links: NsLink[] = [];
    try {
      for (const type of types) {
        const n = sysReadlinkAt(dir.value, type, this.linkBuf);
        if (!n.ok) {
          this.onIssue({ pid, file: `ns/${type}`, problem: classify(n.code), code: n.code });
          continue;
        }
        const link = this.linkAt(n.value, type);
        if (link) links.push(link);
        else this.onIssue({ pid, file: `ns/${type}`, problem: 'garbage' });
      }
    } finally {
      sysClose(dir.value);
    }
    return links;
  }

  /**
   * parseNsLink(target, type) on the first `len` bytes of linkBuf, without making a string: the
   * same answer (`<type>:[<1..20 digits>]`, a safe non-zero integer, else null) for the 40,000
   * links of a 5,000-process scan at a fraction of the allocations.
   */
  private linkAt(len: number, type: NsType): NsLink | null {
    const b = this.linkBuf;
    const t = type.length;
    if (len < t + 4 || b[t] !== 0x3a /* : */ || b[t + 1] !== 0x5b /* [ */ || b[len - 1] !== 0x5d /* ] */) return null;
    for (let i = 0; i < t; i++) if (b[i] !== type.charCodeAt(i)) return null;
    if (len - 1 - (t + 2) > 20) return null;
    let ino = 0;
    for (let i = t + 2; i < len - 1; i++) {
      const d = (b[i] as number) - 0x30;
      if (d < 0 || d > 9) return null;
      ino = ino * 10 + d;
    }
    if (!Number.isSafeInteger(ino) || ino <= 0) return null;
    return { type, ino };
  }

  /** ppid, uid, comm and command line of a process, or null when it vanished or its stat is garbage. */
  readDetails(pid: number): ProcDetails | null {
    const dir = `${this.root}/${pid}`;
    let statText: string;
    try {
      statText = readCapped(`${dir}/stat`, SMALL_FILE_LIMIT).toString('latin1');
    } catch (err) {
      this.report(pid, 'stat', err);
      return null;
    }
    const stat = parseStat(statText);
    if (!stat) {
      this.onIssue({ pid, file: 'stat', problem: 'garbage' });
      return null;
    }
    const uid = this.readUid(pid, dir);
    if (uid === null) return null;
    let cmdline = '';
    try {
      cmdline = readCapped(`${dir}/cmdline`, CMDLINE_READ_LIMIT).toString('latin1');
    } catch (err) {
      // A process whose cmdline vanished is gone; an unreadable one still has a comm. So does one
      // whose directory is still there (a capture that left this cmdline out, see capture/snapshot.ts).
      this.report(pid, 'cmdline', err);
      if (classify(errCode(err)) === 'vanished' && !fs.existsSync(dir)) return null;
    }
    return { pid, ppid: stat.ppid, uid, comm: stat.comm, cmdline: cmdlineToCommand(cmdline), startTime: stat.startTime };
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
      const uid = parseStatusEuid(readCapped(`${dir}/status`, SMALL_FILE_LIMIT).toString('latin1'));
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
   * a missing cgroup file only means "no container known".
   */
  readCgroup(pid: number): string | null {
    try {
      const buf = (this.cgroupBuf ??= Buffer.allocUnsafe(CGROUP_LIMIT));
      return buf.toString('latin1', 0, readCappedInto(`${this.root}/${pid}/cgroup`, buf, !this.procfs));
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
