/**
 * setns(CLONE_NEWUTS) + uname() + setns back, synchronously, on the CALLING thread. Only for a
 * thread that runs nothing else while it reads: a dedicated worker (uts-worker.ts), or the daemon's
 * main thread via InThreadUtsReader({ mainThread: true }), whose three calls run back to back with
 * no JS in between. setns moves only the calling thread: libuv's pool is never touched. See
 * native-notes/setns-uname-worker.md.
 */
import { isMainThread, threadId } from 'node:worker_threads';
import { fdStat, sysClose, sysOpen } from './fd.js';
import { callInt } from './loader.js';
import { CLONE_NEWUTS } from './nsfs.js';
import type { LibcPrototypes } from './prototypes.js';
import { fail, ok, type NativeResult } from './result.js';
import type { UtsItemResult, UtsTarget } from './uts-protocol.js';
import type { HostnameReader } from './uts.js';

const UTS_CALLS = {
  setns: 'int setns(int fd, int nstype)',
  uname: 'int uname(void *buf)',
  gettid: 'int gettid(void)',
} as const satisfies LibcPrototypes;

export function sysSetns(fd: number, nstype: number): NativeResult<void> {
  const r = callInt(UTS_CALLS.setns, [fd, nstype]);
  return r.ok ? ok(undefined) : r;
}

export function sysGettid(): NativeResult<number> {
  return callInt(UTS_CALLS.gettid, []);
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
  const r = callInt(UTS_CALLS.uname, [buf]);
  if (!r.ok) return r;
  const out: Utsname = { sysname: '', nodename: '', release: '', version: '', machine: '', domainname: '' };
  UTS_FIELDS.forEach((f, i) => {
    out[f] = cField(buf, i * UTS_LEN, UTS_LEN);
  });
  return ok(out);
}

export type UtsHome = NativeResult<{ fd: number; ino: number }>;

/** fd and inode of the UTS namespace the calling thread is in now (kept open: setns goes back to it). */
export function openUtsHome(): UtsHome {
  const o = sysOpen('/proc/thread-self/ns/uts');
  if (!o.ok) return o;
  const st = fdStat(o.value);
  if (!st.ok) {
    sysClose(o.value);
    return st;
  }
  return { ok: true as const, value: { fd: o.value, ino: st.value.ino } };
}

function itemFail(ino: number, r: { code: string; errno: number; reason: string }): UtsItemResult {
  return { ino, ok: false, code: r.code, errno: r.errno, reason: r.reason };
}

/**
 * The hostname inside one UTS namespace. `fatal` is called (and must not return) when the thread
 * cannot return to its home namespace: it must then stop serving anything.
 */
export function readUtsHostname(home: UtsHome, t: UtsTarget, fatal: (reason: string) => never): UtsItemResult {
  if (!home.ok) return itemFail(t.ino, { ...home, reason: `own UTS namespace not readable: ${home.reason}` });
  const o = sysOpen(t.path);
  if (!o.ok) return itemFail(t.ino, o);
  const fd = o.value;
  try {
    const st = fdStat(fd);
    if (!st.ok) return itemFail(t.ino, st);
    if (st.value.ino !== t.ino) {
      return itemFail(t.ino, fail('ESTALE', `${t.path} is namespace ${st.value.ino}, expected ${t.ino}`, 116));
    }
    if (st.value.ino === home.value.ino) {
      const u = sysUname();
      return u.ok ? { ino: t.ino, ok: true, hostname: u.value.nodename } : itemFail(t.ino, u);
    }
    const s = sysSetns(fd, CLONE_NEWUTS);
    if (!s.ok) return itemFail(t.ino, s); // EINVAL: not a UTS ns; EPERM: no CAP_SYS_ADMIN over its owner
    const u = sysUname();
    const back = sysSetns(home.value.fd, CLONE_NEWUTS);
    if (!back.ok) fatal(`cannot return to own UTS namespace: ${back.reason}`);
    return u.ok ? { ino: t.ino, ok: true, hostname: u.value.nodename } : itemFail(t.ino, u);
  } finally {
    sysClose(fd);
  }
}

/**
 * Hostnames read on the calling thread itself (no UTS worker: one isolate less, no message
 * passing). Same interface and cache rules as UtsHostnameReader (successes cached by inode until
 * clearCache()). If the thread cannot return to its own UTS namespace it exits: a worker ends, the
 * daemon's main thread ends the daemon (exit 1; its supervisor restarts it) rather than go on in a
 * foreign namespace.
 */
export class InThreadUtsReader implements HostnameReader {
  private home: UtsHome | null = null;
  private readonly cache = new Map<number, string>();

  /**
   * `mainThread`: the daemon reads on its main thread, which is safe for the same reason (the
   * three calls run back to back with no JS, callback or I/O of this thread in between; setns moves
   * no other thread). Without it the main thread is refused, as a guard for library callers.
   */
  constructor(opts: { mainThread?: boolean } = {}) {
    if (isMainThread && !opts.mainThread) throw new Error('InThreadUtsReader must run on a dedicated worker thread, never the main thread');
  }

  /** Forget one namespace's cached hostname (it is read again next time). */
  forget(ino: number): void {
    this.cache.delete(ino);
  }

  /** This thread's id (the thread that reads the hostnames). */
  get threadId(): number | null {
    return threadId;
  }

  /** Hostname per namespace inode; null where it could not be read. */
  hostnames(targets: readonly UtsTarget[]): Promise<Map<number, string | null>> {
    const out = new Map<number, string | null>();
    for (const t of targets) {
      if (out.has(t.ino)) continue;
      const c = this.cache.get(t.ino);
      if (c !== undefined) {
        out.set(t.ino, c);
        continue;
      }
      this.home ??= openUtsHome();
      const r = readUtsHostname(this.home, t, (reason) => {
        // A thread left in a foreign UTS namespace must not go on: end it (in a worker, process.exit
        // ends only this thread).
        process.emitWarning(reason);
        process.exit(1);
      });
      if (r.ok) this.cache.set(r.ino, r.hostname);
      out.set(t.ino, r.ok ? r.hostname : null);
    }
    return Promise.resolve(out);
  }

  clearCache(): void {
    this.cache.clear();
  }

  /** Closes the home fd (a later read opens it again, on the calling thread). */
  terminate(): Promise<void> {
    if (this.home?.ok) sysClose(this.home.value.fd);
    this.home = null;
    return Promise.resolve();
  }
}
