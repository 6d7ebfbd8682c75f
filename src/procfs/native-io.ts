/**
 * ProcIo through direct libc calls (koffi): ns links through one O_PATH handle on <pid>/ns and a
 * readlinkat per type, single-record files with open/read/close. These calls return the raw int
 * (-1 on failure, then errno() is the reason), so a call allocates no argument array and no
 * result object: the daemon's sweep makes ~1,700 of them a second, and per-call objects were a
 * large share of its garbage (native-notes/memory.md). Everything else goes through plain fs.
 */
import { errnoName } from '../native/errno.js';
import { FD_CALLS, O_CLOEXEC, O_DIRECTORY, O_NONBLOCK, O_PATH, O_RDONLY } from '../native/fd.js';
import { bindRaw, nativeAvailable } from '../native/loader.js';
import type { LibcPrototypes } from '../native/prototypes.js';
import { fdNumber, FS_IO } from './fs-io.js';
import { classify, type IssueSink, type ProcIo } from './io.js';
import { NS_TYPES, type FdNsLink, type NsType } from './types.js';

const READ_CALLS = {
  read: 'long read(int fd, void *buf, unsigned long count)',
  readlinkat: 'long readlinkat(int dirfd, const char *path, void *buf, unsigned long size)',
} as const satisfies LibcPrototypes;

interface RawCalls {
  open(path: string, flags: number): number;
  /** read(2) into buf, at most `count` bytes. */
  read(fd: number, buf: Buffer, count: number): number;
  readlinkat(dirfd: number, name: string, buf: Buffer, size: number): number;
  close(fd: number): number;
  errno(): number;
}

/** The four calls bound, or null when koffi, libc or one of them is unavailable. */
function bindRawCalls(): RawCalls | null {
  const o = bindRaw(FD_CALLS.open);
  const r = bindRaw(READ_CALLS.readlinkat);
  const c = bindRaw(FD_CALLS.close);
  const rd = bindRaw(READ_CALLS.read);
  if (!('fn' in o) || !('fn' in r) || !('fn' in c) || !('fn' in rd)) return null;
  const [open, readlinkat, close, read] = [o.fn, r.fn, c.fn, rd.fn];
  return {
    open: (path, flags) => Number(open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | flags)),
    readlinkat: (dirfd, name, buf, size) => Number(readlinkat(dirfd, name, buf, size)),
    close: (fd) => Number(close(fd)),
    read: (fd, buf, count) => Number(read(fd, buf, count)),
    errno: o.errno,
  };
}

/** A file's open failed with this errno's code: the kernel refuses the call itself (a seccomp
 * profile answering ENOSYS), not this file. */
const refused = (code: string): boolean => code === 'ENOSYS' || code === 'ENOTSUP';

function errnoError(file: string, errno: number): NodeJS.ErrnoException {
  const code = errnoName(errno);
  const err: NodeJS.ErrnoException = new Error(`${code}: ${file}`);
  err.code = code;
  err.errno = errno;
  return err;
}

export class NativeIo implements ProcIo {
  readonly kind = 'native';
  /** ns link targets are `cgroup:[4026531835]` at most; a longer one is garbage anyway. */
  private readonly linkBuf = Buffer.alloc(64);
  /** Set when the kernel refused a native open (refused()): plain fs from then on, for every read. */
  private refusedByKernel = false;

  private constructor(private readonly raw: RawCalls) {}

  /** A native strategy, or null when koffi or one of its calls cannot be had here. */
  static create(): NativeIo | null {
    if (!nativeAvailable()) return null;
    const raw = bindRawCalls();
    return raw === null ? null : new NativeIo(raw);
  }

  listDir(dir: string): string[] {
    return FS_IO.listDir(dir);
  }

  exists(file: string): boolean {
    return FS_IO.exists(file);
  }

  ownerUid(file: string): number {
    return FS_IO.ownerUid(file);
  }

  readCapped(file: string, limit: number): Buffer {
    return FS_IO.readCapped(file, limit);
  }

  readInto(file: string, buf: Buffer, checkRegular: boolean): number {
    return FS_IO.readInto(file, buf, checkRegular);
  }

