/**
 * The columns that need more than the process walk: NSFS (mount tables), PNS/ONS (ioctl_ns),
 * NETNSID (rtnetlink), HOSTNAME (setns+uname on a worker thread), and the rows of namespaces that
 * only a bind mount keeps alive. Each is computed only when asked for. Native failures degrade
 * to lsns's empty/0 values with one warning per kind, never an exception.
 */
import { NetnsIdQuery, netnsIdCell } from '../native/netnsid.js';
import { terminateUtsWorker, utsHostnames, type HostnameReader } from '../native/uts.js';
import type { UserNames } from '../procfs/passwd.js';
import { ProcReader } from '../procfs/reader.js';
import { NS_TYPES, type NsType } from '../procfs/types.js';
import type { NamespaceRow } from './namespaces.js';
import { utf8Bytes } from '../procfs/bytes.js';
import { nsfsByNamespace } from './nsfs-mounts.js';
import { parseNsfsMounts } from '../procfs/mountinfo.js';
import { findPersistent, type PersistentNs } from './persistent.js';
import { RelationWalker, type NsRelation } from './relations.js';
import { hierarchyHoldText, mountHoldText } from './holders/holder.js';

export interface EnrichNeeds {
  nsfs: boolean;
  relations: boolean;
  netnsid: boolean;
  hostname: boolean;
}

export interface EnricherOptions {
  /**
   * The UTS hostname reader to use instead of the process-wide shared one (a UTS worker, or a
   * reader on the calling thread). It belongs to the caller: close() leaves it running, so a caller can keep one worker across refreshes
   * (and clears its cache per refresh: hostnames change, and inodes are reused).
   */
  uts?: HostnameReader;
}

export class Enricher {
  private readonly walker = new RelationWalker();
  private readonly accessPaths = new Map<number, string>();
  private ownNsfs: Map<string, string[]> | null = null;
  private netnsid: NetnsIdQuery | null = null;
  private readonly warned = new Set<string>();

  constructor(
    private readonly reader: ProcReader,
    private readonly users: UserNames,
    private readonly needs: EnrichNeeds,
    private readonly warn: (message: string) => void,
    private readonly opts: EnricherOptions = {},
  ) {}

  private warnOnce(kind: string, message: string): void {
    if (this.warned.has(kind)) return;
    this.warned.add(kind);
    this.warn(message);
  }

  /** A path whose open(2) reaches the namespace of a row. */
  accessPath(row: NamespaceRow): string | null {
    const known = this.accessPaths.get(row.ns);
    if (known) return known;
    return row.pid === null ? null : this.reader.resolve(String(row.pid), 'ns', row.type);
  }

  /** Every namespace the ioctl walk has met so far. */
  knownNamespaces(): number[] {
    return [...this.walker.byIno.keys()];
  }

  relation(ino: number): NsRelation | undefined {
    return this.walker.byIno.get(ino);
  }

  private walk(row: NamespaceRow): NsRelation | null {
    const done = this.walker.byIno.get(row.ns);
    if (done) return done;
    const path = this.accessPath(row);
    return path === null ? null : this.walker.fromPath(path);
  }

  /** uid that created the user namespace owning `ino` (or `ino` itself when it is a user ns). */
  ownerUid(ino: number): number | null {
    const rel = this.walker.byIno.get(ino);
    if (!rel) return null;
    if (rel.type === 'user') return rel.ownerUid;
    return rel.ons === 0 ? null : (this.walker.byIno.get(rel.ons)?.ownerUid ?? null);
  }

  /** Rows for namespaces pinned only by nsfs bind mounts, NPROCS 0. */
  persistentRows(rows: readonly NamespaceRow[], types: readonly NsType[]): NamespaceRow[] {
    const found: PersistentNs[] = findPersistent(this.reader, rows, types);
    return found.map((p) => {
      this.accessPaths.set(p.ino, p.accessPath);
      const row: NamespaceRow = {
        ns: p.ino,
        type: p.type,
        path: p.mountPoints[0] ?? null,
        nprocs: 0,
        pid: null,
        ppid: null,
        command: null,
        uid: null,
        user: null,
        nsfs: p.mountPoints,
        holder: { kind: 'mount', text: mountHoldText(p.mountPoints[0] ?? '', p.mntNs), more: p.mountPoints.length - 1 },
      };
      const rel = this.walk(row);
      const uid = rel ? this.ownerUid(p.ino) : null;
      if (uid !== null) {
        row.uid = uid;
        row.user = this.users.name(uid);
      }
      return row;
    });
  }

  /** Paths (parts under the reader's root) that open the namespaces of rows a thread or an fd holds. */
  addAccessPaths(paths: ReadonlyMap<number, readonly string[]>): void {
    for (const [ino, parts] of paths) this.accessPaths.set(ino, this.reader.resolve(...parts));
  }

  /** A path (as open(2) takes it) that reaches namespace `ino`, found by an earlier lookup. */
  addAccessPath(ino: number, path: string): void {
    this.accessPaths.set(ino, path);
  }

