/**
 * NSFS column: the mount points of nsfs bind mounts of each namespace, as lsns shows them: taken
 * from the mount table of the mount namespace the tool runs in, in mountinfo order, matched by
 * inode and type. (Mounts that other mount namespaces hold are found by the persistent-namespace
 * search, not shown here, because lsns does not show them either.)
 */
import { parseNsfsMounts, type NsfsMount } from '../procfs/mountinfo.js';
import type { ProcReader } from '../procfs/reader.js';
import type { NamespaceRow } from './namespaces.js';

const key = (m: Pick<NsfsMount, 'type' | 'ino'>): string => `${m.type}:${m.ino}`;

export function nsfsByNamespace(mounts: readonly NsfsMount[]): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const m of mounts) {
    const list = map.get(key(m));
    if (list) list.push(m.mountPoint);
    else map.set(key(m), [m.mountPoint]);
  }
  return map;
}

/** Fills row.nsfs for every row (empty list when the namespace has no nsfs mount). */
export function attachNsfs(rows: NamespaceRow[], reader: ProcReader): void {
  const text = reader.readMountinfo('self');
  const map = nsfsByNamespace(text === null ? [] : parseNsfsMounts(text));
  for (const row of rows) row.nsfs = map.get(key({ type: row.type, ino: row.ns })) ?? [];
}
