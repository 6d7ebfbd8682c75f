/**
 * Namespaces that no process is in but that an nsfs bind mount keeps alive (`ip netns add x`
 * mounts one at /run/netns/x). lsns 2.38.1 does not list them; newer util-linux does, with
 * NPROCS 0, and so do we. They are found in the mount tables of every distinct mount namespace
 * the scan saw (each read through the lowest pid in it), plus the reader's own.
 */
import { parseNsfsMounts } from '../procfs/mountinfo.js';
import type { ProcReader } from '../procfs/reader.js';
import type { NsType } from '../procfs/types.js';
import type { NamespaceRow } from './namespaces.js';

export interface PersistentNs {
  ino: number;
  type: NsType;
  /** Mount points, as seen inside the mount namespace they were found in (byte strings). */
  mountPoints: string[];
  /** A path this process can open to reach the namespace: `<root>/<pid>/root<mountpoint>`. */
  accessPath: string;
  /** The mount namespace whose table has the first mount point (0: unknown). */
  mntNs: number;
}

/**
 * One process per distinct mount namespace: the mnt rows' lowest pids, or, when `-t` left mnt out
 * of the scan, the lowest pid of each mount namespace found by one extra readlink per process.
 */
function mountNamespaceReps(reader: ProcReader, rows: readonly NamespaceRow[], types: readonly NsType[]): Array<{ pid: number; mntNs: number }> {
  if (types.includes('mnt')) return rows.flatMap((r) => (r.type === 'mnt' && r.pid !== null && r.nprocs > 0 ? [{ pid: r.pid, mntNs: r.ns }] : []));
  const reps = new Map<number, number>();
  for (const pid of reader.listPids()) {
    const link = reader.readNsLinks(pid, ['mnt'])[0];
    if (link && !reps.has(link.ino)) reps.set(link.ino, pid);
  }
  return [...reps].map(([mntNs, pid]) => ({ pid, mntNs }));
}

export function findPersistent(reader: ProcReader, rows: readonly NamespaceRow[], types: readonly NsType[]): PersistentNs[] {
  const known = new Set(rows.map((r) => r.ns));
  const found = new Map<number, PersistentNs>();
  const sources: Array<{ pid: number | 'self'; mntNs: number }> = [{ pid: 'self', mntNs: reader.readOwnNsIno('mnt') }, ...mountNamespaceReps(reader, rows, types)];
  for (const { pid: src, mntNs } of sources) {
    const text = reader.readMountinfo(src);
    if (text === null) continue;
    for (const m of parseNsfsMounts(text)) {
      if (known.has(m.ino) || !types.includes(m.type)) continue;
      const prev = found.get(m.ino);
      if (prev) {
        if (!prev.mountPoints.includes(m.mountPoint)) prev.mountPoints.push(m.mountPoint);
        continue;
      }
      const accessPath = src === 'self' ? m.mountPoint : reader.resolve(String(src), 'root', m.mountPoint);
      found.set(m.ino, { ino: m.ino, type: m.type, mountPoints: [m.mountPoint], accessPath, mntNs });
    }
  }
  return [...found.values()].sort((a, b) => a.ino - b.ino);
}
