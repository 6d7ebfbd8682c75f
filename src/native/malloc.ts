/** glibc's malloc arena cap, for the daemon's memory (native-notes/memory.md). */
import { callInt } from './loader.js';
import type { LibcPrototypes } from './prototypes.js';

const MALLOC_CALLS = {
  mallopt: 'int mallopt(int param, int value)',
} as const satisfies LibcPrototypes;

/** glibc's M_ARENA_MAX. */
const M_ARENA_MAX = -8;

/**
 * mallopt(M_ARENA_MAX, n): glibc gives each thread that mallocs its own arena (64 MB reserved,
 * MBs resident); V8's and libuv's helper threads would otherwise each keep one. Returns false where
 * it cannot be set (musl has no mallopt; glibc returns 0 on failure, not -1).
 */
export function setMallocArenaMax(n: number): boolean {
  const r = callInt(MALLOC_CALLS.mallopt, [M_ARENA_MAX, n]);
  return r.ok && r.value === 1;
}
