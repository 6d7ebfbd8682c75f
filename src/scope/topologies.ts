/**
 * The Process and Container topologies, the Host node's namespace-count metric, and the report
 * that combines them with the Host table, as chosen by `--topologies`.
 *
 * What is shown where grows with the distinct namespace sets, not with the processes:
 * - Container node `<64-hex id>;<container>`: a "Namespaces" property list with a row for each
 *   type whose namespace is not the host's (`<inode>`), "Host namespaces" (scope/isolation.ts:
 *   which of net, pid, ipc, uts, mnt are the host's, or "isolated"), "Shared with host by default"
 *   (user, cgroup, time), its runtime (as its cgroup path names it), pod UID and process count.
 *   Together they name every one of the container's eight namespaces.
 * - Process node `<hostname>;<pid>` (same hostname as the Host node), by ProcessNodesMode: the
 *   same property list with a row per type (`<inode>` or `<inode> (host)`) and "Host namespaces".
 *   By default only processes whose namespaces their container's node does not already say.
 * - Host node: the Host table (host-rows.ts), a summary (host-summary.ts) and the metric.
 * The ids are Scope's own (report.MakeProcessNodeID / MakeContainerNodeID), so the app merges our
 * entries into the nodes its probe reports. Nodes carry no `id`/`topology` (see scope-protocol.md).
 *
 * Keys are short on purpose: every byte of a key is repeated once per node, and the probe decodes
 * the whole report every second.
 */
import { shortId, type ContainerRef } from '../procfs/cgroup.js';
import { NS_TYPES, type NsLink } from '../procfs/types.js';
import { isHostNs, nsByType, type ContainerInfo, type InitialNamespaces } from '../scan/containers.js';
import type { NamespaceRow } from '../scan/namespaces.js';
import type { HostTableRow } from './host-rows.js';
import { PROC_TABLE_PREFIX, procNsValue, procTableTemplate } from './ns-list.js';
import { podsOf, podTopology } from './pods.js';

export { HOST_MARK, PROC_TABLE_PREFIX, procNsValue, procTableTemplate } from './ns-list.js';
import { hostNodeId } from './host.js';
import { hostMetadataTemplates, hostSummaryLatest } from './host-summary.js';
import { defaultSharedLabel, hostSharing, hostSharingLabel } from './isolation.js';
import {
  hostTableReport,
  rfc3339,
  setJsonFragment,
  type LatestEntry,
  type MetadataTemplate,
  type Metric,
  type MetricSample,
  type MetricTemplate,
  type ReportContext,
  type ReportNode,
  type ScopeReport,
  type Topology,
} from './report.js';

export const TOPOLOGY_NAMES = ['host', 'process', 'container', 'pod'] as const;
export type TopologyName = (typeof TOPOLOGY_NAMES)[number];
/**
 * Which processes get a Process node.
 * - `distinct` (default): a process outside containers with at least one namespace that is not
 *   the host's; a process in a container with a namespace that is not its container's (the
 *   Container node shows the others' namespaces). Host-only processes are counted on the Host node.
 * - `isolated`: every process in a container or with a namespace that is not the host's.
 * - `all`: every process.
 * The last two make the report grow with the number of processes, ~10 latest entries each, which
 * the probe decodes every second: for small hosts.
 */
export const PROCESS_NODES_MODES = ['distinct', 'isolated', 'all'] as const;
export type ProcessNodesMode = (typeof PROCESS_NODES_MODES)[number];

export const META = {
  shared: 'hns-shared',
  sharedDefault: 'hns-shared-default',
  container: 'hns-container',
  runtime: 'hns-runtime',
  pod: 'hns-pod',
  procs: 'hns-procs',
  mixed: 'hns-mixed',
  hostOnly: 'hns-host-only',
} as const;
export const HOST_ONLY_LABEL = 'Processes in host namespaces only';
export const HOST_COUNT_METRIC = 'host-namespaces-count';
export const SHARED_LABEL = 'Host namespaces';
export const SHARED_DEFAULT_LABEL = 'Shared with host by default';

export function processNodeId(hostname: string, pid: number): string {
  return `${hostname};${pid}`;
}

export function containerNodeId(id: string): string {
  return `${id};<container>`;
}

const meta = (id: string, label: string, priority: number, dataType: MetadataTemplate['dataType'] = ''): MetadataTemplate => ({ id, label, dataType, priority, from: 'latest' });

