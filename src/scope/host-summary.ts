/**
 * The Host node's summary, shown above its table: how many namespaces of each type the host has,
 * and which containers share the host's net, pid or ipc namespace (a container's namespace of a
 * type is the one most of its processes are in: scan/containers.ts), and how many namespaces no
 * process is in, by what holds them. Pure; five latest entries at most, whatever the number of
 * processes, namespaces or containers.
 */
import { shortId } from '../procfs/cgroup.js';
import { NS_TYPES, type NsType } from '../procfs/types.js';
import type { ContainerInfo } from '../scan/containers.js';
import type { LatestEntry, MetadataTemplate } from './report.js';
import { heldSummary, type HolderInfo } from '../scan/holders/holder.js';

export const HOST_META = {
  types: 'hns-host-types',
  net: 'hns-host-net',
  pid: 'hns-host-pid',
  ipc: 'hns-host-ipc',
  held: 'hns-host-held',
} as const;

/** The host namespaces whose sharing containers are listed (Kubernetes: hostNetwork, hostPID, hostIPC). */
export const HOST_SHARED_TYPES = ['net', 'pid', 'ipc'] as const satisfies readonly NsType[];

/** At most this many short ids in one entry; the rest are counted (`, +3 more`). */
export const MAX_LISTED_CONTAINERS = 8;

/** `mnt 12, net 5, pid 4, ...` in lsns's type order; types with no namespace are left out. */
export function namespacesPerType(rows: ReadonlyArray<{ type: NsType }>): string {
  const counts = new Map<NsType, number>();
  for (const r of rows) counts.set(r.type, (counts.get(r.type) ?? 0) + 1);
  const parts = NS_TYPES.filter((t) => counts.has(t)).map((t) => `${t} ${counts.get(t) ?? 0}`);
  return parts.length === 0 ? 'none' : parts.join(', ');
}

/**
 * `none`, or `<count>: <short id>, <short id>` for the containers whose namespace of `type` is the
 * host's, in ascending id order, at most MAX_LISTED_CONTAINERS ids and then `, +N more`.
 */
export function containersSharing(containers: Iterable<Pick<ContainerInfo, 'id' | 'shared'>>, type: NsType): string {
  const ids: string[] = [];
  for (const c of containers) if (c.shared.includes(type)) ids.push(c.id);
  if (ids.length === 0) return 'none';
  ids.sort();
  const listed = ids.slice(0, MAX_LISTED_CONTAINERS).map(shortId).join(', ');
  const more = ids.length - MAX_LISTED_CONTAINERS;
  return `${ids.length}: ${listed}${more > 0 ? `, +${more} more` : ''}`;
}

/**
 * The summary entries: namespaces per type always; the three container entries only when the
 * containers were scanned (`containers` given), so an unknown is never shown as `none`.
 */
export function hostSummaryLatest(
  rows: ReadonlyArray<{ type: NsType; nprocs?: number; holder?: HolderInfo }>,
  containers: Iterable<Pick<ContainerInfo, 'id' | 'shared'>> | undefined,
  timestamp: string,
): Record<string, LatestEntry> {
  const latest: Record<string, LatestEntry> = { [HOST_META.types]: { timestamp, value: namespacesPerType(rows) } };
  if (containers !== undefined) {
    const list = [...containers];
    for (const type of HOST_SHARED_TYPES) latest[HOST_META[type]] = { timestamp, value: containersSharing(list, type) };
  }
  // The leak indicator: namespaces alive with no process in them, by what holds them.
  latest[HOST_META.held] = { timestamp, value: heldSummary(rows) };
  return latest;
}

export function hostMetadataTemplates(): Record<string, MetadataTemplate> {
  const meta = (id: string, label: string, priority: number): MetadataTemplate => ({ id, label, dataType: '', priority, from: 'latest' });
  return {
    [HOST_META.types]: meta(HOST_META.types, 'Namespaces per type', 20),
    [HOST_META.held]: meta(HOST_META.held, 'Namespaces without a process', 24),
    [HOST_META.net]: meta(HOST_META.net, 'Containers in host net ns', 21),
    [HOST_META.pid]: meta(HOST_META.pid, 'Containers in host pid ns', 22),
    [HOST_META.ipc]: meta(HOST_META.ipc, 'Containers in host ipc ns', 23),
  };
}
