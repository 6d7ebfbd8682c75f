/** The text of one cell, before any escaping. An empty string is an empty cell (null in JSON). */
import type { NamespaceRow } from '../scan/namespaces.js';
import type { ColumnName } from './columns.js';
import { holderCell } from '../scan/holders/holder.js';

const num = (n: number | null | undefined): string => (n === null || n === undefined ? '' : String(n));

export function cellText(row: NamespaceRow, col: ColumnName): string {
  switch (col) {
    case 'NS':
      return String(row.ns);
    case 'TYPE':
      return row.type;
    case 'PATH':
      return row.path ?? '';
    case 'NPROCS':
      return String(row.nprocs);
    case 'PID':
      return num(row.pid);
    case 'PPID':
      return num(row.ppid);
    case 'COMMAND':
      return row.command ?? '';
    case 'UID':
      return num(row.uid);
    case 'USER':
      return row.user ?? '';
    case 'NETNSID':
      return row.netnsid ?? '';
    case 'NSFS':
      return row.nsfs?.join('\n') ?? '';
    case 'PNS':
      return num(row.pns);
    case 'ONS':
      return num(row.ons);
    case 'HOSTNAME':
      return row.hostname ?? '';
    case 'CONTAINER':
      return row.container ?? '';
    case 'HOLDER':
      return row.holder === undefined ? '' : holderCell(row.holder);
  }
}
