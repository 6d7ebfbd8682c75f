/**
 * A small seeded property-testing helper (the project's dependencies are fixed: no fast-check).
 *
 *   forAll(t, 'parseStat never throws', gen.latin1(200), (s) => { parseStat(s); });
 *
 * Each property runs `runs` cases (default 2,000) from a xorshift128 PRNG seeded from the property
 * name (or env PROP_SEED, a number, or `random`), so a failure is reproducible. On the first
 * failing case the input is shrunk (when the generator has a shrinker) and the failure reports the
 * seed, the case number, the shrunk and the original input. A property fails when it throws or
 * returns false.
 */
import type { Test } from 'tap';

/** xorshift128: fast, seedable, good enough for test inputs. */
export class Rng {
  private x: number;
  private y: number;
  private z: number;
  private w: number;

  constructor(readonly seed: number) {
    // splitmix32 to spread the seed over the four words (and never all zero)
    let s = seed >>> 0;
    const mix = (): number => {
      s = (s + 0x9e3779b9) >>> 0;
      let r = s;
      r = Math.imul(r ^ (r >>> 16), 0x85ebca6b) >>> 0;
      r = Math.imul(r ^ (r >>> 13), 0xc2b2ae35) >>> 0;
      return (r ^ (r >>> 16)) >>> 0;
    };
    this.x = mix();
    this.y = mix();
    this.z = mix();
    this.w = mix() || 1;
  }

  /** Next uint32. */
  next(): number {
    const t = (this.x ^ (this.x << 11)) >>> 0;
    this.x = this.y;
    this.y = this.z;
    this.z = this.w;
    this.w = (this.w ^ (this.w >>> 19) ^ (t ^ (t >>> 8))) >>> 0;
    return this.w;
  }

  /** Integer in [lo, hi] (inclusive), for ranges up to 2^53. */
  int(lo: number, hi: number): number {
    const span = hi - lo + 1;
    if (span <= 0x100000000) return lo + (this.next() % span);
    const big = this.next() * 0x200000 + (this.next() >>> 11); // 53 random bits
    return lo + (big % span);
  }

  bool(p = 0.5): boolean {
    return this.next() / 0x100000000 < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty list');
    return items[this.int(0, items.length - 1)] as T;
  }
}

export interface Gen<T> {
  (r: Rng): T;
  /** Smaller candidates of a failing value, best first. */
  shrink?: (v: T) => Iterable<T>;
}

function withShrink<T>(g: (r: Rng) => T, shrink: (v: T) => Iterable<T>): Gen<T> {
  const out: Gen<T> = (r) => g(r);
  out.shrink = shrink;
  return out;
}

/** Halves, then single characters removed. */
export function* shrinkString(s: string): Iterable<string> {
  if (s.length === 0) return;
  yield '';
  for (let size = s.length >> 1; size >= 1; size >>= 1) {
    for (let i = 0; i + size <= s.length; i += size) yield s.slice(0, i) + s.slice(i + size);
  }
}

export function* shrinkArray<T>(a: readonly T[]): Iterable<T[]> {
  for (let i = 0; i < a.length; i++) yield [...a.slice(0, i), ...a.slice(i + 1)];
}

/** Characters that break naive parsers of /proc text. */
const NASTY = [' ', '\t', '\n', '\r', '\0', '(', ')', '[', ']', ':', '-', '\\', '#', '+', ',', '=', '0', '9', '\u00ff', '\u0080'];

export const gen = {
  /** Arbitrary bytes, as the latin1 string the reader makes of them (one char per byte). */
  latin1(maxLen: number): Gen<string> {
    return withShrink((r) => {
      const n = r.int(0, maxLen);
      let s = '';
      for (let i = 0; i < n; i++) s += r.bool(0.3) ? r.pick(NASTY) : String.fromCharCode(r.int(0, 255));
      return s;
    }, shrinkString);
  },
  /** Arbitrary UTF-16 text, lone surrogates included. */
  unicode(maxLen: number): Gen<string> {
    return withShrink((r) => {
      const n = r.int(0, maxLen);
      let s = '';
      for (let i = 0; i < n; i++) {
        const k = r.int(0, 9);
        s += k < 3 ? r.pick(NASTY) : k < 7 ? String.fromCharCode(r.int(0x20, 0x7e)) : String.fromCharCode(r.int(0, 0xffff));
      }
      return s;
    }, shrinkString);
  },
  /** Text from a small alphabet (more collisions with syntax than uniform bytes). */
  from(alphabet: string, maxLen: number): Gen<string> {
    return withShrink((r) => {
      const n = r.int(0, maxLen);
      let s = '';
      for (let i = 0; i < n; i++) s += alphabet.charAt(r.int(0, alphabet.length - 1));
      return s;
    }, shrinkString);
  },
  array<T>(item: (r: Rng) => T, maxLen: number): Gen<T[]> {
    return withShrink((r) => Array.from({ length: r.int(0, maxLen) }, () => item(r)), shrinkArray);
  },
  oneOf<T>(...gens: Array<(r: Rng) => T>): Gen<T> {
    return (r) => r.pick(gens)(r);
  },
};

export interface ForAllOptions {
  runs?: number;
  seed?: number;
}

function seedFor(name: string, explicit: number | undefined): number {
  if (explicit !== undefined) return explicit >>> 0;
  const env = process.env['PROP_SEED'];
  if (env === 'random') return (Math.random() * 0x100000000) >>> 0;
  if (env !== undefined && /^[0-9]+$/.test(env)) return Number(env) >>> 0;
  let h = 0x811c9dc5; // FNV-1a of the name: each property has its own stable stream
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

function show(v: unknown): string {
  const text = JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? String(x) : x));
  return text === undefined ? String(v) : text.length > 2000 ? `${text.slice(0, 2000)}... (${text.length} chars)` : text;
}

// eslint-disable-next-line @typescript-eslint/no-invalid-void-type -- a property asserts (returns nothing) or returns a verdict
function fails<T>(prop: (v: T) => void | boolean, v: T): string | null {
  try {
    return prop(v) === false ? 'property returned false' : null;
  } catch (err) {
    return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  }
}

/** Runs the property over `runs` generated cases; one tap assertion for the whole property. */
// eslint-disable-next-line @typescript-eslint/no-invalid-void-type -- a property asserts (returns nothing) or returns a verdict
export function forAll<T>(t: Test, name: string, g: Gen<T>, prop: (v: T) => void | boolean, opts: ForAllOptions = {}): boolean {
  const runs = opts.runs ?? 2000;
  const seed = seedFor(name, opts.seed);
  const r = new Rng(seed);
  for (let i = 0; i < runs; i++) {
    const v = g(r);
    const why = fails(prop, v);
    if (why === null) continue;
    let small = v;
    let smallWhy = why;
    if (g.shrink) {
      // Greedy: take the first smaller candidate that still fails, until none does (bounded).
      let steps = 0;
      let improved = true;
      while (improved && steps < 500) {
        improved = false;
        for (const c of g.shrink(small)) {
          if (++steps >= 500) break;
          const w = fails(prop, c);
          if (w !== null) {
            small = c;
            smallWhy = w;
            improved = true;
            break;
          }
        }
      }
    }
    t.fail(`${name}: case ${i} of ${runs} failed (seed ${seed}; rerun with PROP_SEED=${seed})`, {
      error: smallWhy,
      shrunk: show(small),
      original: show(v),
    });
    return false;
  }
  t.pass(`${name}: ${runs} cases (seed ${seed})`);
  return true;
}