export function processMetadataTemplates(): Record<string, MetadataTemplate> {
  return {
    [META.shared]: meta(META.shared, SHARED_LABEL, 20),
    [META.container]: meta(META.container, 'Container (cgroup)', 21),
  };
}

export function containerMetadataTemplates(): Record<string, MetadataTemplate> {
  return {
    [META.shared]: meta(META.shared, SHARED_LABEL, 20),
    [META.runtime]: meta(META.runtime, 'Runtime (cgroup)', 21),
    [META.pod]: meta(META.pod, 'Pod UID', 22),
    [META.procs]: meta(META.procs, 'Processes', 23, 'number'),
    [META.mixed]: meta(META.mixed, 'Namespaces differing between processes', 24),
    [META.sharedDefault]: meta(META.sharedDefault, SHARED_DEFAULT_LABEL, 25),
  };
}

export function hostMetricTemplates(): Record<string, MetricTemplate> {
  return { [HOST_COUNT_METRIC]: { id: HOST_COUNT_METRIC, label: 'Namespaces', format: 'integer', priority: 20 } };
}

export interface ProcessView {
  /** Links by pid: of every process, or (the daemon) of the isolated ones and pids 1 and 2, with `hostOnly` counting the rest. */
  memberships: ReadonlyMap<number, readonly NsLink[]>;
  /** Host-only processes when `memberships` leaves them out; default: counted in `memberships`. */
  hostOnly?: number;
  initial: InitialNamespaces;
  /** Container of each process, when the Container topology was scanned. */
  containerOf?: ReadonlyMap<number, ContainerRef>;
  /** The containers by id (their namespaces), when scanned: `distinct` needs them. */
  containers?: ReadonlyMap<string, ContainerInfo>;
  /** Which processes get a node; default `distinct`. */
  mode?: ProcessNodesMode;
}

/** In a container, or in at least one namespace known not to be the host's. */
export function isolatedProcess(view: ProcessView, pid: number, links: readonly NsLink[]): boolean {
  if (view.containerOf?.has(pid)) return true;
  for (const l of links) if (isHostNs(view.initial, l.type, l.ino) === false) return true;
  return false;
}

/** Whether a process gets a Process node in the view's mode (see PROCESS_NODES_MODES). */
export function wantsProcessNode(view: ProcessView, pid: number, links: readonly NsLink[]): boolean {
  const mode = view.mode ?? 'distinct';
  if (mode === 'all') return true;
  const ref = view.containerOf?.get(pid);
  if (ref === undefined || mode === 'isolated') return isolatedProcess(view, pid, links);
  const container = view.containers?.get(ref.id);
  // Without its container's namespaces nothing else would show this process's: give it a node.
  if (container === undefined) return true;
  for (const l of links) if (container.ns[l.type] !== l.ino) return true;
  return false;
}

/** Processes that get no node in `isolated` mode: every namespace the host's, no container. */
export function hostOnlyCount(view: ProcessView): number {
  if (view.hostOnly !== undefined) return view.hostOnly;
  let n = 0;
  for (const [pid, links] of view.memberships) if (!isolatedProcess(view, pid, links)) n++;
  return n;
}

function processNode(view: ProcessView, links: readonly NsLink[], containerId: string | undefined, timestamp: string): ReportNode {
  const latest: Record<string, LatestEntry> = {};
  const ns = nsByType(links);
  for (const type of NS_TYPES) {
    const ino = ns[type];
    if (ino !== undefined) latest[PROC_TABLE_PREFIX + type] = { timestamp, value: procNsValue(view.initial, type, ino) };
  }
  latest[META.shared] = { timestamp, value: hostSharingLabel(hostSharing(view.initial, ns)) };
  if (containerId !== undefined) latest[META.container] = { timestamp, value: shortId(containerId) };
  return { latest };
}

interface CachedProcessNode {
  links: readonly NsLink[];
  containerId: string | undefined;
  node: ReportNode;
}

function sameLinks(a: readonly NsLink[], b: readonly NsLink[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as NsLink;
    const y = b[i] as NsLink;
    if (x.type !== y.type || x.ino !== y.ino) return false;
  }
  return true;
}

