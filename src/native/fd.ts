/** open(2), close(2) and fstat of file descriptors, as typed never-throwing calls. */
import { fstatSync } from 'node:fs';
import { errnoNumber } from './errno.js';
import { callInt } from './loader.js';
import type { LibcPrototypes } from './prototypes.js';
import { describeError, fail, ok, type NativeResult } from './result.js';

export const FD_CALLS = {
  open: 'int open(const char *path, int flags)',
  close: 'int close(int fd)',
} as const satisfies LibcPrototypes;

/* Linux values, the same on every architecture where these are generic (asm-generic). */
export const O_RDONLY = 0;
/** O_CLOEXEC is 0o2000000 on x86, arm, arm64, riscv (asm-generic); differs on alpha/sparc/parisc. */
export const O_CLOEXEC = 0o2000000;
/** O_NONBLOCK: a FIFO planted where an ns file should be must not block open(2) (asm-generic value). */
export const O_NONBLOCK = 0o4000;
/** O_PATH|O_DIRECTORY: a handle on a directory for *at() calls, no read permission needed. */
export const O_PATH = 0o10000000;
export const O_DIRECTORY = 0o200000;

/** open(path, O_RDONLY|O_CLOEXEC|O_NONBLOCK | extra): a new fd. */
export function sysOpen(path: string, extraFlags = 0): NativeResult<number> {
  return callInt(FD_CALLS.open, [path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | extraFlags], path);
}

export function sysClose(fd: number): NativeResult<void> {
  const r = callInt(FD_CALLS.close, [fd]);
  return r.ok ? ok(undefined) : r;
}

export interface FdStat {
  dev: number;
  ino: number;
  /** st_mode, to tell regular files from nsfs (nsfs inodes are S_IFREG with mode 0444). */
  mode: number;
}

/** fstat through Node (works on any fd number, including ones opened through koffi). */
export function fdStat(fd: number): NativeResult<FdStat> {
  if (!Number.isInteger(fd) || fd < 0 || fd > 0x7fffffff) return fail('EBADF', `fstat(${fd}): not a file descriptor`, 9);
  try {
    const st = fstatSync(fd);
    return ok({ dev: st.dev, ino: st.ino, mode: st.mode });
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const code = typeof err.code === 'string' ? err.code : 'EIO';
    return fail(code, `fstat(${fd}): ${describeError(e)}`, errnoNumber(code) ?? 0);
  }
}

/** Run fn with an fd from sysOpen(path) and always close it. */
export function withFd<T>(path: string, fn: (fd: number) => NativeResult<T>): NativeResult<T> {
  const o = sysOpen(path);
  if (!o.ok) return o;
  try {
    return fn(o.value);
  } finally {
    sysClose(o.value);
  }
}
