/**
 * The Process topology: which processes get a node (by ProcessNodesMode) and what a node shows,
 * its namespaces (`<inode>` or `<inode> (host)`) and "Host namespaces"; nodes kept across the
 * daemon's refreshes by ProcessNodeCache.
 */
import { shortId, type ContainerRef } from '../procfs/cgroup.js';
import { NS_TYPES, type NsLink } from '../procfs/types.js';
import { nsByType, type ContainerInfo } from '../scan/containers.js';
import { isIsolated, type InitialNamespaces } from '../scan/host-namespaces.js';
import { hostSharing, hostSharingLabel } from './isolation.js';
import { PROC_TABLE_PREFIX, procNsValue, procTableTemplate } from './ns-list.js';
import { rfc3339, setJsonFragment, type LatestEntry, type ReportNode, type Topology } from './report.js';
import { META, processMetadataTemplates, processNodeId, type ProcessNodesMode } from './topologies.js';

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
  return isIsolated(view.initial, links, view.containerOf?.has(pid) ?? false);
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
