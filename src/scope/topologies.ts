/**
 * The topologies this plugin reports to (`--topologies`), which processes get a node
 * (`--process-nodes`), and the keys, labels, node ids and templates the topologies share.
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
 * entries into the nodes its probe reports. Nodes carry no `id`/`topology`: an `id` other than the
 * node's key, with another topology, makes the app fail a whole report window.
 *
 * Keys are short on purpose: every byte of a key is repeated once per node, and the probe decodes
 * the whole report every second.
 */
import type { MetadataTemplate } from './report.js';

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
export const SHARED_LABEL = 'Host namespaces';
export const SHARED_DEFAULT_LABEL = 'Shared with host by default';

export function processNodeId(hostname: string, pid: number): string {
  return `${hostname};${pid}`;
}

export function containerNodeId(id: string): string {
  return `${id};<container>`;
}

export const meta = (id: string, label: string, priority: number, dataType: MetadataTemplate['dataType'] = ''): MetadataTemplate => ({ id, label, dataType, priority, from: 'latest' });

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
