/**
 * ioctl_ns(2) on nsfs files: parent namespace, owning user namespace, owner uid, namespace type.
 *
 * Path-based functions open the file (O_RDONLY|O_CLOEXEC), run the ioctl and always close the fd.
 * The `...Fd` variants work on an fd the caller already holds (and do not close it). Namespaces the
 * ioctls return as new fds are fstat'ed for (st_dev, st_ino) and closed immediately.
 */
import {
  CLONE_NEWCGROUP,
  CLONE_NEWIPC,
  CLONE_NEWNET,
  CLONE_NEWNS,
  CLONE_NEWPID,
  CLONE_NEWTIME,
  CLONE_NEWUSER,
  CLONE_NEWUTS,
  fail,
  fdStat,
  ok,
  sysClose,
  sysIoctl,
  sysIoctlUid,
  sysOpen,
  withFd,
  type NativeResult,
} from './libc.js';

export type { NativeResult } from './libc.js';

/** _IO(0xb7, n) values from linux/nsfs.h. */
export const NS_GET_USERNS = 0xb701;
export const NS_GET_PARENT = 0xb702;
export const NS_GET_NSTYPE = 0xb703;
export const NS_GET_OWNER_UID = 0xb704;

export type NsTypeName = 'mnt' | 'net' | 'pid' | 'uts' | 'ipc' | 'user' | 'cgroup' | 'time';

export const CLONE_FLAG_BY_TYPE: Readonly<Record<NsTypeName, number>> = {
  mnt: CLONE_NEWNS,
  net: CLONE_NEWNET,
  pid: CLONE_NEWPID,
  uts: CLONE_NEWUTS,
  ipc: CLONE_NEWIPC,
  user: CLONE_NEWUSER,
  cgroup: CLONE_NEWCGROUP,
  time: CLONE_NEWTIME,
};

/** CLONE_NEW* flag -> type name (null for anything else). */
export function nsTypeFromCloneFlag(flag: number): NsTypeName | null {
  for (const [name, f] of Object.entries(CLONE_FLAG_BY_TYPE) as [NsTypeName, number][]) {
    if (f === flag) return name;
  }
  return null;
}

/** A namespace as identified by its nsfs inode; (dev, ino) together are unique among live namespaces. */
export interface NsId {
  dev: number;
  ino: number;
}

/** Open an nsfs file (or anything else) read-only, close-on-exec. The caller must close it. */
export function openNs(path: string): NativeResult<number> {
  return sysOpen(path);
}

/** (dev, ino) of an open fd. */
export function nsIdFd(fd: number): NativeResult<NsId> {
  const st = fdStat(fd);
  return st.ok ? ok({ dev: st.value.dev, ino: st.value.ino }) : st;
}

/** Run an ioctl that returns a new namespace fd; fstat that fd and close it. */
function nsFdIoctl(fd: number, request: number): NativeResult<NsId> {
  const r = sysIoctl(fd, request);
  if (!r.ok) return r;
  try {
    return nsIdFd(r.value);
  } finally {
    sysClose(r.value);
  }
}

/** NS_GET_PARENT: parent of a pid or user namespace. EPERM at the top / outside the caller's scope, EINVAL for other types. */
export function nsParentFd(fd: number): NativeResult<NsId> {
  return nsFdIoctl(fd, NS_GET_PARENT);
}

/** NS_GET_USERNS: owning user namespace (for a user ns, its parent). EPERM at the top / outside the caller's scope. */
export function nsOwnerFd(fd: number): NativeResult<NsId> {
  return nsFdIoctl(fd, NS_GET_USERNS);
}

/** NS_GET_OWNER_UID: uid (in the caller's user ns) of the creator of a user namespace. EINVAL for other types. */
export function nsOwnerUidFd(fd: number): NativeResult<number> {
  return sysIoctlUid(fd, NS_GET_OWNER_UID);
}

/** NS_GET_NSTYPE: the namespace's type. */
export function nsTypeFd(fd: number): NativeResult<NsTypeName> {
  const r = sysIoctl(fd, NS_GET_NSTYPE);
  if (!r.ok) return r;
  const name = nsTypeFromCloneFlag(r.value);
  return name === null ? fail('EINVAL', `NS_GET_NSTYPE returned unknown flag 0x${r.value.toString(16)}`, 22) : ok(name);
}

export function nsParent(path: string): NativeResult<NsId> {
  return withFd(path, nsParentFd);
}

export function nsOwner(path: string): NativeResult<NsId> {
  return withFd(path, nsOwnerFd);
}

export function nsOwnerUid(path: string): NativeResult<number> {
  return withFd(path, nsOwnerUidFd);
}

export function nsType(path: string): NativeResult<NsTypeName> {
  return withFd(path, nsTypeFd);
}

/** (dev, ino) of the namespace at path (through open + fstat). */
export function nsId(path: string): NativeResult<NsId> {
  return withFd(path, nsIdFd);
}

/** Everything ioctl_ns can tell about one namespace, from a single open. */
export interface NsInfo {
  id: NsId;
  type: NativeResult<NsTypeName>;
  /** Only attempted for pid and user namespaces (others give EINVAL). */
  parent: NativeResult<NsId>;
  owner: NativeResult<NsId>;
  /** Only attempted for user namespaces (others give EINVAL). */
  ownerUid: NativeResult<number>;
}

export function nsInfoFd(fd: number): NativeResult<NsInfo> {
  const id = nsIdFd(fd);
  if (!id.ok) return id;
  const type = nsTypeFd(fd);
  // Skip ioctls known to fail with EINVAL when the type is known; still try them if the type is not.
  const parent = type.ok && type.value !== 'pid' && type.value !== 'user' ? fail('EINVAL', `NS_GET_PARENT: ${type.value} namespaces are not hierarchical`, 22) : nsParentFd(fd);
  const ownerUid = type.ok && type.value !== 'user' ? fail('EINVAL', 'NS_GET_OWNER_UID: not a user namespace', 22) : nsOwnerUidFd(fd);
  return ok({ id: id.value, type, parent, owner: nsOwnerFd(fd), ownerUid });
}

export function nsInfo(path: string): NativeResult<NsInfo> {
  return withFd(path, nsInfoFd);
}

/** lsns's PNS/ONS cell value: the inode, or 0 when the ioctl failed (top of hierarchy, EINVAL, EPERM...). */
export function inoOrZero(r: NativeResult<NsId>): number {
  return r.ok ? r.value.ino : 0;
}
