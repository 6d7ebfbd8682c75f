/**
 * Loads koffi and libc, binds prototypes (prototypes.ts), and calls them without ever throwing.
 *
 * koffi is loaded lazily (first call), through `createRequire`, so that a missing or broken koffi
 * binary (minimal image, unsupported platform, missing libstdc++) degrades to typed failures
 * instead of an exception at import time. When the native layer is unavailable the failure code is
 * 'ENOSYS' (koffi or libc not loadable) or 'ENOTSUP' (libc loaded but a symbol is missing), and the
 * warning hook is invoked exactly once per cause.
 *
 * Deliberately not bound: fstat (Node's fs.fstatSync works on any fd number), unshare.
 */
import { createRequire } from 'node:module';
import type * as KoffiModule from 'koffi';
import { errnoName } from './errno.js';
import { nameOf, type ArgsOf, type BoundFn, type Prototype } from './prototypes.js';
import { describeError, fail, ok, type NativeErr, type NativeResult } from './result.js';

type RawFn = (...args: unknown[]) => unknown;

interface Bindings {
  koffi: typeof KoffiModule;
  libName: string;
  /** Bound functions by prototype; null: the symbol is missing. */
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
    state = { kind: 'failed', code: 'ENOSYS', reason: `koffi could not be loaded: ${describeError(e)}` };
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
      errors.push(`${name ?? '(process)'}: ${describeError(e)}`);
    }
  }
  state = { kind: 'failed', code: 'ENOSYS', reason: `libc could not be loaded (${errors.join('; ')})` };
  warnOnce('load', state.reason);
  return state;
}

/**
 * Test hook: forget the loaded state (and every function bound from it). With `disable`, the next
 * call behaves as if koffi could not be loaded (reason given); otherwise the next call loads again.
 */
export function resetNativeForTests(disable?: string): void {
  warned.clear();
  state = disable === undefined ? { kind: 'unloaded' } : { kind: 'failed', code: 'ENOSYS', reason: disable };
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

/** A bound function and the errno of the last native call made on this thread. */
export interface Bound<P extends Prototype> {
  fn: BoundFn<P>;
  errno: () => number;
}

type Resolved = { fn: RawFn; koffi: typeof KoffiModule } | NativeErr;

function resolve(proto: Prototype): Resolved {
  const s = load();
  if (s.kind === 'failed') return fail(s.code, s.reason);
  if (s.kind !== 'loaded') return fail('ENOSYS', 'native layer not loaded');
  const b = s.b;
  let fn = b.fns.get(proto);
  if (fn === undefined) {
    try {
      fn = b.lib.func(proto) as RawFn;
    } catch (e) {
      warnOnce(`fn:${nameOf(proto)}`, `${nameOf(proto)}() not available in ${b.libName}: ${describeError(e)}`);
      fn = null;
    }
    b.fns.set(proto, fn);
  }
  if (fn === null) return fail('ENOTSUP', `${nameOf(proto)}() is not available in ${b.libName}`);
  return { fn, koffi: b.koffi };
}

function isErr(r: Resolved): r is NativeErr {
  return 'ok' in r;
}

/**
 * The function itself, for a hot path that calls it directly (no argument array, no result
 * object): it returns the raw value (-1 on failure, then `errno()` is the reason).
 */
export function bindRaw<P extends Prototype>(proto: P): Bound<P> | NativeErr {
  const r = resolve(proto);
  if (isErr(r)) return r;
  const { koffi } = r;
  return { fn: r.fn, errno: () => koffi.errno() };
}

/** `detail` goes between the parentheses of the label in error messages (`open(/proc/1/ns)`). */
const labelOf = (proto: Prototype, detail: string | undefined): string => `${nameOf(proto)}(${detail ?? ''})`;

/**
 * Call a native function returning an int/long; -1 means failure with errno. The label is built
 * only on failure and errno is read only then, so the success path allocates nothing beyond its
 * result.
 */
export function callInt<P extends Prototype>(proto: P, args: ArgsOf<P>, detail?: string): NativeResult<number> {
  const r = resolve(proto);
  if (isErr(r)) return r;
  let ret: unknown;
  try {
    ret = r.fn(...args);
  } catch (e) {
    return fail('EINVAL', `${labelOf(proto, detail)}: bad arguments for native call: ${describeError(e)}`, 22);
  }
  const n = typeof ret === 'bigint' ? Number(ret) : ret;
  if (typeof n !== 'number') return fail('EIO', `${labelOf(proto, detail)}: unexpected return value`, 5);
  if (n < 0) {
    // No native call has run since r.fn: errno is still the one it set.
    const errno = r.koffi.errno();
    const code = errnoName(errno);
    return fail(code, `${labelOf(proto, detail)}: ${code}`, errno);
  }
  return ok(n);
}
