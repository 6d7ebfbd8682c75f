/**
 * The Container topology: a node per container, `<64-hex id>;<container>`, with its namespaces
 * that are not the host's, which of them are the host's, and its runtime, pod and process count.
 */
import { NS_TYPES } from '../procfs/types.js';
import type { ContainerInfo } from '../scan/containers.js';
import type { InitialNamespaces } from '../scan/host-namespaces.js';
import { defaultSharedLabel, hostSharing, hostSharingLabel } from './isolation.js';
import { PROC_TABLE_PREFIX, procNsValue, procTableTemplate } from './ns-list.js';
import { rfc3339, type LatestEntry, type ReportNode, type Topology } from './report.js';
import { containerMetadataTemplates, containerNodeId, META } from './topologies.js';

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
