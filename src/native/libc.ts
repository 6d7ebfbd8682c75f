/**
 * Typed, never-throwing wrappers around the few libc calls the namespace scanner needs.
 *
 * koffi is loaded lazily (first call), through `createRequire`, so that a missing or broken koffi
 * binary (minimal image, unsupported platform, missing libstdc++) degrades to typed failures
 * instead of an exception at import time. Every call returns a `NativeResult`; when the native layer
 * is unavailable the failure code is 'ENOSYS' (koffi or libc not loadable) or 'ENOTSUP' (libc
 * loaded but a symbol is missing), and the warning hook is invoked exactly once per cause.
 *
 * Deliberately not bound: fstat (Node's fs.fstatSync works on any fd number), unshare.
 */
import { createRequire } from 'node:module';
import { fstatSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import type * as KoffiModule from 'koffi';

export type NativeOk<T> = { ok: true; value: T };
export type NativeErr = {
  ok: false;
  /** Node-style errno name ('EPERM', 'EINVAL', 'ENOTTY', ...); 'ENOSYS'/'ENOTSUP' when native calls are unavailable. */
  code: string;
  /** Numeric errno when it came from the kernel, 0 when synthesized. */
  errno: number;
  reason: string;
};
export type NativeResult<T> = NativeOk<T> | NativeErr;

export function ok<T>(value: T): NativeOk<T> {
  return { ok: true, value };
}

export function fail(code: string, reason: string, errno = 0): NativeErr {
  return { ok: false, code, errno, reason };
}

/* ---------- constants (Linux, all architectures where these values are generic) ---------- */

export const O_RDONLY = 0;
/** O_CLOEXEC is 0o2000000 on x86, arm, arm64, riscv (asm-generic); differs on alpha/sparc/parisc. */
export const O_CLOEXEC = 0o2000000;

export const CLONE_NEWNS = 0x00020000;
export const CLONE_NEWCGROUP = 0x02000000;
export const CLONE_NEWUTS = 0x04000000;
export const CLONE_NEWIPC = 0x08000000;
export const CLONE_NEWUSER = 0x10000000;
export const CLONE_NEWPID = 0x20000000;
export const CLONE_NEWNET = 0x40000000;
export const CLONE_NEWTIME = 0x00000080;

/* ---------- errno names ---------- */

const PREFERRED_NAMES: Record<number, string> = {};
const ERRNO_NAMES = new Map<number, string>();
{
  const table = osConstants.errno as Record<string, number>;
  for (const [name, num] of Object.entries(table)) {
    if (!ERRNO_NAMES.has(num)) ERRNO_NAMES.set(num, name);
  }
  // Aliases sharing a number: pick the names Node/libuv use in err.code.
  for (const name of ['EAGAIN', 'ENOTSUP', 'EDEADLK']) {
    const num = table[name];
    if (num !== undefined) PREFERRED_NAMES[num] = name;
  }
  for (const [num, name] of Object.entries(PREFERRED_NAMES)) ERRNO_NAMES.set(Number(num), name);
}

/** Map a positive errno number to its Node-style name; unknown numbers give 'E<number>'. */
export function errnoName(errno: number): string {
  return ERRNO_NAMES.get(errno) ?? `E${errno}`;
}

/** The errno number for a name (inverse of errnoName), or undefined. */
export function errnoNumber(code: string): number | undefined {
  return (osConstants.errno as Record<string, number>)[code];
}

/* ---------- lazy loading ---------- */

type RawFn = (...args: unknown[]) => unknown;

interface Bindings {
  koffi: typeof KoffiModule;
  libName: string;
  fns: Map<string, RawFn | null>;
  lib: KoffiModule.LibraryHandle;
}

type LoadState = { kind: 'unloaded' } | { kind: 'loaded'; b: Bindings } | { kind: 'failed'; code: string; reason: string };

let state: LoadState = { kind: 'unloaded' };
let warningHook: (message: string) => void = (message) => {
  process.emitWarning(message, { code: 'SCOPE_NAMESPACES_NATIVE' });
};
const warned = new Set<string>();

/**
 * Replace the hook called (once per distinct cause) when the native layer or one of its functions
 * is unavailable. The default emits a process warning. Returns the previous hook.
 */
export function setNativeWarningHook(hook: (message: string) => void): (message: string) => void {
  const prev = warningHook;
  warningHook = hook;
  return prev;
}

function warnOnce(key: string, message: string): void {
  if (warned.has(key)) return;
  warned.add(key);
  try {
    warningHook(message);
  } catch {
    // a throwing hook must not break a native call
  }
}

/** Library names tried in order: glibc, musl (per arch), generic, then the process's own symbols. */
export const LIBC_CANDIDATES: readonly (string | null)[] = ['libc.so.6', `libc.musl-${process.arch === 'x64' ? 'x86_64' : process.arch === 'arm64' ? 'aarch64' : process.arch}.so.1`, 'libc.so', null];

function describe(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function load(): LoadState {
  if (state.kind !== 'unloaded') return state;
  if (process.env['SCOPE_NAMESPACES_NATIVE'] === 'off') {
    state = { kind: 'failed', code: 'ENOSYS', reason: 'native calls disabled by SCOPE_NAMESPACES_NATIVE=off' };
    warnOnce('load', state.reason);
    return state;
  }
  let koffi: typeof KoffiModule;
  try {
    const require = createRequire(import.meta.url);
    koffi = require('koffi') as typeof KoffiModule;
  } catch (e) {
    state = { kind: 'failed', code: 'ENOSYS', reason: `koffi could not be loaded: ${describe(e)}` };
    warnOnce('load', state.reason);
    return state;
  }
  const errors: string[] = [];
  for (const name of LIBC_CANDIDATES) {
    try {
      const lib = koffi.load(name);
      state = { kind: 'loaded', b: { koffi, lib, libName: name ?? '(process)', fns: new Map() } };
      return state;
    } catch (e) {
      errors.push(`${name ?? '(process)'}: ${describe(e)}`);
    }
  }
  state = { kind: 'failed', code: 'ENOSYS', reason: `libc could not be loaded (${errors.join('; ')})` };
  warnOnce('load', state.reason);
  return state;
}

/**
 * Test hook: forget the loaded state. With `disable`, the next call behaves as if koffi could not
 * be loaded (reason given); otherwise the next call loads again.
 */
export function resetNativeForTests(disable?: string): void {
  warned.clear();
  state = disable === undefined ? { kind: 'unloaded' } : { kind: 'failed', code: 'ENOSYS', reason: disable };
  rawLinks = undefined;
  if (disable !== undefined) warnOnce('load', disable);
}

/** Whether libc could be loaded (loads it if not yet tried). */
export function nativeAvailable(): boolean {
  return load().kind === 'loaded';
}

/** Which library was loaded, or the failure reason. */
export function nativeStatus(): { ok: true; lib: string } | { ok: false; code: string; reason: string } {
  const s = load();
  if (s.kind === 'loaded') return { ok: true, lib: s.b.libName };
  if (s.kind === 'failed') return { ok: false, code: s.code, reason: s.reason };
  return { ok: false, code: 'ENOSYS', reason: 'not loaded' };
}

const PROTOTYPES: Record<string, string> = {
  open: 'int open(const char *path, int flags)',
  close: 'int close(int fd)',
  read: 'long read(int fd, void *buf, unsigned long count)',
  // ioctl is variadic in libc; on every Linux ABI koffi supports, a fixed third pointer argument is
  // passed the same way as the variadic one.
  ioctl: 'int ioctl(int fd, unsigned long request, void *arg)',
  setns: 'int setns(int fd, int nstype)',
  uname: 'int uname(void *buf)',
  socket: 'int socket(int domain, int type, int protocol)',
  send: 'long send(int fd, const void *buf, unsigned long len, int flags)',
  recv: 'long recv(int fd, void *buf, unsigned long len, int flags)',
  gettid: 'int gettid(void)',
  readlinkat: 'long readlinkat(int dirfd, const char *path, void *buf, unsigned long size)',
  // syscall(2) is variadic; two long arguments are passed in the same registers on x86_64 and arm64.
  syscall: 'long syscall(long number, long a1, long a2)',
  epoll_create1: 'int epoll_create1(int flags)',
  mallopt: 'int mallopt(int param, int value)',
  epoll_ctl: 'int epoll_ctl(int epfd, int op, int fd, void *event)',
  epoll_wait: 'int epoll_wait(int epfd, void *events, int maxevents, int timeout)',
  getrlimit: 'int getrlimit(int resource, void *rlim)',
  setrlimit: 'int setrlimit(int resource, const void *rlim)',
};

type Resolved = { fn: RawFn; koffi: typeof KoffiModule } | NativeErr;

function resolve(name: keyof typeof PROTOTYPES): Resolved {
  const s = load();
  if (s.kind === 'failed') return fail(s.code, s.reason);
  if (s.kind !== 'loaded') return fail('ENOSYS', 'native layer not loaded');
  const b = s.b;
  let fn = b.fns.get(name);
  if (fn === undefined) {
    const proto = PROTOTYPES[name];
    try {
      fn = proto === undefined ? null : (b.lib.func(proto) as RawFn);
    } catch (e) {
      warnOnce(`fn:${name}`, `${name}() not available in ${b.libName}: ${describe(e)}`);
      fn = null;
    }
    b.fns.set(name, fn);
  }
  if (fn === null) return fail('ENOTSUP', `${name}() is not available in ${b.libName}`);
  return { fn, koffi: b.koffi };
}

function isErr(r: Resolved): r is NativeErr {
  return 'ok' in r;
}

/**
 * Call a native function returning an int/long; -1 means failure with errno. `detail` goes between
 * the parentheses of the label in error messages (`readlinkat(uts): ENOENT`); the label is built
 * only on failure and errno is read only then: readlinkat runs eight times per process per scan,
 * so the success path allocates nothing beyond its result.
 */
const labelOf = (name: string, detail: string | undefined): string => `${name}(${detail ?? ''})`;

function callInt(name: string, args: unknown[], detail?: string): NativeResult<number> {
  const r = resolve(name);
  if (isErr(r)) return r;
  let ret: unknown;
  try {
    ret = r.fn(...args);
  } catch (e) {
    return fail('EINVAL', `${labelOf(name, detail)}: bad arguments for native call: ${describe(e)}`, 22);
  }
  const n = typeof ret === 'bigint' ? Number(ret) : ret;
  if (typeof n !== 'number') return fail('EIO', `${labelOf(name, detail)}: unexpected return value`, 5);
  if (n < 0) {
    // No native call has run since r.fn: errno is still the one it set.
    const errno = r.koffi.errno();
    const code = errnoName(errno);
    return fail(code, `${labelOf(name, detail)}: ${code}`, errno);
  }
  return ok(n);
}

/**
 * The daemon's hot path's calls (ns links, and the small per-process files its sweep and
 * representatives read), bound once and called directly: open, readlinkat, read and close return
 * the raw int (-1 on failure, then `errno()` is the reason), so a call allocates no argument array
 * and no result object. The daemon's sweep makes ~1,700 of them a second; callInt's two objects
 * per call were a large share of its garbage (native-notes/memory.md). null: the native layer (or
 * one of the three functions) is unavailable.
 */
export interface RawLinkCalls {
  open(path: string, flags: number): number;
  /** read(2) into buf at `offset`, at most `count` bytes. */
  read(fd: number, buf: Buffer, offset: number, count: number): number;
  readlinkat(dirfd: number, name: string, buf: Buffer, size: number): number;
  close(fd: number): number;
  errno(): number;
}

let rawLinks: RawLinkCalls | null | undefined;

export function rawLinkCalls(): RawLinkCalls | null {
  if (rawLinks !== undefined) return rawLinks;
  const o = resolve('open');
  const r = resolve('readlinkat');
  const c = resolve('close');
  const rd = resolve('read');
  if (isErr(o) || isErr(r) || isErr(c) || isErr(rd)) return (rawLinks = null);
  const { koffi } = o;
  rawLinks = {
    open: (path, flags) => Number(o.fn(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | flags)),
    readlinkat: (dirfd, name, buf, size) => Number(r.fn(dirfd, name, buf, size)),
    close: (fd) => Number(c.fn(fd)),
    read: (fd, buf, offset, count) => Number(rd.fn(fd, offset === 0 ? buf : buf.subarray(offset), count)),
    errno: () => koffi.errno(),
  };
  return rawLinks;
}

/* ---------- public wrappers ---------- */

/** O_PATH|O_DIRECTORY: a handle on a directory for *at() calls, no read permission needed. */
export const O_PATH = 0o10000000;
export const O_DIRECTORY = 0o200000;

/** readlinkat(dirfd, name) into `buf`: the target's length in bytes (truncated at buf.length). */
export function sysReadlinkAt(dirfd: number, name: string, buf: Buffer): NativeResult<number> {
  return callInt('readlinkat', [dirfd, name, buf, buf.length], name);
}

/** open(path, O_RDONLY|O_CLOEXEC | extra): a new fd. */
/** O_NONBLOCK: a FIFO planted where an ns file should be must not block open(2) (asm-generic value). */
export const O_NONBLOCK = 0o4000;

export function sysOpen(path: string, extraFlags = 0): NativeResult<number> {
  return callInt('open', [path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | extraFlags], path);
}

export function sysClose(fd: number): NativeResult<void> {
  const r = callInt('close', [fd]);
  return r.ok ? ok(undefined) : r;
}

/** ioctl(fd, request) with no argument; returns the ioctl's (non-negative) return value. */
export function sysIoctl(fd: number, request: number): NativeResult<number> {
  return callInt('ioctl', [fd, request, null], `0x${request.toString(16)}`);
}

/** ioctl(fd, request, &uid) where the kernel writes a uid_t (u32); returns that uid. */
export function sysIoctlUid(fd: number, request: number): NativeResult<number> {
  const buf = Buffer.alloc(4);
  const r = callInt('ioctl', [fd, request, buf], `0x${request.toString(16)}`);
  return r.ok ? ok(buf.readUInt32LE(0)) : r;
}

export function sysSetns(fd: number, nstype: number): NativeResult<void> {
  const r = callInt('setns', [fd, nstype]);
  return r.ok ? ok(undefined) : r;
}

export function sysGettid(): NativeResult<number> {
  return callInt('gettid', []);
}

export interface Utsname {
  sysname: string;
  nodename: string;
  release: string;
  version: string;
  machine: string;
  domainname: string;
}

/** Linux struct utsname: 6 fields of 65 bytes (glibc and musl). */
const UTS_LEN = 65;
const UTS_FIELDS = ['sysname', 'nodename', 'release', 'version', 'machine', 'domainname'] as const;

function cField(buf: Buffer, start: number, len: number): string {
  const slice = buf.subarray(start, start + len);
  const nul = slice.indexOf(0);
  return slice.subarray(0, nul < 0 ? len : nul).toString('utf8');
}

/** uname(2) of the calling thread (its UTS namespace). */
export function sysUname(): NativeResult<Utsname> {
  const buf = Buffer.alloc(UTS_LEN * UTS_FIELDS.length + 64);
  const r = callInt('uname', [buf]);
  if (!r.ok) return r;
  const out: Utsname = { sysname: '', nodename: '', release: '', version: '', machine: '', domainname: '' };
  UTS_FIELDS.forEach((f, i) => {
    out[f] = cField(buf, i * UTS_LEN, UTS_LEN);
  });
  return ok(out);
}

/** glibc's M_ARENA_MAX. */
const M_ARENA_MAX = -8;

/**
 * mallopt(M_ARENA_MAX, n): glibc gives each thread that mallocs its own arena (64 MB reserved,
 * MBs resident); V8's and libuv's helper threads would otherwise each keep one. Returns false where
 * it cannot be set (musl has no mallopt; glibc returns 0 on failure, not -1).
 */
export function setMallocArenaMax(n: number): boolean {
  const r = callInt('mallopt', [M_ARENA_MAX, n]);
  return r.ok && r.value === 1;
}

/** pidfd_open(2) has number 434 on every Linux architecture (new syscalls share one table). */
const SYS_PIDFD_OPEN = 434;

/**
 * pidfd_open(pid, 0): an fd that becomes readable when the process exits. EINVAL for a pid that
 * is a thread but not a thread-group leader, ESRCH for no such process, ENOSYS before Linux 5.3
 * (or under a seccomp profile that denies it), EMFILE when out of fds.
 */
export function sysPidfdOpen(pid: number): NativeResult<number> {
  return callInt('syscall', [SYS_PIDFD_OPEN, pid, 0], `pidfd_open ${pid}`);
}

export const EPOLL_CLOEXEC = 0o2000000;
export const EPOLL_CTL_ADD = 1;
export const EPOLL_CTL_DEL = 2;
export const EPOLLIN = 0x001;
/** struct epoll_event is packed on x86_64 (12 bytes: u32 events, u64 data), naturally aligned elsewhere (16). */
export const EPOLL_EVENT_SIZE = process.arch === 'x64' ? 12 : 16;
const EPOLL_DATA_OFFSET = process.arch === 'x64' ? 4 : 8;

export function sysEpollCreate(): NativeResult<number> {
  return callInt('epoll_create1', [EPOLL_CLOEXEC]);
}

/** epoll_ctl(epfd, op, fd, {events, data.u64 = data}). */
export function sysEpollCtl(epfd: number, op: number, fd: number, events: number, data: number): NativeResult<void> {
  const ev = Buffer.alloc(EPOLL_EVENT_SIZE);
  ev.writeUInt32LE(events, 0);
  ev.writeBigUInt64LE(BigInt(data), EPOLL_DATA_OFFSET);
  const r = callInt('epoll_ctl', [epfd, op, fd, ev]);
  return r.ok ? ok(undefined) : r;
}

/** epoll_wait(epfd, buf, buf.length / EPOLL_EVENT_SIZE, timeoutMs): the data of each ready fd. */
export function sysEpollWait(epfd: number, buf: Buffer, timeoutMs: number): NativeResult<number[]> {
  const max = Math.floor(buf.length / EPOLL_EVENT_SIZE);
  const r = callInt('epoll_wait', [epfd, buf, max, timeoutMs]);
  if (!r.ok) return r;
  const out: number[] = [];
  for (let i = 0; i < r.value; i++) out.push(Number(buf.readBigUInt64LE(i * EPOLL_EVENT_SIZE + EPOLL_DATA_OFFSET)));
  return ok(out);
}

/** RLIMIT_NOFILE: 7 on every architecture koffi supports here (asm-generic, x86, arm). */
export const RLIMIT_NOFILE = 7;

export interface RLimit {
  soft: number;
  hard: number;
}

/** getrlimit(resource): struct rlimit is two rlim_t (unsigned long: 8 bytes on 64-bit Linux). */
export function sysGetRlimit(resource: number): NativeResult<RLimit> {
  const buf = Buffer.alloc(16);
  const r = callInt('getrlimit', [resource, buf], String(resource));
  if (!r.ok) return r;
  // RLIM_INFINITY (all ones) does not fit a double exactly: clamp it.
  const clamp = (v: bigint): number => (v > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(v));
  return ok({ soft: clamp(buf.readBigUInt64LE(0)), hard: clamp(buf.readBigUInt64LE(8)) });
}

/** setrlimit(resource, {soft, hard}): raising `hard` needs CAP_SYS_RESOURCE (EPERM otherwise). */
export function sysSetRlimit(resource: number, limit: RLimit): NativeResult<void> {
  const buf = Buffer.alloc(16);
  buf.writeBigUInt64LE(BigInt(limit.soft), 0);
  buf.writeBigUInt64LE(BigInt(limit.hard), 8);
  const r = callInt('setrlimit', [resource, buf], String(resource));
  return r.ok ? ok(undefined) : r;
}

export function sysSocket(domain: number, type: number, protocol: number): NativeResult<number> {
  return callInt('socket', [domain, type, protocol]);
}

/** send(fd, buf, buf.length, flags): bytes sent. */
export function sysSend(fd: number, buf: Buffer, flags = 0): NativeResult<number> {
  return callInt('send', [fd, buf, buf.length, flags]);
}

/** recv(fd, buf, buf.length, flags): bytes received (written into buf). */
export function sysRecv(fd: number, buf: Buffer, flags = 0): NativeResult<number> {
  return callInt('recv', [fd, buf, buf.length, flags]);
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
    return fail(code, `fstat(${fd}): ${describe(e)}`, errnoNumber(code) ?? 0);
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
