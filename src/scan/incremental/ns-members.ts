/**
 * Each namespace's processes, by count and lowest pid. The members themselves are the processes
 * whose links hold the namespace: a set of pids per namespace cost ~30 bytes per process and
 * namespace (the host's eight namespaces each have nearly every process). When a namespace's
 * lowest pid leaves, the new lowest is found later in one pass over the processes for every such
 * namespace at once (findStaleMins), not one pass per exit.
 */
import type { NsLink, NsType } from '../../procfs/types.js';

export interface NsMembers {
  type: NsType;
  count: number;
  /** Lowest member pid, or -1 when it left and must be found again (findStaleMins). */
  min: number;
}

export class NamespaceMembers {
  /** By namespace inode. */
  readonly byNs = new Map<number, NsMembers>();
  /** Namespaces (by inode) whose lowest pid left since the last findStaleMins. */
  private readonly staleMins = new Set<number>();

  add(pid: number, link: NsLink): void {
    let m = this.byNs.get(link.ino);
    if (!m) {
      m = { type: link.type, count: 0, min: pid };
      this.byNs.set(link.ino, m);
    } else if (m.min !== -1 && pid < m.min) {
      m.min = pid;
    }
    m.count++;
  }

  remove(pid: number, link: NsLink): void {
    const m = this.byNs.get(link.ino);
    if (!m) return;
    m.count--;
    if (m.count <= 0) {
      this.byNs.delete(link.ino);
      this.staleMins.delete(link.ino);
    } else if (m.min === pid) {
      m.min = -1;
      this.staleMins.add(link.ino);
    }
  }

  /** Namespaces whose lowest pid is not known now. */
  get staleCount(): number {
    return this.staleMins.size;
  }

  /** The lowest pid of every namespace whose lowest left, from the processes' links. */
  findStaleMins(procs: ReadonlyMap<number, { readonly links: readonly NsLink[] }>): void {
    if (this.staleMins.size === 0) return;
    const found = new Map<number, number>();
    for (const [pid, p] of procs) {
      for (const l of p.links) {
        if (!this.staleMins.has(l.ino)) continue;
        const min = found.get(l.ino);
        if (min === undefined || pid < min) found.set(l.ino, pid);
      }
    }
    for (const ino of this.staleMins) {
      const m = this.byNs.get(ino);
      const min = found.get(ino);
      if (m !== undefined && min !== undefined) m.min = min;
    }
    this.staleMins.clear();
  }
}
