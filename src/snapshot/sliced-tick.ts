/** One IncrementalScanner tick driven in slices, a turn of the event loop between two. */
import type { IncrementalScanner, TickStats } from '../scan/incremental.js';
import { nextTurn } from './turns.js';

/** Slices of about `sliceMs` (Infinity: the whole tick at once); rejects with 'stopped' when `stopped()` turns true between two. */
export async function runSlicedTick(scanner: IncrementalScanner, sliceMs: number, stopped: () => boolean): Promise<TickStats> {
  const gen = scanner.tick();
  for (;;) {
    const until = performance.now() + sliceMs;
    let r = gen.next();
    while (!r.done && performance.now() < until) r = gen.next();
    if (r.done) return r.value;
    await nextTurn();
    if (stopped()) throw new Error('stopped');
  }
}