  /**
   * Rows of the namespaces that nothing in `rows` is, but that are the parent (pid and user) or
   * the owning user namespace of one that is: walked with ioctl_ns from each row's namespace. Such
   * a namespace lives only because its child does (NPROCS 0, held by the hierarchy).
   */
  hierarchyRows(rows: readonly NamespaceRow[]): NamespaceRow[] {
    const known = new Set(rows.map((r) => r.ns));
    for (const row of rows) this.walk(row);
    const children = new Map<number, Array<{ relation: 'parent' | 'owner'; type: NsType; ino: number }>>();
    const add = (ancestor: number, relation: 'parent' | 'owner', type: NsType, ino: number): void => {
      if (ancestor === 0 || known.has(ancestor)) return;
      const list = children.get(ancestor);
      // A user namespace's owner is its parent: one holder, named as the parent.
      if (list?.some((c) => c.ino === ino) === true) return;
      if (list) list.push({ relation, type, ino });
      else children.set(ancestor, [{ relation, type, ino }]);
    };
    for (const rel of this.walker.byIno.values()) {
      if (rel.type === null) continue;
      add(rel.pns, 'parent', rel.type, rel.ino);
      add(rel.ons, 'owner', rel.type, rel.ino);
    }
    const out: NamespaceRow[] = [];
    for (const [ino, list] of children) {
      const row = this.placeholder(ino);
      if (row === null) continue;
      list.sort((a, b) => (a.relation === b.relation ? a.ino - b.ino : a.relation === 'parent' ? -1 : 1));
      const first = list[0] as (typeof list)[number];
      row.holder = { kind: 'hierarchy', text: hierarchyHoldText(first.relation, first), more: list.length - 1 };
      out.push(row);
    }
    // Walk failures are not warned about here: they only matter where PNS/ONS are shown (enrichSync says so then).
    return out.sort((a, b) => a.ns - b.ns);
  }

  /** A row for a namespace known only through ioctl_ns (an ancestor in the owner/parent tree). */
  placeholder(ino: number): NamespaceRow | null {
    const rel = this.walker.byIno.get(ino);
    if (!rel || rel.type === null) return null;
    const uid = this.ownerUid(ino);
    const row: NamespaceRow = {
      ns: ino,
      type: rel.type,
      path: null,
      nprocs: 0,
      pid: null,
      ppid: null,
      command: null,
      // lsns shows the owner's uid in UID too (black-box: `"uid": 0, "user": "root"`).
      uid,
      user: uid === null ? null : this.users.name(uid),
    };
    this.enrichSync(row);
    return row;
  }

  /** Fills the synchronous columns asked for. */
  enrichSync(row: NamespaceRow): void {
    if (this.needs.relations) {
      const rel = this.walk(row);
      row.pns = rel?.pns ?? 0;
      row.ons = rel?.ons ?? 0;
      const summary = this.walker.summary();
      if (summary) this.warnOnce('relations', summary);
    }
    if (this.needs.nsfs && row.nsfs === undefined) {
      if (this.ownNsfs === null) {
        const text = this.reader.readMountinfo('self');
        this.ownNsfs = nsfsByNamespace(text === null ? [] : parseNsfsMounts(text));
      }
      row.nsfs = this.ownNsfs.get(`${row.type}:${row.ns}`) ?? [];
    }
    if (this.needs.netnsid && row.type === 'net') {
      const path = this.accessPath(row);
      if (this.netnsid === null) this.netnsid = new NetnsIdQuery();
      const r = path === null ? null : this.netnsid.idOf(path);
      row.netnsid = r === null ? '' : netnsIdCell(r);
      if (r !== null && !r.ok) this.warnOnce('netnsid', `NETNSID could not be read (${r.code}: ${r.reason}); shown empty`);
    }
  }

  /** HOSTNAME of every uts row, read inside each UTS namespace on a worker thread. */
  async hostnames(rows: readonly NamespaceRow[]): Promise<void> {
    if (!this.needs.hostname) return;
    const targets = rows
      .filter((r) => r.type === 'uts')
      .map((r) => ({ ino: r.ns, path: this.accessPath(r) }))
      .filter((t): t is { ino: number; path: string } => t.path !== null);
    if (targets.length === 0) return;
    let names: Map<number, string | null>;
    try {
      names = await (this.opts.uts ? this.opts.uts.hostnames(targets) : utsHostnames(targets));
    } catch (err) {
      this.warnOnce('hostname', `UTS hostnames could not be read: ${err instanceof Error ? err.message : String(err)}`);
      return;
    }
    // Only names actually read are set: `hostname` stays absent (an empty cell) where unknown.
    for (const r of rows) {
      if (r.type !== 'uts') continue;
      const name = names.get(r.ns);
      if (name !== undefined && name !== null) r.hostname = utf8Bytes(name);
    }
  }

  /** Releases native resources; the shared UTS worker is stopped, an injected reader is left running. */
  async close(): Promise<void> {
    this.netnsid?.close();
    this.netnsid = null;
    if (this.needs.hostname && this.opts.uts === undefined) await terminateUtsWorker();
  }
}

export const ALL_TYPES: readonly NsType[] = NS_TYPES;
