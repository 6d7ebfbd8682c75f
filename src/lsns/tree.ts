/** Output rows arranged as lsns arranges them: a flat list or a forest. */
import type { NamespaceRow } from '../scan/namespaces.js';

export interface OutNode<R = NamespaceRow> {
  row: R;
  children: OutNode<R>[];
}

export function flat<R>(rows: readonly R[]): OutNode<R>[] {
  return rows.map((row) => ({ row, children: [] }));
}

/**
 * lsns 2.38's process tree: a row hangs under an EARLIER row (in NS order) whose PID is this
 * row's PPID, even when the two rows are of different types. When several earlier rows have that
 * PID the most recent one is the parent. Rows without such a parent are roots.
 */
export function processForest(rows: readonly NamespaceRow[]): OutNode[] {
  const roots: OutNode[] = [];
  const lastByPid = new Map<number, OutNode>();
  for (const row of rows) {
    const node: OutNode = { row, children: [] };
    const parent = row.ppid !== null && row.ppid !== row.pid ? lastByPid.get(row.ppid) : undefined;
    if (parent) parent.children.push(node);
    else roots.push(node);
    if (row.pid !== null) lastByPid.set(row.pid, node);
  }
  return roots;
}

export interface RelationContext {
  /** A row for a namespace that is not displayed: the scanned row when there is one (filtered out
   * by -p), else a placeholder with NPROCS 0, or null when nothing is known of it. */
  lookup(ino: number): NamespaceRow | null;
  /** The tree's relation: ONS for the owner tree, PNS for the parent tree (0: none). */
  ancestorOf(ino: number): number;
  /** ONS of any known namespace (0: none). */
  ownerOf(ino: number): number;
}

/**
 * `--tree=owner|parent` (see native-notes/lsns-output-format.md §11): rows in NS order, each
 * emitted after its tree ancestor (recursively) and hung under it; a row without one is a root,
 * emitted after its OWNER user namespace. That is why the initial user namespace comes first
 * although its inode is larger than the initial mnt namespace's, in both trees.
 */
export function relationForest(rows: readonly NamespaceRow[], ctx: RelationContext): RelationForest {
  const roots: OutNode[] = [];
  const order: NamespaceRow[] = [];
  const emitted = new Map<number, OutNode>();
  const displayed = new Map(rows.map((r) => [r.ns, r]));
  const inProgress = new Set<number>();
  const ensure = (ino: number): OutNode | null => {
    const done = emitted.get(ino);
    if (done) return done;
    if (inProgress.has(ino)) return null; // a cycle would be a kernel bug; never loop on it
    const row = displayed.get(ino) ?? ctx.lookup(ino);
    if (!row) return null;
    inProgress.add(ino);
    const up = ctx.ancestorOf(ino);
    const parent = up !== 0 && up !== ino ? ensure(up) : null;
    if (!parent) {
      const owner = ctx.ownerOf(ino);
      if (owner !== 0 && owner !== ino) ensure(owner);
    }
    inProgress.delete(ino);
    const node: OutNode = { row, children: [] };
    if (parent) parent.children.push(node);
    else roots.push(node);
    emitted.set(ino, node);
    order.push(row);
    return node;
  };
  for (const row of rows) ensure(row.ns);
  return { roots, order };
}

export interface RelationForest {
  roots: OutNode[];
  /** Rows in the order they were emitted: what lsns prints when the NS column (the tree) is not shown. */
  order: NamespaceRow[];
}

/** Depth-first order, the order the table prints a forest in. */
export function walk<R>(nodes: readonly OutNode<R>[], visit: (node: OutNode<R>, depth: number, ancestorsLast: boolean[], last: boolean) => void): void {
  const rec = (list: readonly OutNode<R>[], depth: number, trail: boolean[]): void => {
    list.forEach((node, i) => {
      const last = i === list.length - 1;
      visit(node, depth, trail, last);
      rec(node.children, depth + 1, [...trail, last]);
    });
  };
  rec(nodes, 0, []);
}
