/**
 * Property tests on fast-check: the generators below read like plain functions of a random source
 * (`r.int`, `r.bool`, `r.pick`), and every draw goes through fast-check's `fc.gen()`, so a failure
 * is shrunk by fast-check (each drawn value towards its simplest) and reproducible from its seed.
 *
 *   forAll(t, 'parseStat never throws', gen.latin1(200), (s) => { parseStat(s); });
 *
 * Each property runs `runs` cases (default 2,000), seeded from the property name (or env PROP_SEED,
 * a number, or `random`). A property fails when it throws or returns false; the failure reports the
 * seed, fast-check's replay path and the shrunk input.
 */
import fc from 'fast-check';
import type { Test } from 'tap';

/** The random source a generator draws from. */
export interface Rng {
  /** An integer in [lo, hi]. */
  int(lo: number, hi: number): number;
  /** true with probability p. */
  bool(p?: number): boolean;
  pick<T>(items: readonly T[]): T;
}

export type Gen<T> = (r: Rng) => T;

function rngOf(g: fc.GeneratorValue): Rng {
  return {
    int: (lo, hi) => g(fc.integer, { min: lo, max: hi }),
    // Shrinks towards 0, i.e. towards `true` for p > 0: the simpler branch of most generators.
    bool: (p = 0.5) => g(fc.integer, { min: 0, max: 9999 }) < p * 10000,
    pick: <T>(items: readonly T[]): T => {
      if (items.length === 0) throw new Error('pick from an empty list');
      return items[g(fc.integer, { min: 0, max: items.length - 1 })] as T;
    },
  };
}

/** Characters that break naive parsers of /proc text. */
const NASTY = [' ', '\t', '\n', '\r', '\0', '(', ')', '[', ']', ':', '-', '\\', '#', '+', ',', '=', '0', '9', '\u00ff', '\u0080'];

export const gen = {
  /** Arbitrary bytes, as the latin1 string the reader makes of them (one char per byte). */
  latin1(maxLen: number): Gen<string> {
    return (r) => {
      const n = r.int(0, maxLen);
      let s = '';
      for (let i = 0; i < n; i++) s += r.bool(0.3) ? r.pick(NASTY) : String.fromCharCode(r.int(0, 255));
      return s;
    };
  },
  /** Arbitrary UTF-16 text, lone surrogates included. */
  unicode(maxLen: number): Gen<string> {
    return (r) => {
      const n = r.int(0, maxLen);
      let s = '';
      for (let i = 0; i < n; i++) {
        const k = r.int(0, 9);
        s += k < 3 ? r.pick(NASTY) : k < 7 ? String.fromCharCode(r.int(0x20, 0x7e)) : String.fromCharCode(r.int(0, 0xffff));
      }
      return s;
    };
  },
  /** Text from a small alphabet (more collisions with syntax than uniform bytes). */
  from(alphabet: string, maxLen: number): Gen<string> {
    return (r) => {
      const n = r.int(0, maxLen);
      let s = '';
      for (let i = 0; i < n; i++) s += alphabet.charAt(r.int(0, alphabet.length - 1));
      return s;
    };
  },
  array<T>(item: Gen<T>, maxLen: number): Gen<T[]> {
    return (r) => Array.from({ length: r.int(0, maxLen) }, () => item(r));
  },
  oneOf<T>(...gens: Array<Gen<T>>): Gen<T> {
    return (r) => r.pick(gens)(r);
  },
};

export interface ForAllOptions {
  runs?: number;
  seed?: number;
}

function seedFor(name: string, explicit: number | undefined): number {
  if (explicit !== undefined) return explicit | 0;
  const env = process.env['PROP_SEED'];
  if (env === 'random') return (Math.random() * 0x100000000) | 0;
  if (env !== undefined && /^-?[0-9]+$/.test(env)) return Number(env) | 0;
  let h = 0x811c9dc5; // FNV-1a of the name: each property has its own stable stream
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193) >>> 0;
  return h | 0;
}

function show(v: unknown): string {
  const text = JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? String(x) : x));
  return text === undefined ? String(v) : text.length > 2000 ? `${text.slice(0, 2000)}... (${text.length} chars)` : text;
}

/** Runs the property over `runs` generated cases; one tap assertion for the whole property. */
// eslint-disable-next-line @typescript-eslint/no-invalid-void-type -- a property asserts (returns nothing) or returns a verdict
export function forAll<T>(t: Test, name: string, g: Gen<T>, prop: (v: T) => void | boolean, opts: ForAllOptions = {}): boolean {
  const runs = opts.runs ?? 2000;
  const seed = seedFor(name, opts.seed);
  // fast-check shrinks by re-running the predicate on smaller draws; the last failing input it
  // ran is the shrunk counterexample.
  let failing: { value: T } | null = null;
  const result = fc.check(
    fc.property(fc.gen(), (draw) => {
      const v = g(rngOf(draw));
      try {
        if (prop(v) === false) throw new Error('property returned false');
      } catch (err) {
        failing = { value: v };
        throw err;
      }
    }),
    { numRuns: runs, seed },
  );
  if (result.failed) {
    const shrunk = failing as { value: T } | null;
    const err: unknown = result.errorInstance;
    t.fail(`${name}: failed after ${result.numRuns} of ${runs} cases (seed ${seed}, path ${result.counterexamplePath ?? ''}; rerun with PROP_SEED=${seed})`, {
      error: err instanceof Error ? `${err.name}: ${err.message}` : String(err),
      shrunk: shrunk ? show(shrunk.value) : '',
    });
    return false;
  }
  t.pass(`${name}: ${runs} cases (seed ${seed})`);
  return true;
}
