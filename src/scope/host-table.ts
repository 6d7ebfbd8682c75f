/**
 * The Host node's Host Namespaces table: a multicolumn table in the node's `latest` map, one row
 * per namespace (or per set held alike, host-rows.ts), one entry per cell.
 */
import { bytesToUnicode } from '../procfs/bytes.js';
import { holderCell } from '../scan/holders/holder.js';
import { hostNodeId } from './host.js';
import { MERGED_SEPARATOR, type HostTableRow } from './host-rows.js';
import { CELL_SEPARATOR, pluginSpec, rfc3339, type ColumnSpec, type DataType, type LatestEntry, type ReportContext, type ScopeReport, type TableTemplate } from './report.js';

/**
 * Short on purpose: every cell of the Host table is a latest entry whose key repeats the prefix and
 * the column id, and the probe decodes the whole report every second (~6 µs per entry). Not a prefix
 * of any other key of ours (those start `hns-`), as Scope requires.
 */
export const TABLE_PREFIX = 'hnt-';
export const TABLE_LABEL = 'Host Namespaces';
type CellSource = 'ns' | 'type' | 'nprocs' | 'pid' | 'user' | 'command' | 'container' | 'hostname' | 'holder';

const COLUMN_DEFS: ReadonlyArray<{ key: CellSource; label: string; dataType: DataType }> = [
  { key: 'ns', label: 'NS', dataType: 'number' },
  { key: 'type', label: 'Type', dataType: '' },
  { key: 'nprocs', label: '# Procs', dataType: 'number' },
  { key: 'pid', label: 'Pid', dataType: 'number' },
  { key: 'user', label: 'User', dataType: '' },
  { key: 'command', label: 'Command', dataType: '' },
  // Ours (not lsns columns), each a cell only where it has a value. Container: the short id of the
  // container(s) a non-host namespace's processes are in (scan/ns-containers.ts).
  { key: 'container', label: 'Container', dataType: '' },
  // Ours (not an lsns column): only uts rows whose hostname could be read have this cell.
  { key: 'hostname', label: 'Hostname', dataType: '' },
  // Ours: only rows no process is in have this cell (what keeps the namespace alive).
  { key: 'holder', label: 'Held by', dataType: '' },
];

export const columnId = (key: CellSource): string => key;

export const COLUMNS: readonly ColumnSpec[] = COLUMN_DEFS.map((c) => ({ id: columnId(c.key), label: c.label, dataType: c.dataType }));

export function cellKey(rowId: string, column: CellSource): string {
  return `${TABLE_PREFIX}${rowId}${CELL_SEPARATOR}${columnId(column)}`;
}

/**
 * The cell values of one row, as the table shows them (Unicode strings). Rows of namespaces no
 * process is in (NPROCS 0) have empty Pid and Command cells unless a thread or an fd holds them
 * (its process's), and a Held by cell. `hostname` is present only for uts
 * rows (or merged rows with a uts namespace) whose hostname is known, `container` only for rows
 * with a container; no cell (no latest key) otherwise. A merged row (host-rows.ts) lists its
 * namespaces' inodes and types, in the same order, in NS and Type.
 */
export function rowCells(row: HostTableRow): Partial<Record<CellSource, string>> & Record<Exclude<CellSource, 'hostname' | 'container' | 'holder'>, string> {
  return {
    ns: row.merged ? row.merged.map((m) => String(m.ns)).join(MERGED_SEPARATOR) : String(row.ns),
    type: row.merged ? row.merged.map((m) => m.type).join(MERGED_SEPARATOR) : row.type,
    nprocs: String(row.nprocs),
    pid: row.pid === null ? '' : String(row.pid),
    user: row.user === null ? '' : bytesToUnicode(row.user),
    command: row.command === null ? '' : bytesToUnicode(row.command),
    ...(row.container !== undefined ? { container: row.container } : {}),
    ...(row.holder !== undefined && row.nprocs === 0 ? { holder: bytesToUnicode(holderCell(row.holder)) } : {}),
    // uname() nodename is already decoded as UTF-8 (native/uts-read.ts), unlike the byte-string columns.
    ...((row.type === 'uts' || row.merged?.some((m) => m.type === 'uts') === true) && row.hostname !== undefined ? { hostname: bytesToUnicode(row.hostname) } : {}),
  };
}

export function tableTemplate(): TableTemplate {
  return { id: TABLE_PREFIX, label: TABLE_LABEL, prefix: TABLE_PREFIX, type: 'multicolumn-table', columns: COLUMNS.map((c) => ({ ...c })) };
}

/** The Host node's latest map: the Host Namespaces table, one row per namespace or merged set. */
export function hostTableLatest(rows: readonly HostTableRow[], timestamp: string): Record<string, LatestEntry> {
  const latest: Record<string, LatestEntry> = {};
  for (const row of rows) {
    // Row id = the inode: the app sorts rows by id, so the table comes out in NS order like lsns.
    const rowId = String(row.ns);
    const cells = rowCells(row);
    for (const def of COLUMN_DEFS) {
      const value = cells[def.key];
      if (value !== undefined) latest[cellKey(rowId, def.key)] = { timestamp, value };
    }
  }
  return latest;
}

/** A report of the Host table alone, with the plugin spec; build-report.ts adds the rest. */
export function buildHostTableReport(rows: readonly HostTableRow[], ctx: ReportContext): ScopeReport & { Host: NonNullable<ScopeReport['Host']> } {
  const latest = hostTableLatest(rows, rfc3339(ctx.now));
  return {
    Host: {
      nodes: { [hostNodeId(ctx.hostname)]: { latest } },
      table_templates: { [TABLE_PREFIX]: tableTemplate() },
    },
    Plugins: [pluginSpec(ctx.pluginId)],
  };
}
