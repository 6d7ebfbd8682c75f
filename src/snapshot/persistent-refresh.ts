/**
 * Namespaces only nsfs bind mounts keep alive (NPROCS 0) for the daemon: looked up again every
 * PERSISTENT_EVERY_MS, and when a mount namespace appears (it may hold new bind mounts). Likewise
 * the namespaces only the hierarchy keeps alive (a user or pid namespace's parent, a namespace's
 * owning user namespace): walked with ioctl_ns every PERSISTENT_EVERY_MS and whenever the set of
 * namespaces found otherwise changed.
 */
import type { UserNames } from '../procfs/passwd.js';
import type { ProcReader } from '../procfs/reader.js';
import { NS_TYPES } from '../procfs/types.js';
import { Enricher } from '../scan/enrich.js';
import type { NamespaceRow } from '../scan/namespaces.js';

/** Bind-mount-only namespaces are looked up again this often (and when a mount namespace appears). */
export const PERSISTENT_EVERY_MS = 10_000;

export class PersistentRefresh {
  private found: NamespaceRow[] = [];
  /** A path to each one's nsfs file (setns into it reads its hostname). */
  private access = new Map<number, string | null>();
  private at = 0;
  private mntSeen = '';
  private above: NamespaceRow[] = [];
  private aboveAt = 0;
  private aboveSeen = '';

  constructor(private readonly reader: ProcReader) {}

  /** The rows of the last lookup (the same objects from one lookup to the next). */
  get rows(): readonly NamespaceRow[] {
    return this.found;
  }

  /** Whether a lookup is due by age alone. */
  due(now: number): boolean {
    return now - this.at >= PERSISTENT_EVERY_MS;
  }

  accessPath(ns: number): string | null {
    return this.access.get(ns) ?? null;
  }

  /**
   * The hierarchy's rows above `rows` (every namespace found otherwise; `held`: the paths of the
   * thread- and fd-held ones), the same objects while neither the set nor the period changed.
   */
  hierarchy(rows: readonly NamespaceRow[], held: ReadonlyMap<number, readonly string[]>, users: UserNames, warnings: string[], now: number): readonly NamespaceRow[] {
    const seen = rows.map((r) => r.ns).join(',');
    if (seen === this.aboveSeen && now - this.aboveAt < PERSISTENT_EVERY_MS) return this.above;
    this.aboveSeen = seen;
    this.aboveAt = now;
    const enricher = new Enricher(this.reader, users, { nsfs: false, relations: false, netnsid: false, hostname: false }, (m) => warnings.push(m));
    for (const [ns, path] of this.access) if (path !== null) enricher.addAccessPath(ns, path);
    enricher.addAccessPaths(held);
    this.above = enricher.hierarchyRows(rows);
    return this.above;
  }

  /** Looks again when due or when a new mount namespace showed up among the process rows. */
  refresh(rows: readonly NamespaceRow[], users: UserNames, warnings: string[], now: number): void {
    const mnt = rows
      .filter((r) => r.type === 'mnt')
      .map((r) => r.ns)
      .join(',');
    if (mnt === this.mntSeen && !this.due(now)) return;
    this.mntSeen = mnt;
    this.at = now;
    const enricher = new Enricher(this.reader, users, { nsfs: false, relations: false, netnsid: false, hostname: false }, (m) => warnings.push(m));
    this.found = enricher.persistentRows(rows, NS_TYPES);
    this.access = new Map(this.found.map((p) => [p.ns, enricher.accessPath(p)]));
  }
}
