/**
 * Races the kernel allows (a process starting or exiting between two reads of /proc, lsns exiting
 * 1 when a process vanishes during its scan) are handled by reading again until two consecutive
 * reads agree — never by loosening a comparison. A real, persistent difference still fails: it
 * agrees with itself, and the caller's comparison then fails on it.
 */

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface Stable<T> {
  /** The last value read. */
  value: T;
  /** Whether the last two reads agreed (false: gave up after `attempts` reads or `withinMs`). */
  agreed: boolean;
  reads: number;
}

export interface StableOptions {
  /** Most reads (default 20). */
  attempts?: number;
  /** Give up after this long (default 120 s: a concurrent churn elsewhere on the host passes). */
  withinMs?: number;
  /** Pause between reads (default 100 ms). */
  pauseMs?: number;
}

/** Reads until two consecutive reads are `same`. */
export async function untilTwoAgree<T>(read: () => T | Promise<T>, same: (a: T, b: T) => boolean, opts: StableOptions = {}): Promise<Stable<T>> {
  const attempts = opts.attempts ?? 20;
  const end = Date.now() + (opts.withinMs ?? 120_000);
  let prev = await read();
  let reads = 1;
  while (reads < attempts && Date.now() < end) {
    await sleep(opts.pauseMs ?? 100);
    const next = await read();
    reads++;
    if (same(prev, next)) return { value: next, agreed: true, reads };
    prev = next;
  }
  return { value: prev, agreed: false, reads };
}

/**
 * Runs `attempt` until it reports no problem, or gives up and returns the last problem. For a
 * comparison bracketed by two reads of a changing host: each attempt is one consistent bracket.
 */
export async function retryWhileRacing(attempt: () => Promise<string | null>, opts: StableOptions = {}): Promise<{ problem: string | null; attempts: number }> {
  const attempts = opts.attempts ?? 20;
  const end = Date.now() + (opts.withinMs ?? 120_000);
  let problem: string | null;
  let n = 0;
  do {
    if (n > 0) await sleep(opts.pauseMs ?? 100);
    problem = await attempt();
    n++;
  } while (problem !== null && n < attempts && Date.now() < end);
  return { problem, attempts: n };
}
