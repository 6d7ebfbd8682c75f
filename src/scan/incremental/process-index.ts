/**
 * The two changes every phase makes to the process index: one process read (again) and one
 * dropped, each keeping the namespace members, the interned link sets, the young set and the
 * sweep order in step with `procs`.
 */
import { sameContainer } from './cgroup-cache.js';
import { linksOf, readProcessInos, sameInos } from './process-links.js';
import type { Proc, ScanState } from './state.js';

/**
 * `new`: a pid not known (young from now on, except in the first tick: those processes were
 * there before us); `reused`: a known pid the allocator handed out again since the last tick
 * (young again); `recheck`: a known pid read again because reuse could not be ruled out (young
 * again if what it shows changed); `verify`: a known process read again.
 */
export type ReadKind = 'new' | 'reused' | 'recheck' | 'verify';

/**
 * Reads one process's links (and cgroup) and updates the index. `run`: its run time read just
 * before (the sweep), kept with it so that the next sweep can tell whether it ran since.
 */
export function readProcess(s: ScanState, pid: number, now: number, kind: ReadKind, run: number | null = null): void {
  readLinksAndCgroup(s, pid, now, kind);
  const p = s.procs.get(pid);
  if (p !== undefined) {
    p.run = run ?? -1;
    p.fullAt = now;
  }
}

/**
 * A known process whose main thread has not run since its links were read: they cannot have
 * changed (only a thread's own setns/unshare change its namespaces); its cgroup can (another
 * process may move it), so that is read again.
 */
export function verifyCgroupOnly(s: ScanState, pid: number, now: number): void {
  const p = s.procs.get(pid);
  if (p === undefined) return;
  const any = p.links.length > 0;
  const { container, cgroupText } = readContainer(s, pid, any, p.cgroupText);
  p.verifiedAt = now;
  if (!sameContainer(p.container, container)) {
    p.container = container;
    if (any) s.structureChanged = true;
  }
  p.cgroupText = cgroupText;
}

/** A process's container from its cgroup file (when cgroups are read and it has links); undefined: unreadable. */
function readContainer(s: ScanState, pid: number, any: boolean, previous: string | undefined): Pick<Proc, 'container' | 'cgroupText'> {
  const read = s.cgroups && any ? s.reader.readCgroup(pid, previous) : null;
  const parsed = read === null ? null : s.cgroupCache.parse(read);
  return { container: parsed === null ? (s.cgroups && any ? undefined : null) : parsed.ref, cgroupText: parsed?.text };
}

function readLinksAndCgroup(s: ScanState, pid: number, now: number, kind: ReadKind): void {
  const { reader, inos } = s;
  const old = s.procs.get(pid);
  let any = readProcessInos(reader, pid, kind === 'verify' ? old?.links : undefined, inos, s.someInos);
  // Outside a real procfs (uids from status) a process with a broken stat or status is left out
  // of every count, as scanNamespaces does; on procfs that is checked for representatives only.
  if (any && !reader.uidFromOwner && reader.readDetails(pid) === null) {
    inos.fill(0);
    any = false;
  }
  const { container, cgroupText } = readContainer(s, pid, any, old?.cgroupText);
  if (old && sameInos(old.links, inos)) {
    old.verifiedAt = now;
    if (kind === 'reused') old.bornTick = s.tickNo;
    if (!sameContainer(old.container, container)) {
      old.container = container;
      if (kind === 'recheck') old.bornTick = s.tickNo;
      if (any) s.structureChanged = true;
    }
    if (old.bornTick === s.tickNo) s.young.add(pid);
    old.cgroupText = cgroupText;
    return;
  }
  if (old) {
    for (const l of old.links) s.members.remove(pid, l);
    s.linkSets.release(old.links);
  } else {
    s.sweep.dirty = true;
  }
  const links = s.linkSets.intern(linksOf(inos));
  for (const l of links) s.members.add(pid, l);
  const bornTick = kind === 'verify' && old ? old.bornTick : s.tickNo === 1 ? -Infinity : s.tickNo;
  s.procs.set(pid, { links, container, cgroupText, bornTick, verifiedAt: now, run: -1, fullAt: 0, threads: old?.threads ?? 1 });
  if (bornTick === s.tickNo) s.young.add(pid);
  if (links.length > 0 || (old && old.links.length > 0)) s.structureChanged = true;
}

/** Forgets a process that is gone (its children were reparented: `exitedNow`). */
export function dropProcess(s: ScanState, pid: number): void {
  s.exitedNow.add(pid);
  s.watch.watcher?.unwatch(pid);
  s.watch.unwatched.delete(pid);
  s.young.delete(pid);
  s.repDetails.delete(pid);
  s.zombies.delete(pid);
  s.holds.fdUnreadable.delete(pid);
  s.holds.due.delete(pid);
  if (s.holds.byPid.delete(pid)) s.holds.changed = true;
  const p = s.procs.get(pid);
  if (!p) return;
  for (const l of p.links) s.members.remove(pid, l);
  s.linkSets.release(p.links);
  s.procs.delete(pid);
  s.sweep.dirty = true;
  if (p.links.length > 0) s.structureChanged = true;
}
