/**
 * The report a Scope probe takes from this plugin: one Host node carrying a multicolumn table of
 * namespaces in its `latest` map, the table's template, and the plugin spec. See
 * schema.ts for the rules of Scope's probe it must satisfy.
 */
import { bytesToUnicode } from '../procfs/bytes.js';
import { hostNodeId } from './host.js';
import { MERGED_SEPARATOR, type HostTableRow } from './host-rows.js';

export const DEFAULT_PLUGIN_ID = 'host-namespaces';
/** Scope's rule for plugin ids (derived from the socket's file name). */
export const PLUGIN_ID_RE = /^[A-Za-z0-9]+(-[A-Za-z0-9]+)*$/;
/**
 * Short on purpose: every cell of the Host table is a latest entry whose key repeats the prefix and
 * the column id, and the probe decodes the whole report every second (~6 µs per entry). Not a prefix
 * of any other key of ours (those start `hns-`), as Scope requires.
 */
export const TABLE_PREFIX = 'hnt-';
export const TABLE_LABEL = 'Host Namespaces';
export const PLUGIN_LABEL = 'Host namespaces';
export const PLUGIN_DESCRIPTION =
  'Lists every Linux namespace of the host (like lsns): type, process count, lowest pid, its user and command, the container its processes are in, and the hostname inside each UTS namespace';
/** Separates row id and column id in a multicolumn cell key. */
export const CELL_SEPARATOR = '___';

export type DataType = '' | 'number' | 'link' | 'ip';

export interface ColumnSpec {
  id: string;
  label: string;
  dataType: DataType;
}

type CellSource = 'ns' | 'type' | 'nprocs' | 'pid' | 'user' | 'command' | 'container' | 'hostname';

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
];

export const columnId = (key: CellSource): string => key;

export const COLUMNS: readonly ColumnSpec[] = COLUMN_DEFS.map((c) => ({ id: columnId(c.key), label: c.label, dataType: c.dataType }));

export interface LatestEntry {
  timestamp: string;
  value: string;
}

export interface TableTemplate {
  id: string;
  label: string;
  prefix: string;
  type: 'multicolumn-table' | 'property-list';
  /** Multicolumn tables only (a property list shows label and value). */
  columns?: ColumnSpec[];
}

export interface MetricSample {
  /** RFC 3339 with a zone. */
  date: string;
  value: number;
}

export interface Metric {
  samples: MetricSample[];
  min: number;
  max: number;
}

export interface ReportNode {
  latest: Record<string, LatestEntry>;
  metrics?: Record<string, Metric>;
}

export interface MetadataTemplate {
  id: string;
  label: string;
  dataType?: DataType;
  priority: number;
  from: 'latest';
  truncate?: number;
}

export interface MetricTemplate {
  id: string;
  label: string;
  format: 'integer' | 'percent' | 'filesize' | '';
  priority: number;
}

export interface Topology {
  nodes: Record<string, ReportNode>;
  table_templates?: Record<string, TableTemplate>;
  metadata_templates?: Record<string, MetadataTemplate>;
  metric_templates?: Record<string, MetricTemplate>;
}

export interface PluginSpec {
  id: string;
  label: string;
  description: string;
  interfaces: string[];
  api_version: string;
}

export interface ScopeReport {
  /** Absent only when `--topologies` leaves the host out. */
  Host?: Topology & { table_templates: Record<string, TableTemplate> };
  Process?: Topology;
  Container?: Topology;
  Pod?: Topology;
  Plugins: PluginSpec[];
}

export interface ReportContext {
  hostname: string;
  pluginId: string;
  /** Timestamp of every latest entry: when the snapshot was taken. */
  now: Date;
}

/** RFC 3339 with an explicit zone (`Z`), as Go's time.Time unmarshals it. */
export function rfc3339(d: Date): string {
  return d.toISOString();
}

export function cellKey(rowId: string, column: CellSource): string {
  return `${TABLE_PREFIX}${rowId}${CELL_SEPARATOR}${columnId(column)}`;
}