  /**
   * One open/read/close and ONE read: the kernel builds such a file whole and a read returns
   * min(size, count) of it, so no second read is needed to see EOF. No fstat either, so only on a
   * real procfs: a tree that may hold a FIFO or a device where the file should be (checkRegular)
   * is read through fs.
   */
  readRecord(file: string, buf: Buffer, limit: number, checkRegular: boolean): number {
    if (checkRegular || this.refusedByKernel) return FS_IO.readRecord(file, buf, limit, checkRegular);
    const raw = this.raw;
    const fd = raw.open(file, 0);
    if (fd < 0) {
      const errno = raw.errno();
      if (!refused(errnoName(errno))) throw errnoError(file, errno);
      this.refusedByKernel = true;
      return FS_IO.readRecord(file, buf, limit, checkRegular);
    }
    try {
      // One read returns min(limit, size) of a single-record file: all of it, or the cap.
      const n = raw.read(fd, buf, limit);
      if (n < 0) throw errnoError(file, raw.errno());
      return n;
    } finally {
      raw.close(fd);
    }
  }

  /**
   * The kernel resolves `<root>/<pid>/ns` once instead of eight times, and failures are return
   * codes rather than thrown exceptions. This loop is the daemon's hot spot (8 links x every
   * swept process); it allocates nothing.
   */
  readNsInos(root: string, pid: number, types: readonly NsType[], out: Float64Array, off: number, sink: IssueSink): boolean {
    if (this.refusedByKernel) return FS_IO.readNsInos(root, pid, types, out, off, sink);
    const raw = this.raw;
    out.fill(0, off, off + types.length);
    const dir = raw.open(`${root}/${pid}/ns`, O_PATH | O_DIRECTORY);
    if (dir < 0) {
      const code = errnoName(raw.errno());
      if (refused(code)) {
        this.refusedByKernel = true;
        return FS_IO.readNsInos(root, pid, types, out, off, sink);
      }
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

  linkCount(dir: string): number {
    return FS_IO.linkCount(dir);
  }

  /**
   * One O_PATH handle on the fd directory and a readlinkat per fd; a target is turned into a
   * string only when its bytes name a namespace (nsTypeAt), so the common fd (a socket, a pipe, a
   * file) costs one call and no allocation.
   */
  readNsFdLinks(dir: string, pid: number, names: readonly string[], from: number, to: number, found: FdNsLink[], sink: IssueSink): boolean {
    if (this.refusedByKernel) return FS_IO.readNsFdLinks(dir, pid, names, from, to, found, sink);
    const raw = this.raw;
    const dfd = raw.open(dir, O_PATH | O_DIRECTORY);
    if (dfd < 0) {
      const code = errnoName(raw.errno());
      if (refused(code)) {
        this.refusedByKernel = true;
        return FS_IO.readNsFdLinks(dir, pid, names, from, to, found, sink);
      }
      if (code !== 'ENOENT' && code !== 'ESRCH') sink({ pid, file: 'fd', problem: classify(code), code });
      return false;
    }
    try {
      for (let i = from; i < to; i++) {
        const name = names[i] as string;
        const fd = fdNumber(name);
        if (fd < 0) continue;
        const n = raw.readlinkat(dfd, name, this.linkBuf, this.linkBuf.length);
        if (n < 0) {
          const code = errnoName(raw.errno());
          if (code !== 'ENOENT') sink({ pid, file: `fd/${name}`, problem: classify(code), code });
          continue;
        }
        const type = this.nsTypeAt(n);
        if (type === null) continue;
        const ino = this.inoAt(n, type);
        if (ino > 0) found.push({ fd, type, ino });
      }
    } finally {
      raw.close(dfd);
    }
    return true;
  }

  /** The type whose `<type>:[` the first `len` bytes of linkBuf start with, else null. */
  private nsTypeAt(len: number): NsType | null {
    const b = this.linkBuf;
    // Paths start with '/', and socket:[, pipe:[, anon_inode: match no type past their first bytes.
    for (const type of NS_TYPES) {
      const t = type.length;
      if (len < t + 4 || b[t] !== 0x3a /* : */ || b[0] !== type.charCodeAt(0)) continue;
      let same = true;
      for (let i = 1; i < t && same; i++) same = b[i] === type.charCodeAt(i);
      if (same) return type;
    }
    return null;
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
}

/**
 * The strategy a reader is built with: `native` gives NativeIo where koffi loads (loading it now,
 * ~25 ms of CPU the first time), plain fs where it does not; otherwise plain fs.
 */
export function procIo(native: boolean): ProcIo {
  return (native ? NativeIo.create() : null) ?? FS_IO;
}
