/**
 * Which container a process belongs to, from the text of `/proc/<pid>/cgroup`. Pure: strings in,
 * a ContainerRef (or null) out; the reader (ProcReader.readCgroup) does the I/O.
 *
 * A line is `hierarchy-id:controllers:path` (cgroup v1) or `0::path` (cgroup v2; a hybrid host
 * has both). Container runtimes name the cgroup of a container after its 64-hex id, in one path
 * segment shaped one of these ways:
 *
 *   docker-<id>.scope          Docker, systemd driver       (/system.slice/docker-<id>.scope)
 *   <id>                       Docker, cgroupfs driver      (/docker/<id>), kubelet cgroupfs
 *                              (/kubepods/besteffort/pod<uid>/<id>), ECS, nested docker
 *   cri-containerd-<id>.scope  containerd under kubelet's systemd driver
 *   crio-<id>.scope, crio-<id> CRI-O (systemd / cgroupfs)
 *   libpod-<id>.scope          podman (/machine.slice/..., rootless under user@.service),
 *   libpod-<id>                podman cgroupfs (/libpod_parent/libpod-<id>)
 *   <slice>:<prefix>:<id>      systemd-style names containerd writes on cgroup v1
 *                              (kubepods-besteffort-pod<uid>.slice:cri-containerd:<id>)
 *
 * The LAST matching segment of a path wins: a process in a sub-cgroup of its container
 * (`.../libpod-<id>.scope/container`, `/docker/<id>/init.scope`) belongs to it, and in nested
 * containers (`/docker/<outer>/docker/<inner>`) the innermost is the process's own. Monitor
 * processes (`crio-conmon-<id>.scope`, `libpod-conmon-<id>.scope`) are not in the container.
 * The v2 line is preferred over v1 lines; among v1 lines the first match wins.
 */

export type ContainerRuntime = 'docker' | 'containerd' | 'cri-o' | 'podman' | 'kubernetes' | 'unknown';

export interface ContainerRef {
  /** The full 64-hex container id (lower case). */
  id: string;
  runtime: ContainerRuntime;
  /** Kubernetes pod UID (dashed form) when the path is under kubepods. */
  podUid?: string;
  /** The cgroup path the id was found in. */
  path: string;
}

const HEX64 = /^[0-9a-f]{64}$/;

const PREFIXES: ReadonlyArray<[string, ContainerRuntime]> = [
  ['docker-', 'docker'],
  ['cri-containerd-', 'containerd'],
  ['containerd-', 'containerd'],
  ['crio-', 'cri-o'],
  ['libpod-', 'podman'],
];

/** `<prefix>` of the systemd-style `slice:prefix:id` names. */
const COLON_PREFIXES: Readonly<Record<string, ContainerRuntime>> = {
  docker: 'docker',
  'cri-containerd': 'containerd',
  containerd: 'containerd',
  crio: 'cri-o',
  libpod: 'podman',
};

/** The id and (if the name tells) the runtime of one path segment, or null. */
export function segmentContainer(segment: string): { id: string; runtime: ContainerRuntime | null } | null {
  if (segment.length < 64) return null;
  const colon = segment.lastIndexOf(':');
  if (colon >= 0) {
    const id = segment.slice(colon + 1);
    const rest = segment.slice(0, colon);
    const prefix = rest.slice(rest.lastIndexOf(':') + 1);
    const runtime = COLON_PREFIXES[prefix];
    return runtime !== undefined && HEX64.test(id) ? { id, runtime } : null;
  }
  let name = segment.endsWith('.scope') ? segment.slice(0, -'.scope'.length) : segment;
  if (HEX64.test(name)) return { id: name, runtime: null };
  for (const [prefix, runtime] of PREFIXES) {
    if (!name.startsWith(prefix)) continue;
    name = name.slice(prefix.length);
    return HEX64.test(name) ? { id: name, runtime } : null;
  }
  return null;
}

/** Kubernetes pod UID from `pod<uid>` (cgroupfs) or `kubepods[-<qos>]-pod<uid_with_underscores>.slice`. */
function podUidOf(segment: string): string | null {
  let m = /^pod([0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12})$/.exec(segment);
  if (m?.[1]) return m[1];
  m = /^kubepods(?:-[a-z]+)?-pod([0-9a-f]{8}(?:_[0-9a-f]{4}){3}_[0-9a-f]{12})\.slice$/.exec(segment);
  if (m?.[1]) return m[1].replace(/_/g, '-');
  return null;
}

/** The container of one cgroup path (`/system.slice/docker-<id>.scope`), or null. */
export function containerFromPath(cgroupPath: string): ContainerRef | null {
  if (!cgroupPath.startsWith('/')) return null;
  const segments = cgroupPath.split('/');
  for (let i = segments.length - 1; i > 0; i--) {
    const found = segmentContainer(segments[i] ?? '');
    if (!found) continue;
    const above = segments.slice(1, i);
    let podUid: string | null = null;
    for (const s of above) podUid = podUidOf(s) ?? podUid;
    // A colon name carries its pod slice in the same segment.
    const seg = segments[i] ?? '';
    if (podUid === null && seg.includes(':')) podUid = podUidOf(seg.slice(0, seg.indexOf(':')));
    const kube = podUid !== null || above.some((s) => s === 'kubepods' || s.startsWith('kubepods.') || s.startsWith('kubepods-'));
    let runtime: ContainerRuntime = found.runtime ?? 'unknown';
    if (found.runtime === null) {
      if (kube) runtime = 'kubernetes';
      else if (above.includes('docker')) runtime = 'docker';
      else if (above.includes('libpod_parent')) runtime = 'podman';
    }
    return { id: found.id, runtime, ...(podUid !== null ? { podUid } : {}), path: cgroupPath };
  }
  return null;
}

/**
 * The container of a process from its whole `/proc/<pid>/cgroup` text, or null when it is in
 * none (host processes, garbage). Lines that are not `<digits>:<controllers>:/<path>` are ignored.
 */
export function parseCgroupFile(text: string): ContainerRef | null {
  let v1: ContainerRef | null = null;
  for (const raw of text.split('\n')) {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    const a = line.indexOf(':');
    if (a <= 0) continue;
    const b = line.indexOf(':', a + 1);
    if (b < 0) continue;
    const hierarchy = line.slice(0, a);
    if (!/^\d+$/.test(hierarchy)) continue;
    let p = line.slice(b + 1);
    if (p.endsWith(' (deleted)')) p = p.slice(0, -' (deleted)'.length);
    const ref = containerFromPath(p);
    if (!ref) continue;
    const isV2 = hierarchy === '0' && b === a + 1;
    if (isV2) return ref;
    v1 ??= ref;
  }
  return v1;
}

/** Docker's short form (first 12 hex digits), as `docker ps` shows it. */
export function shortId(id: string): string {
  return id.slice(0, 12);
}
