/** ProcIo through plain synchronous fs calls (native-notes/procfs.md: faster than fs.promises here). */
import * as fs from 'node:fs';
import { classify, errCode, type IssueSink, type ProcIo } from './io.js';
import { parseNsLink, parsePidName } from './parse.js';
import type { FdNsLink, NsType } from './types.js';

/** Opens without blocking (a FIFO planted where a file should be would block open(2) until a
 * writer comes) and only regular files: every file read here is one on procfs or a passwd file. */
const OPEN_FLAGS = fs.constants.O_RDONLY | fs.constants.O_NONBLOCK;

export function notRegular(file: string): NodeJS.ErrnoException {
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

export class FsIo implements ProcIo {
  readonly kind = 'fs';

  listDir(dir: string): string[] {
    return fs.readdirSync(dir);
  }

  exists(file: string): boolean {
    return fs.existsSync(file);
  }

  ownerUid(file: string): number {
    return fs.statSync(file).uid;
  }

  readCapped(file: string, limit: number): Buffer {
    return readCapped(file, limit);
  }

  readInto(file: string, buf: Buffer, checkRegular: boolean): number {
    return readCappedInto(file, buf, checkRegular);
  }

  readRecord(file: string, buf: Buffer, limit: number, checkRegular: boolean): number {
    return readCappedInto(file, buf.subarray(0, limit), checkRegular);
  }

  /**
   * One readlink(2) per link: each call walks the whole path and makes a string, about 1.3x the
   * cost of native-io.ts's readlinkat. false when the process is gone (its row all 0).
   */
  readNsInos(root: string, pid: number, types: readonly NsType[], out: Float64Array, off: number, sink: IssueSink): boolean {
    const dir = `${root}/${pid}/ns/`;
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
        if (code === 'ENOENT' && !fs.existsSync(`${root}/${pid}`)) {
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

  linkCount(dir: string): number {
    return fs.statSync(dir, { throwIfNoEntry: false })?.nlink ?? -1;
  }

  readNsFdLinks(dir: string, pid: number, names: readonly string[], from: number, to: number, found: FdNsLink[], sink: IssueSink): boolean {
    for (let i = from; i < to; i++) {
      const name = names[i] as string;
      const fd = fdNumber(name);
      if (fd < 0) continue;
      let target: string;
      try {
        target = fs.readlinkSync(`${dir}/${name}`);
      } catch (err) {
        const code = errCode(err);
        // Closed since the directory was listed: nothing held there any more.
        if (code !== 'ENOENT') sink({ pid, file: `fd/${name}`, problem: classify(code), ...(code ? { code } : {}) });
        continue;
      }
      const link = parseNsLink(target);
      if (link) found.push({ fd, type: link.type, ino: link.ino });
    }
    return true;
  }
}

/** An fd directory entry's number, or -1 when the name is not one (a fixture tree's stray file): a pid's spelling, or 0. */
export function fdNumber(name: string): number {
  return name === '0' ? 0 : (parsePidName(name) ?? -1);
}

/** The one plain-fs strategy (it holds no state). */
export const FS_IO: ProcIo = new FsIo();
