/**
 * The ns links of every listed process as one flat table of inode numbers, instead of an NsLink
 * object per link: a 5,000-process scan is 40,000 links, and objects for them were most of the
 * scan's garbage. The table can be filled by several threads (see parallel-links.ts); the scan
 * (namespaces.ts) aggregates it in ascending pid order either way.
 */
import type { ProcReader } from '../procfs/reader.js';
import { NS_TYPES, type NsLink, type NsType } from '../procfs/types.js';
import type { TaskHold } from './holders/holder.js';
import { readHoldsNow, typeFilter } from './holders/process-holds.js';

export interface LinkTable {
  /** Ascending, as ProcReader.listPids returns them. */
  readonly pids: readonly number[];
  readonly types: readonly NsType[];
  /** inos[i * types.length + k]: inode of pids[i]'s types[k] link; 0 where it could not be read. */
  readonly inos: Float64Array;
}

/**
 * Rows [from, to) of a table on one thread. On a mounted procfs, readNsInos (one O_PATH handle on
 * <pid>/ns and a readlinkat per link through koffi, ~25 ms to load, or plain fs without it);
 * on a fixture tree, readNsLinks, so that its notes about broken trees (an `ns` that is not a
 * directory, ...) stay exactly what they were.
 */
export function fillLinkRows(reader: ProcReader, table: LinkTable, from: number, to: number, sink?: Parameters<ProcReader['readNsInos']>[4], holds?: HoldRead): void {
  const { pids, types, inos } = table;
  const t = types.length;
  // Made once for the rows, not per process.
  const scratch: RowScratch | null = holds === undefined ? null : { typeSet: typeFilter(types), inos: new Float64Array(NS_TYPES.length) };
  for (let i = from; i < to; i++) {
    const pid = pids[i] as number;
    if (reader.procfs) {
      reader.readNsInos(pid, types, inos, i * t, sink);
    } else {
      inos.fill(0, i * t, (i + 1) * t);
      for (const link of reader.readNsLinks(pid, types)) inos[i * t + types.indexOf(link.type)] = link.ino;
    }
    if (holds !== undefined && scratch !== null) readRowHolds(reader, table, i, holds, scratch);
  }
}

/** Threads and fds read with the links (list --holders): what they hold, and how many fd tables were not ours to read. */
export interface HoldRead {
  out: TaskHold[];
  fdUnreadable: number;
}

interface RowScratch {
  typeSet: ReadonlySet<NsType> | null;
  inos: Float64Array;
}

/** Row i's process's thread and fd holds (holders/process-holds.ts), its own links from the row. */
function readRowHolds(reader: ProcReader, table: LinkTable, i: number, holds: HoldRead, scratch: RowScratch): void {
  const { pids, types, inos } = table;
  const t = types.length;
  const pid = pids[i] as number;
  const own: NsLink[] = [];
  for (let k = 0; k < t; k++) {
    const ino = inos[i * t + k] as number;
    if (ino > 0) own.push({ type: types[k] as NsType, ino });
  }
  // A process with no readable link is left out of the scan: nothing of it is shown.
  if (own.length === 0) return;
  if (!readHoldsNow(reader, pid, own, types, scratch.typeSet, holds.out, scratch.inos)) holds.fdUnreadable++;
}

/** The whole table on the calling thread. */
export function readLinkTable(reader: ProcReader, pids: readonly number[], types: readonly NsType[]): LinkTable {
  const table: LinkTable = { pids, types, inos: new Float64Array(pids.length * types.length) };
  fillLinkRows(reader, table, 0, pids.length);
  return table;
}