/**
 * Process nodes of the last refresh, kept by the daemon across refreshes. A
 * Process node shows nothing but what its pid, ns links (in scan order), container id, the host's
 * namespaces and the hostname determine; when all of these are unchanged the previous node is
 * reused as it was: same values, and the timestamps of when those values were set (a Scope latest
 * entry's timestamp is when its value was set, so the old one is the right one). Cached nodes are
 * frozen, carry their serialised JSON (setJsonFragment in report.ts) and are shared by the
 * processes whose nodes were built in the same refresh with the same content: a steady refresh
 * builds and stringifies only the nodes that changed, and thousands of alike processes cost one
 * node. Only this topology is cached: it is ~95% of the report.
 */
export class ProcessNodeCache {
  private byPid = new Map<number, CachedProcessNode>();
  /** hostname + the host's namespaces the cached nodes were built against. */
  private context = '';

  /** The Process topology's nodes; nodes of pids gone since the last call are dropped. */
  nodes(view: ProcessView, hostname: string, timestamp: string): Record<string, ReportNode> {
    const context = `${hostname}\n${JSON.stringify(view.initial.ns)}`;
    const old = context === this.context ? this.byPid : new Map<number, CachedProcessNode>();
    this.context = context;
    const next = new Map<number, CachedProcessNode>();
    // Nodes built by this call, by content: processes that show the same (thousands of host
    // processes do) share one frozen node, its JSON and its memory. Never across calls: a node
    // built earlier carries an earlier timestamp, which only the process it was built for keeps.
    const built = new Map<string, CachedProcessNode>();
    const nodes: Record<string, ReportNode> = {};
    for (const [pid, links] of view.memberships) {
      if (!wantsProcessNode(view, pid, links)) continue;
      const containerId = view.containerOf?.get(pid)?.id;
      let entry = old.get(pid);
      if (entry === undefined || entry.containerId !== containerId || !sameLinks(entry.links, links)) {
        const key = `${containerId ?? ''}|${links.map((l) => `${l.type}:${l.ino}`).join(',')}`;
        entry = built.get(key);
        if (entry === undefined) {
          const node = processNode(view, links, containerId, timestamp);
          for (const e of Object.values(node.latest)) Object.freeze(e);
          Object.freeze(node.latest);
          Object.freeze(node);
          setJsonFragment(node, JSON.stringify(node));
          entry = { links: links.map((l) => ({ type: l.type, ino: l.ino })), containerId, node };
          built.set(key, entry);
        }
      }
      next.set(pid, entry);
      nodes[processNodeId(hostname, pid)] = entry.node;
    }
    this.byPid = next;
    return nodes;
  }
}

export function processTopology(view: ProcessView, hostname: string, now: Date, cache?: ProcessNodeCache): Topology {
  const timestamp = rfc3339(now);
  let nodes: Record<string, ReportNode>;
  if (cache) {
    nodes = cache.nodes(view, hostname, timestamp);
  } else {
    nodes = {};
    for (const [pid, links] of view.memberships) {
      if (wantsProcessNode(view, pid, links)) nodes[processNodeId(hostname, pid)] = processNode(view, links, view.containerOf?.get(pid)?.id, timestamp);
    }
  }
  return { nodes, table_templates: { [PROC_TABLE_PREFIX]: procTableTemplate() }, metadata_templates: processMetadataTemplates() };
}

export function containerTopology(containers: ReadonlyMap<string, ContainerInfo>, initial: InitialNamespaces, now: Date): Topology {
  const timestamp = rfc3339(now);
  const nodes: Record<string, ReportNode> = {};
  for (const c of containers.values()) {
    const latest: Record<string, LatestEntry> = {};
    const sharing = hostSharing(initial, c.ns);
    for (const type of NS_TYPES) {
      const ino = c.ns[type];
      // user, cgroup and time that are the host's are named by "Shared with host by default".
      if (ino === undefined || sharing.byDefault.includes(type)) continue;
      latest[PROC_TABLE_PREFIX + type] = { timestamp, value: procNsValue(initial, type, ino) };
    }
    latest[META.shared] = { timestamp, value: hostSharingLabel(sharing) };
    const byDefault = defaultSharedLabel(sharing);
    if (byDefault !== null) latest[META.sharedDefault] = { timestamp, value: byDefault };
    latest[META.runtime] = { timestamp, value: c.runtime };
    if (c.podUid !== undefined) latest[META.pod] = { timestamp, value: c.podUid };
    latest[META.procs] = { timestamp, value: String(c.pids.length) };
    if (c.mixed.length > 0) latest[META.mixed] = { timestamp, value: c.mixed.join(', ') };
    nodes[containerNodeId(c.id)] = { latest };
  }
  return { nodes, table_templates: { [PROC_TABLE_PREFIX]: procTableTemplate() }, metadata_templates: containerMetadataTemplates() };
}