/**
 * The cell values of one row, as the table shows them (Unicode strings). Rows of namespaces no
 * process is in (NPROCS 0) have empty Pid and Command cells. `hostname` is present only for uts
 * rows (or merged rows with a uts namespace) whose hostname is known, `container` only for rows
 * with a container; no cell (no latest key) otherwise. A merged row (host-rows.ts) lists its
 * namespaces' inodes and types, in the same order, in NS and Type.
 */
export function rowCells(row: HostTableRow): Partial<Record<CellSource, string>> & Record<Exclude<CellSource, 'hostname' | 'container'>, string> {
  return {
    ns: row.merged ? row.merged.map((m) => String(m.ns)).join(MERGED_SEPARATOR) : String(row.ns),
    type: row.merged ? row.merged.map((m) => m.type).join(MERGED_SEPARATOR) : row.type,
    nprocs: String(row.nprocs),
    pid: row.pid === null ? '' : String(row.pid),
    user: row.user === null ? '' : bytesToUnicode(row.user),
    command: row.command === null ? '' : bytesToUnicode(row.command),
    ...(row.container !== undefined ? { container: row.container } : {}),
    // uname() nodename is already decoded as UTF-8 (native/uts-read.ts), unlike the byte-string columns.
    ...((row.type === 'uts' || row.merged?.some((m) => m.type === 'uts') === true) && row.hostname !== undefined ? { hostname: bytesToUnicode(row.hostname) } : {}),
  };
}

export function pluginSpec(pluginId: string): PluginSpec {
  return { id: pluginId, label: PLUGIN_LABEL, description: PLUGIN_DESCRIPTION, interfaces: ['reporter'], api_version: '1' };
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

/** The Host topology's table and the plugin spec. See topologies.ts for the whole report. */
export function hostTableReport(rows: readonly HostTableRow[], ctx: ReportContext): ScopeReport & { Host: NonNullable<ScopeReport['Host']> } {
  const latest = hostTableLatest(rows, rfc3339(ctx.now));
  return {
    Host: {
      nodes: { [hostNodeId(ctx.hostname)]: { latest } },
      table_templates: { [TABLE_PREFIX]: tableTemplate() },
    },
    Plugins: [pluginSpec(ctx.pluginId)],
  };
}

/**
 * JSON.stringify of frozen report nodes, set by whoever froze them (ProcessNodeCache): a weak map,
 * so a fragment lives exactly as long as its node. serialiseJson uses it instead of stringifying.
 */
const fragments = new WeakMap<ReportNode, string>();

export function setJsonFragment(node: ReportNode, json: string): void {
  if (!Object.isFrozen(node)) throw new Error('only a frozen node can carry a JSON fragment');
  fragments.set(node, json);
}

/**
 * Exactly JSON.stringify(report), with the nodes that carry a fragment pasted in as they are. The
 * report holds plain data only (strings, numbers, arrays, objects; no undefined, no toJSON).
 */
export function serialiseJson(report: ScopeReport): string {
  const parts: string[] = [];
  let first = true;
  parts.push('{');
  for (const [key, value] of Object.entries(report)) {
    if (value === undefined) continue;
    parts.push(first ? '' : ',', JSON.stringify(key), ':');
    first = false;
    if (key === 'Plugins') parts.push(JSON.stringify(value));
    else topologyJson(value as Topology, parts);
  }
  parts.push('}');
  return parts.join('');
}

function topologyJson(topology: Topology, parts: string[]): void {
  let first = true;
  parts.push('{');
  for (const [key, value] of Object.entries(topology)) {
    if (value === undefined) continue;
    parts.push(first ? '' : ',', JSON.stringify(key), ':');
    first = false;
    if (key !== 'nodes') {
      parts.push(JSON.stringify(value));
      continue;
    }
    let firstNode = true;
    parts.push('{');
    for (const [id, node] of Object.entries(topology.nodes)) {
      parts.push(firstNode ? '' : ',', JSON.stringify(id), ':', fragments.get(node) ?? JSON.stringify(node));
      firstNode = false;
    }
    parts.push('}');
  }
  parts.push('}');
}
