/**
 * `lsns <namespace>`: one row per process of a namespace. NS, TYPE and NPROCS are the
 * namespace's; PID, PPID, COMMAND, UID, USER and PATH are each process's own.
 */
import type { UserNames } from '../procfs/passwd.js';
import type { ProcReader } from '../procfs/reader.js';
import { commandOf, type NamespaceRow, type ScanResult } from './namespaces.js';

export function memberRows(reader: ProcReader, users: UserNames, scan: ScanResult, row: NamespaceRow): NamespaceRow[] {
  const out: NamespaceRow[] = [];
  for (const pid of scan.members.get(row.ns) ?? []) {
    const d = scan.details.get(pid) ?? reader.readDetails(pid);
    if (!d) continue;
    out.push({
      ...row,
      path: `/proc/${pid}/ns/${row.type}`,
      pid,
      ppid: d.ppid,
      command: commandOf(d),
      uid: d.uid,
      user: users.name(d.uid),
    });
  }
  return out;
}
