/**
 * One process's holds on namespaces besides its own links: its threads that are in other
 * namespaces than it is (read only when it has more than one thread), and its open fds whose
 * links name a namespace. Shared by the full scan (discover.ts) and the daemon's holders phase.
 */
import type { ReadProblem } from '../../procfs/io.js';
import type { ProcReader } from '../../procfs/reader.js';
import { NS_TYPES, type FdNsLink, type NsLink, type NsType } from '../../procfs/types.js';
import type { TaskHold } from './holder.js';

/** An fd table is read this many links at a time: one of 100,000 fds never blocks the daemon in one go. */
export const FD_CHUNK = 1024;

export type FdRead = 'read' | ReadProblem;

/**
 * The fds of `pid` that hold a namespace of `types` (null: all), pushed to `out`; yields between
 * chunks of FD_CHUNK links. Returns 'read', or why the fd directory could not be read.
 */
export function* readFdHolds(reader: ProcReader, pid: number, types: ReadonlySet<NsType> | null, out: TaskHold[]): Generator<void, FdRead> {
  const names = reader.listFds(pid);
  if (typeof names === 'string') return names;
  const found: FdNsLink[] = [];
  for (let from = 0; from < names.length; from += FD_CHUNK) {
    if (from > 0) yield;
    if (!reader.readNsFdLinks(pid, names, from, Math.min(names.length, from + FD_CHUNK), found)) return 'vanished';
  }
  for (const f of found) if (types === null || types.has(f.type)) out.push({ kind: 'fd', pid, id: f.fd, type: f.type, ino: f.ino });
  return 'read';
}

/** Runs a generator of this module to its end (the full scan does not slice its work). */
export function drain<T>(g: Generator<void, T>): T {
  for (;;) {
    const r = g.next();
    if (r.done === true) return r.value;
  }
}

/**
 * The threads of `pid` (other than its leader) whose namespace of some type in `types` is not the
 * process's own (`own`: its readable links), pushed to `out`. Nothing is read for a process with
 * one thread but the thread count (one stat; `threads` when the caller has it). Returns how many
 * threads were looked at.
 */
export function readThreadHolds(
  reader: ProcReader,
  pid: number,
  own: readonly NsLink[],
  types: readonly NsType[],
  out: TaskHold[],
  scratch: Float64Array = new Float64Array(NS_TYPES.length),
  threads = reader.threadCount(pid),
): number {
  if (threads <= 1) return 0;
  const tids = reader.listTids(pid);
  let looked = 0;
  for (const tid of tids) {
    if (tid === pid) continue;
    looked++;
    if (!reader.readTaskNsInos(pid, tid, types, scratch)) continue;
    for (let k = 0; k < types.length; k++) {
      const ino = scratch[k] as number;
      if (ino <= 0) continue;
      const type = types[k] as NsType;
      // A leader whose link cannot be read (a zombie leader of live threads) is in none: the thread holds it.
      if (own.some((l) => l.type === type && l.ino === ino)) continue;
      out.push({ kind: 'thread', pid, id: tid, type, ino });
    }
  }
  return looked;
}

/** The set readFdHolds filters by: null when every type is asked for. */
export function typeFilter(types: readonly NsType[]): ReadonlySet<NsType> | null {
  return types.length === NS_TYPES.length ? null : new Set(types);
}

/**
 * A process's threads and fds at once (the full scan's way: not sliced), pushed to `out`; false
 * when its fd table was not ours to read.
 */
export function readHoldsNow(reader: ProcReader, pid: number, own: readonly NsLink[], types: readonly NsType[], typeSet: ReadonlySet<NsType> | null, out: TaskHold[], scratch: Float64Array): boolean {
  readThreadHolds(reader, pid, own, types, out, scratch);
  return drain(readFdHolds(reader, pid, typeSet, out)) !== 'unreadable';
}
