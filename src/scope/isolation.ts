/**
 * The sharing statement of Container and Process nodes: which of the isolation-relevant namespace
 * types are the host's. Pure.
 *
 * net, pid, ipc, uts and mnt are the types whose sharing breaks isolation (Kubernetes' baseline Pod
 * Security forbids hostNetwork, hostPID and hostIPC; a host uts or mnt namespace is as telling), in
 * that order. user, cgroup and time are shared with the host by every default container (no user
 * namespace, `--cgroupns=host` on cgroup v1, no time namespace): they are set apart so that they do
 * not read like a warning.
 */
import type { NsType } from '../procfs/types.js';
import type { InitialNamespaces, NsByType } from '../scan/host-namespaces.js';

export const ISOLATION_TYPES = ['net', 'pid', 'ipc', 'uts', 'mnt'] as const satisfies readonly NsType[];
export const DEFAULT_SHARED_TYPES = ['user', 'cgroup', 'time'] as const satisfies readonly NsType[];

/** What "isolated" means: none of ISOLATION_TYPES is the host's, and every one of them is known. */
export const ISOLATED = 'isolated';

export interface HostSharing {
  /** Isolation-relevant types whose namespace is the host's (ISOLATION_TYPES order). */
  host: NsType[];
  /** Isolation-relevant types that cannot be compared: the node's or the host's link unknown. */
  unknown: NsType[];
  /** user/cgroup/time whose namespace is the host's (DEFAULT_SHARED_TYPES order). */
  byDefault: NsType[];
}

export function hostSharing(initial: InitialNamespaces, ns: NsByType): HostSharing {
  const host: NsType[] = [];
  const unknown: NsType[] = [];
  for (const type of ISOLATION_TYPES) {
    const mine = ns[type];
    const hosts = initial.ns[type];
    if (mine === undefined || hosts === undefined) unknown.push(type);
    else if (mine === hosts) host.push(type);
  }
  const byDefault = DEFAULT_SHARED_TYPES.filter((t) => ns[t] !== undefined && ns[t] === initial.ns[t]);
  return { host, unknown, byDefault };
}

/**
 * The "Host namespaces" value: `net, pid`; `isolated` when none of the five is the host's; a type
 * that cannot be compared is never counted as isolated: `none (unknown: ipc)`, `net (unknown: mnt)`.
 */
export function hostSharingLabel(s: HostSharing): string {
  if (s.host.length === 0 && s.unknown.length === 0) return ISOLATED;
  const shared = s.host.length === 0 ? 'none' : s.host.join(', ');
  return s.unknown.length === 0 ? shared : `${shared} (unknown: ${s.unknown.join(', ')})`;
}

/** The "Shared with host by default" value (`user, cgroup, time`), or null when none is. */
export function defaultSharedLabel(s: HostSharing): string | null {
  return s.byDefault.length === 0 ? null : s.byDefault.join(', ');
}
