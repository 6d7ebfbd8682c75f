/**
 * Interned link sets: one shared, frozen array per distinct set of links, counted by the
 * processes that hold it. Thousands of processes in the host's namespaces then hold one array of
 * eight links instead of thousands (memory), and a check made per set (the report's "all the
 * host's?") is made once per array.
 */
import type { NsLink } from '../../procfs/types.js';

export class LinkSets {
  private readonly sets = new Map<string, { links: NsLink[]; refs: number }>();
  private readonly keyOf = new WeakMap<NsLink[], string>();

  /** The shared array equal to `links` (`links` itself, frozen, when it is the first of its set). */
  intern(links: NsLink[]): NsLink[] {
    let key = '';
    for (const l of links) key += `${l.type}:${l.ino},`;
    const known = this.sets.get(key);
    if (known) {
      known.refs++;
      return known.links;
    }
    Object.freeze(links);
    for (const l of links) Object.freeze(l);
    this.sets.set(key, { links, refs: 1 });
    this.keyOf.set(links, key);
    return links;
  }

  /** One holder of an interned array fewer; the set is forgotten with its last holder. */
  release(links: NsLink[]): void {
    const key = this.keyOf.get(links);
    if (key === undefined) return;
    const set = this.sets.get(key);
    if (set && --set.refs === 0) this.sets.delete(key);
  }

  /** Distinct sets held. */
  get size(): number {
    return this.sets.size;
  }
}
