/**
 * What a report a Scope probe takes from this plugin is made of: topologies of nodes with their
 * `latest` entries, metrics and templates, and the plugin spec; and its JSON serialisation. See
 * schema.ts for the rules of Scope's probe it must satisfy, build-report.ts for how it is built.
 */
export const DEFAULT_PLUGIN_ID = 'host-namespaces';
/** Scope's rule for plugin ids (derived from the socket's file name). */
export const PLUGIN_ID_RE = /^[A-Za-z0-9]+(-[A-Za-z0-9]+)*$/;
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

export function pluginSpec(pluginId: string): PluginSpec {
  return { id: pluginId, label: PLUGIN_LABEL, description: PLUGIN_DESCRIPTION, interfaces: ['reporter'], api_version: '1' };
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
