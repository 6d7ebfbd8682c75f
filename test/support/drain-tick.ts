/** Runs an incremental tick to its end at once (the daemon slices it; tests need the result now). */
import type { TickStats } from '../../src/scan/incremental.js';

export function drainTick(scanner: { tick(): Generator<void, TickStats> }): TickStats {
  const gen = scanner.tick();
  for (;;) {
    const r = gen.next();
    if (r.done) return r.value;
  }
}