/** A metric from samples (oldest first): min 0, max the largest sample, so the sparkline starts at 0. */
export function metricOf(samples: readonly MetricSample[]): Metric {
  let max = 0;
  for (const s of samples) if (s.value > max) max = s.value;
  return { samples: samples.map((s) => ({ ...s })), min: 0, max };
}

export interface FullReportInput {
  /** Every namespace, one row each (the summary and the metric count these). */
  rows: readonly NamespaceRow[];
  /** The Host table's rows (host-rows.ts: sets held alike merged); default: `rows`. */
  hostRows?: readonly HostTableRow[];
  topologies: readonly TopologyName[];
  process?: ProcessView;
  containers?: ReadonlyMap<string, ContainerInfo>;
  /** Namespace counts over time for the Host node's sparkline, oldest first. */
  hostSamples?: readonly MetricSample[];
  /** Process nodes kept across refreshes (the daemon keeps one); default: none. */
  processNodes?: ProcessNodeCache;
}

/** The report with the topologies asked for; a topology without its data is left out. */
export function buildFullReport(input: FullReportInput, ctx: ReportContext): ScopeReport {
  const base = hostTableReport(input.hostRows ?? input.rows, ctx);
  const report: ScopeReport = { Plugins: base.Plugins };
  const want = new Set(input.topologies);
  if (want.has('host')) {
    const host = base.Host;
    const node = host.nodes[hostNodeId(ctx.hostname)];
    if (node) Object.assign(node.latest, hostSummaryLatest(input.rows, input.containers?.values(), rfc3339(ctx.now)));
    host.metadata_templates = hostMetadataTemplates();
    if (input.hostSamples && input.hostSamples.length > 0) {
      if (node) node.metrics = { [HOST_COUNT_METRIC]: metricOf(input.hostSamples) };
      host.metric_templates = hostMetricTemplates();
    }
    if (node && input.process && want.has('process')) {
      node.latest[META.hostOnly] = { timestamp: rfc3339(ctx.now), value: String(hostOnlyCount(input.process)) };
      host.metadata_templates[META.hostOnly] = meta(META.hostOnly, HOST_ONLY_LABEL, 24, 'number');
    }
    report.Host = host;
  }
  if (want.has('process') && input.process) report.Process = processTopology(input.process, ctx.hostname, ctx.now, input.processNodes);
  if (want.has('container') && input.containers && input.process) report.Container = containerTopology(input.containers, input.process.initial, ctx.now);
  if (want.has('pod') && input.containers && input.process) {
    // Left out on hosts without pods: an empty topology would still cost its templates.
    const pods = podsOf(input.containers.values());
    if (pods.size > 0) report.Pod = podTopology(pods, input.process.initial, ctx.now);
  }
  // Go field order is irrelevant to the probe; Plugins last reads better.
  const { Plugins, ...topologies } = report;
  return { ...topologies, Plugins };
}

/** Namespace counts kept across refreshes (the daemon keeps one for its life). */
export class MetricHistory {
  private readonly samples: MetricSample[] = [];

  /** At most `max` samples, none older than `maxAgeMs` before the newest. */
  constructor(
    readonly max = 60,
    readonly maxAgeMs = 15 * 60_000,
  ) {}

  add(at: Date, value: number): MetricSample[] {
    const date = rfc3339(at);
    // A clock that stepped back: drop what now lies in the future, keep dates ascending.
    while ((this.samples[this.samples.length - 1]?.date ?? '') >= date) this.samples.pop();
    this.samples.push({ date, value });
    const oldest = at.getTime() - this.maxAgeMs;
    while (this.samples.length > this.max || (this.samples[0] !== undefined && Date.parse(this.samples[0].date) < oldest)) this.samples.shift();
    return this.list();
  }

  list(): MetricSample[] {
    return this.samples.map((s) => ({ ...s }));
  }
}
