/**
 * The Pod topology: one node per Kubernetes pod found in the containers' cgroup paths (the pod
 * UID of `kubepods/.../pod<uid>/...` or `kubepods-<qos>-pod<uid>.slice`), with the id Scope's
 * Kubernetes reporter gives it (report.MakePodNodeID: `<uid>;<pod>`), so the app merges our
 * entries into the pod it shows. Pure.
 *
 * A pod's containers share the sandbox's net, ipc and uts namespaces (and pid, with
 * shareProcessNamespace or hostPID). The pod's namespace of a type is the one most of its
 * containers are in (ties: the container with the lowest pid, normally the sandbox, started
 * first); pid is shown only when every container is in the same one. "Host namespaces" names the
 * pod-spec fields that put a pod in the host's namespaces: hostNetwork, hostPID, hostIPC.
 */
import type { NsType } from '../procfs/types.js';
import type { ContainerInfo } from '../scan/containers.js';
import { mostCounted } from '../scan/containers.js';
import { isHostNs, type InitialNamespaces, type NsByType } from '../scan/host-namespaces.js';
import { PROC_TABLE_PREFIX, procNsValue, procTableTemplate } from './ns-list.js';
import { rfc3339, type LatestEntry, type MetadataTemplate, type ReportNode, type Topology } from './report.js';
export const POD_META = { shared: 'hns-shared', containers: 'hns-pod-containers' } as const;
export const POD_SHARED_TYPES = ['net', 'ipc', 'uts'] as const satisfies readonly NsType[];
/** The pod-spec field that shares each host namespace. */
export const HOST_FIELDS = [
  ['net', 'hostNetwork'],
  ['pid', 'hostPID'],
  ['ipc', 'hostIPC'],
] as const satisfies ReadonlyArray<readonly [NsType, string]>;

export function podNodeId(uid: string): string {
  return `${uid};<pod>`;
}

export interface PodInfo {
  uid: string;
  /** The pod's containers, by lowest pid. */
  containers: ContainerInfo[];
  /** The pod's namespaces (POD_SHARED_TYPES, and pid when all containers share one). */
  ns: NsByType;
}

/** The namespace of `type` most containers are in; ties go to the earlier container. */
function majority(containers: readonly ContainerInfo[], type: NsType): number | undefined {
  const counts = new Map<number, number>();
  for (const c of containers) {
    const ino = c.ns[type];
    if (ino !== undefined) counts.set(ino, (counts.get(ino) ?? 0) + 1);
  }
  return mostCounted(counts);
}

/** Pods by UID, ascending, from the containers that carry a pod UID. */
export function podsOf(containers: Iterable<ContainerInfo>): Map<string, PodInfo> {
  const byUid = new Map<string, ContainerInfo[]>();
  for (const c of containers) {
    if (c.podUid === undefined) continue;
    let list = byUid.get(c.podUid);
    if (!list) byUid.set(c.podUid, (list = []));
    list.push(c);
  }
  const pods = new Map<string, PodInfo>();
  for (const uid of [...byUid.keys()].sort()) {
    const list = (byUid.get(uid) ?? []).sort((a, b) => (a.pids[0] ?? Infinity) - (b.pids[0] ?? Infinity));
    const ns: NsByType = {};
    for (const type of POD_SHARED_TYPES) {
      const ino = majority(list, type);
      if (ino !== undefined) ns[type] = ino;
    }
    const pid = list[0]?.ns.pid;
    if (pid !== undefined && list.every((c) => c.ns.pid === pid)) ns.pid = pid;
    pods.set(uid, { uid, containers: list, ns });
  }
  return pods;
}

/**
 * `hostNetwork, hostIPC`, or `none`; a type whose namespace (the pod's, or the host's) is unknown
 * is never counted as not shared: `none (unknown: hostPID)`. For pid the pod's containers'
 * majority is used even when they differ (hostPID puts every container in the host's).
 */
export function podHostLabel(pod: PodInfo, initial: InitialNamespaces): string {
  const host: string[] = [];
  const unknown: string[] = [];
  for (const [type, field] of HOST_FIELDS) {
    const ino = pod.ns[type] ?? majority(pod.containers, type);
    const shared = ino === undefined ? null : isHostNs(initial, type, ino);
    if (shared === null) unknown.push(field);
    else if (shared) host.push(field);
  }
  const named = host.length === 0 ? 'none' : host.join(', ');
  return unknown.length === 0 ? named : `${named} (unknown: ${unknown.join(', ')})`;
}

export function podMetadataTemplates(): Record<string, MetadataTemplate> {
  return {
    [POD_META.shared]: { id: POD_META.shared, label: 'Host namespaces', dataType: '', priority: 20, from: 'latest' },
    [POD_META.containers]: { id: POD_META.containers, label: 'Containers (cgroup)', dataType: 'number', priority: 21, from: 'latest' },
  };
}

export function podTopology(pods: ReadonlyMap<string, PodInfo>, initial: InitialNamespaces, now: Date): Topology {
  const timestamp = rfc3339(now);
  const nodes: Record<string, ReportNode> = {};
  for (const pod of pods.values()) {
    const latest: Record<string, LatestEntry> = {};
    for (const type of ['net', 'pid', 'ipc', 'uts'] as const) {
      const ino = pod.ns[type];
      if (ino !== undefined) latest[PROC_TABLE_PREFIX + type] = { timestamp, value: procNsValue(initial, type, ino) };
    }
    latest[POD_META.shared] = { timestamp, value: podHostLabel(pod, initial) };
    latest[POD_META.containers] = { timestamp, value: String(pod.containers.length) };
    nodes[podNodeId(pod.uid)] = { latest };
  }
  return {
    nodes,
    table_templates: { [PROC_TABLE_PREFIX]: procTableTemplate() },
    metadata_templates: podMetadataTemplates(),
  };
}
