/**
 * The "Namespaces" property list that Process, Container and Pod nodes carry: one row per type,
 * labelled with the type, valued `<inode>`, `<inode> (host)`, or `<inode> (host?)` when the
 * host's namespace of that type is unknown. Pure.
 */
import type { NsType } from '../procfs/types.js';
import { isHostNs, type InitialNamespaces } from '../scan/host-namespaces.js';
import type { TableTemplate } from './report.js';

/**
 * Prefix of the Process and Container nodes' namespaces table, a property list: one row per type,
 * labelled with the type, valued `<inode>` or `<inode> (host)`. A multicolumn table would take
 * three cells per type (Type / NS / Host?), three times the latest entries for the same facts.
 */
export const PROC_TABLE_PREFIX = 'hns-ns-';
export const HOST_MARK = ' (host)';
export function procTableTemplate(): TableTemplate {
  return { id: PROC_TABLE_PREFIX, label: 'Namespaces', prefix: PROC_TABLE_PREFIX, type: 'property-list' };
}

/** A Process node's namespaces table cell: `<inode>`, `<inode> (host)`, or `<inode> (host?)` when the host's is unknown. */
export function procNsValue(initial: InitialNamespaces, type: NsType, ino: number): string {
  const host = isHostNs(initial, type, ino);
  return host === null ? `${ino} (host?)` : host ? `${ino}${HOST_MARK}` : String(ino);
}
