/**
 * ioctl_ns(2) on nsfs files: parent namespace, owning user namespace, owner uid, namespace type.
 *
 * Path-based functions open the file (O_RDONLY|O_CLOEXEC), run the ioctl and always close the fd.
 * The `...Fd` variants work on an fd the caller already holds (and do not close it). Namespaces the
 * ioctls return as new fds are fstat'ed for (st_dev, st_ino) and closed immediately.
 */
import { sysClose, sysOpen, fdStat, withFd } from './fd.js';
import { callInt } from './loader.js';
import type { LibcPrototypes } from './prototypes.js';
import { fail, ok, type NativeResult } from './result.js';

export type { NativeResult } from './result.js';

const IOCTL_CALLS = {
  // ioctl is variadic in libc; on every Linux ABI koffi supports, a fixed third pointer argument is
  // passed the same way as the variadic one.
  ioctl: 'int ioctl(int fd, unsigned long request, void *arg)',
} as const satisfies LibcPrototypes;

/** ioctl(fd, request) with no argument; returns the ioctl's (non-negative) return value. */
export function sysIoctl(fd: number, request: number): NativeResult<number> {
  return callInt(IOCTL_CALLS.ioctl, [fd, request, null], `0x${request.toString(16)}`);
}

/** ioctl(fd, request, &uid) where the kernel writes a uid_t (u32); returns that uid. */
export function sysIoctlUid(fd: number, request: number): NativeResult<number> {
  const buf = Buffer.alloc(4);
  const r = callInt(IOCTL_CALLS.ioctl, [fd, request, buf], `0x${request.toString(16)}`);
  return r.ok ? ok(buf.readUInt32LE(0)) : r;
}

/* CLONE_NEW* (linux/sched.h): the namespace types, as setns(2) and NS_GET_NSTYPE name them. */
export const CLONE_NEWNS = 0x00020000;
export const CLONE_NEWCGROUP = 0x02000000;
export const CLONE_NEWUTS = 0x04000000;
export const CLONE_NEWIPC = 0x08000000;
export const CLONE_NEWUSER = 0x10000000;
export const CLONE_NEWPID = 0x20000000;
export const CLONE_NEWNET = 0x40000000;
export const CLONE_NEWTIME = 0x00000080;

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
