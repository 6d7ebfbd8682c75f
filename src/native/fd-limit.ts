/**
 * More file descriptors for the pidfd watcher: one pidfd per process means a host with more
 * processes than RLIMIT_NOFILE allows runs out (EMFILE) and would fall back to listing /proc every
 * tick. Node raises the soft limit to the hard one at start; raising the hard limit needs
 * CAP_SYS_RESOURCE and is bounded by the kernel's /proc/sys/fs/nr_open. See native-notes/pidfd-epoll.md.
 */
import { readFileSync } from 'node:fs';
import { callInt } from './loader.js';
import type { LibcPrototypes } from './prototypes.js';
import { ok, type NativeResult } from './result.js';

const RLIMIT_CALLS = {
  getrlimit: 'int getrlimit(int resource, void *rlim)',
  setrlimit: 'int setrlimit(int resource, const void *rlim)',
} as const satisfies LibcPrototypes;

/** RLIMIT_NOFILE: 7 on every architecture koffi supports here (asm-generic, x86, arm). */
export const RLIMIT_NOFILE = 7;

export interface RLimit {
  soft: number;
  hard: number;
}

/** getrlimit(resource): struct rlimit is two rlim_t (unsigned long: 8 bytes on 64-bit Linux). */
export function sysGetRlimit(resource: number): NativeResult<RLimit> {
  const buf = Buffer.alloc(16);
  const r = callInt(RLIMIT_CALLS.getrlimit, [resource, buf], String(resource));
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
  const r = callInt(RLIMIT_CALLS.setrlimit, [resource, buf], String(resource));
  return r.ok ? ok(undefined) : r;
}

/**
 * The kernel's ceiling for RLIMIT_NOFILE (1,048,576 unless changed); null when unreadable. Read it
 * before fds run out: reading it takes one.
 */
export function nrOpen(): number | null {
  try {
    const n = Number(readFileSync('/proc/sys/fs/nr_open', 'latin1').trim());
    return Number.isSafeInteger(n) && n > 0 ? n : null;
  } catch {
    return null;
  }
}

/** The next limit to ask for: double, at least 65,536, at most nr_open. */
export function nextFdLimit(hard: number, ceiling: number): number | null {
  const want = Math.min(ceiling, Math.max(hard * 2, 65536));
  return want > hard ? want : null;
}

export type FdLimitRaise = { ok: true; from: number; to: number } | { ok: false; why: string };

/** Raises RLIMIT_NOFILE (soft to hard first; then both, with CAP_SYS_RESOURCE). */
export function raiseFdLimit(ceiling: number | null): FdLimitRaise {
  const cur = sysGetRlimit(RLIMIT_NOFILE);
  if (!cur.ok) return { ok: false, why: `getrlimit failed (${cur.code})` };
  const { soft, hard } = cur.value;
  if (soft < hard) {
    const r = sysSetRlimit(RLIMIT_NOFILE, { soft: hard, hard });
    return r.ok ? { ok: true, from: soft, to: hard } : { ok: false, why: `setrlimit failed (${r.code})` };
  }
  if (ceiling === null) return { ok: false, why: `RLIMIT_NOFILE ${hard}; /proc/sys/fs/nr_open unreadable` };
  const next = nextFdLimit(hard, ceiling);
  if (next === null) return { ok: false, why: `RLIMIT_NOFILE ${hard} is the kernel's nr_open` };
  const r = sysSetRlimit(RLIMIT_NOFILE, { soft: next, hard: next });
  if (!r.ok) {
    const why = r.code === 'EPERM' ? `RLIMIT_NOFILE ${hard}; raising it needs CAP_SYS_RESOURCE` : `setrlimit to ${next} failed (${r.code})`;
    return { ok: false, why };
  }
  return { ok: true, from: hard, to: next };
}
