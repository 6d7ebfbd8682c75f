/**
 * How a ProcReader reads its tree: the strategy it is built with (plain fs, fs-io.ts, or direct
 * libc calls through koffi, native-io.ts), used by all of its methods, and what a failed read
 * becomes (a ReadIssue). The choice is the caller's, once, when it builds the reader.
 */
import type { FdNsLink, NsType } from './types.js';

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

export function errCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err) {
    const code = err.code;
    return typeof code === 'string' ? code : undefined;
  }
  return undefined;
}

export function classify(code: string | undefined): ReadProblem {
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

/** The I/O a ProcReader makes. Failures throw errors with a Node-style `code`, as fs does. */
export interface ProcIo {
  /** 'native': ns links and single-record files through koffi (native-io.ts); 'fs': plain fs. */
  readonly kind: 'fs' | 'native';
  /** The names in a directory. */
  listDir(dir: string): string[];
  exists(file: string): boolean;
  /** The owner of a file or directory (stat, following links). */
  ownerUid(file: string): number;
  /** At most `limit` bytes of a regular file (see readCapped). */
  readCapped(file: string, limit: number): Buffer;
  /** At most buf.length bytes of a file into buf: the byte count (see readCappedInto). */
  readInto(file: string, buf: Buffer, checkRegular: boolean): number;
  /**
   * At most `limit` bytes of a per-process file the kernel makes in one go (`stat`, `cgroup`:
   * single_open seq files, see native-notes/procfs.md) into buf: the byte count.
   * `checkRegular`: the tree may not be a real procfs (a fixture), so what it holds is checked.
   */
  readRecord(file: string, buf: Buffer, limit: number, checkRegular: boolean): number;
  /**
   * The inode of each types[k] link of `<root>/<pid>/ns/` into out[off + k] (0 where it cannot be
   * read; the issue goes to `sink`). false: no link was read (the process is gone, or its ns
   * directory could not be opened).
   */
  readNsInos(root: string, pid: number, types: readonly NsType[], out: Float64Array, off: number, sink: IssueSink): boolean;
  /** st_nlink of a directory, or -1 when it cannot be stat'ed (on procfs `<pid>/task` has 2 + one per thread). */
  linkCount(dir: string): number;
  /**
   * readlink of `<dir>/<names[i]>` for i in [from, to): each target that names a namespace
   * (`<type>:[<inode>]`) is pushed to `found` with the name as its fd number; other targets
   * (sockets, pipes, files: nearly all of them) cost the readlink and nothing more. A link gone
   * meanwhile (the fd closed) is skipped; other failures go to `sink`. false when `dir` itself
   * could not be opened (the process is gone, or its fds are not ours to read).
   */
  readNsFdLinks(dir: string, pid: number, names: readonly string[], from: number, to: number, found: FdNsLink[], sink: IssueSink): boolean;
}
