/** The namespace types lsns knows, in lsns's own internal order. */
export const NS_TYPES = ['mnt', 'net', 'pid', 'uts', 'ipc', 'user', 'cgroup', 'time'] as const;
export type NsType = (typeof NS_TYPES)[number];

export function isNsType(s: string): s is NsType {
  return (NS_TYPES as readonly string[]).includes(s);
}

/** One namespace membership of a process: the inode behind /proc/<pid>/ns/<type>. */
export interface NsLink {
  type: NsType;
  ino: number;
}

/** An open fd of a process whose link names a namespace (`/proc/<pid>/fd/<fd>` -> `net:[<ino>]`). */
export interface FdNsLink extends NsLink {
  fd: number;
}

/**
 * Text read from /proc is kept as a byte string: one UTF-16 unit per byte (latin1 decoding), so
 * command lines with invalid UTF-8 survive unchanged until an output layer decides how to show
 * them (lsns escapes them in tables and passes them through in JSON).
 */
export type ByteString = string;

/** What the scanner needs to know about a process besides its namespaces. */
export interface ProcDetails {
  pid: number;
  ppid: number;
  /** Effective uid of the process (owner of /proc/<pid>). */
  uid: number;
  /** The name from stat's comm field, used when cmdline is empty (kernel threads, zombies). */
  comm: ByteString;
  /** /proc/<pid>/cmdline with NULs turned into spaces (see cmdlineToCommand); may be empty. */
  cmdline: ByteString;
  /** Field 22 of stat: start time in clock ticks since boot. With the pid it identifies a process. */
  startTime: number;
}
