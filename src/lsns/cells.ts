/** The text of one cell, before any escaping. An empty string is an empty cell (null in JSON). */
import type { NamespaceRow } from '../scan/namespaces.js';
import type { ColumnName } from './columns.js';

export function cellText(row: NamespaceRow, col: ColumnName): string {
  switch (col) {
    case 'NS':
      return String(row.ns);
    case 'TYPE':
      return row.type;
    case 'PATH':
      return row.path;
    case 'NPROCS':
      return String(row.nprocs);
    case 'PID':
      return String(row.pid);
    case 'PPID':
      return String(row.ppid);
    case 'COMMAND':
      return row.command;
    case 'UID':
      return String(row.uid);
    case 'USER':
      return row.user;
    case 'NETNSID':
      return row.netnsid ?? '';
    case 'NSFS':
      return row.nsfs?.join('\n') ?? '';
    case 'PNS':
      return row.pns === undefined ? '' : String(row.pns);
    case 'ONS':
      return row.ons === undefined ? '' : String(row.ons);
  }
}
