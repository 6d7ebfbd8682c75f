/** lsns's output columns: names, help text, JSON types and alignment. */

export const COLUMN_NAMES = ['NS', 'TYPE', 'PATH', 'NPROCS', 'PID', 'PPID', 'COMMAND', 'UID', 'USER', 'NETNSID', 'NSFS', 'PNS', 'ONS', 'HOSTNAME', 'CONTAINER', 'HOLDER'] as const;
export type ColumnName = (typeof COLUMN_NAMES)[number];

export interface ColumnInfo {
  name: ColumnName;
  help: string;
  /** JSON value type; numbers print without quotes, empty cells become null. */
  json: 'number' | 'string';
  /** Numbers are right-aligned in the table. */
  right: boolean;
  /** Available in this build; the others answer "not supported yet". */
  supported: boolean;
}

const info = (name: ColumnName, help: string, json: 'number' | 'string', supported = true): ColumnInfo => ({
  name,
  help,
  json,
  right: json === 'number',
  supported,
});

export const COLUMNS: Readonly<Record<ColumnName, ColumnInfo>> = {
  NS: info('NS', 'namespace identifier (inode number)', 'number'),
  TYPE: info('TYPE', 'kind of namespace', 'string'),
  PATH: info('PATH', 'path to the namespace', 'string'),
  NPROCS: info('NPROCS', 'number of processes in the namespace', 'number'),
  PID: info('PID', 'lowest PID in the namespace', 'number'),
  PPID: info('PPID', 'PPID of the PID', 'number'),
  COMMAND: info('COMMAND', 'command line of the PID', 'string'),
  UID: info('UID', 'UID of the PID', 'number'),
  USER: info('USER', 'username of the PID', 'string'),
  // A string in JSON ("unassigned" or the id) but right-aligned in the table, as lsns does.
  NETNSID: { ...info('NETNSID', 'namespace ID as used by network subsystem', 'string'), right: true },
  NSFS: info('NSFS', 'nsfs mountpoint (usually used network subsystem)', 'string'),
  PNS: info('PNS', 'parent namespace identifier (inode number)', 'number'),
  ONS: info('ONS', 'owner namespace identifier (inode number)', 'number'),
  HOSTNAME: info('HOSTNAME', 'hostname inside a UTS namespace (not in lsns)', 'string'),
  CONTAINER: info('CONTAINER', 'container of its processes: 12-hex id, +N other containers (not in lsns)', 'string'),
  HOLDER: info('HOLDER', 'what holds a namespace no process is in: thread, fd, bind mount, parent/owner (not in lsns)', 'string'),
};

export function lookupColumn(name: string): ColumnInfo | null {
  const upper = name.toUpperCase();
  return (COLUMN_NAMES as readonly string[]).includes(upper) ? COLUMNS[upper as ColumnName] : null;
}

/** Our columns, not lsns's: only printed when asked for with -o. */
export const OWN_COLUMNS: readonly ColumnName[] = ['HOSTNAME', 'CONTAINER', 'HOLDER'];

/** lsns's own 13 columns, what --output-all prints (ours must be asked for). */
export const LSNS_COLUMNS: readonly ColumnName[] = COLUMN_NAMES.filter((c) => !OWN_COLUMNS.includes(c));

export const DEFAULT_COLUMNS: readonly ColumnName[] = ['NS', 'TYPE', 'NPROCS', 'PID', 'USER', 'COMMAND'];
export const DEFAULT_NET_COLUMNS: readonly ColumnName[] = ['NS', 'TYPE', 'NPROCS', 'PID', 'USER', 'NETNSID', 'NSFS', 'COMMAND'];
/** `lsns <namespace>` lists processes, so its defaults are process columns. */
export const PROCESS_MODE_COLUMNS: readonly ColumnName[] = ['PID', 'PPID', 'USER', 'COMMAND'];
