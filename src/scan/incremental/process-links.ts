/**
 * Reading one known or unknown process's ns links into a reused row of inodes, and turning such a
 * row into links. A known process's own pid namespace never changes (setns and unshare with
 * CLONE_NEWPID change only pid_for_children), so re-verifying it reads the other seven and keeps
 * the pid link it had: one readlinkat in eight less on the sweep. The kernel's access check is the
 * same for every ns link, and a zombie keeps its pid and user links, so when any other link is
 * readable the pid link is too; when none is, neither is (process gone).
 */
import type { ProcReader } from '../../procfs/reader.js';
import { NS_TYPES, type NsLink, type NsType } from '../../procfs/types.js';

const PID_INDEX = NS_TYPES.indexOf('pid');
export const NOT_PID_TYPES: readonly NsType[] = NS_TYPES.filter((t) => t !== 'pid');

/**
 * The links of `pid` into `inos` (NS_TYPES order, 0: unreadable), `some` a scratch row of
 * NOT_PID_TYPES.length; `known`: the links it had (their pid link is kept). Whether any was read.
 */
export function readProcessInos(reader: ProcReader, pid: number, known: readonly NsLink[] | undefined, inos: Float64Array, some: Float64Array): boolean {
  let pidIno = 0;
  // Indexed, not for-of: on this path (every swept process) the iterator's results were ~15 % of
  // the daemon's steady-state allocation.
  const links = known ?? [];
  for (let i = 0; i < links.length; i++) if (links[i]?.type === 'pid') pidIno = (links[i] as NsLink).ino;
  if (pidIno <= 0) return reader.readNsInos(pid, NS_TYPES, inos);
  const any = reader.readNsInos(pid, NOT_PID_TYPES, some);
  for (let k = 0, j = 0; k < NS_TYPES.length; k++) inos[k] = k === PID_INDEX ? (any ? pidIno : 0) : (some[j++] as number);
  return any;
}

/** Whether `links` (readable links, NS_TYPES order) are exactly the non-zero entries of `inos` (by NS_TYPES index). */
export function sameInos(links: readonly NsLink[], inos: Float64Array): boolean {
  let j = 0;
  for (let k = 0; k < NS_TYPES.length; k++) {
    const ino = inos[k] as number;
    if (ino === 0) continue;
    const l = links[j++];
    if (l === undefined || l.ino !== ino || l.type !== NS_TYPES[k]) return false;
  }
  return j === links.length;
}

/** The readable links of a row of inodes (NS_TYPES order). */
export function linksOf(inos: Float64Array): NsLink[] {
  const links: NsLink[] = [];
  for (let k = 0; k < NS_TYPES.length; k++) {
    const ino = inos[k] as number;
    if (ino > 0) links.push({ type: NS_TYPES[k] as NsType, ino });
  }
  return links;
}
