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
    const parent = row.ppid !== row.pid ? lastByPid.get(row.ppid) : undefined;
    if (parent) parent.children.push(node);
    else roots.push(node);
    lastByPid.set(row.pid, node);
  }
  return roots;
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
