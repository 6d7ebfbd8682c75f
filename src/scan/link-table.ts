/**
 * The ns links of every listed process as one flat table of inode numbers, instead of an NsLink
 * object per link: a 5,000-process scan is 40,000 links, and objects for them were most of the
 * scan's garbage. The table can be filled by several threads (see parallel-links.ts); the scan
 * (namespaces.ts) aggregates it in ascending pid order either way.
 */
import type { ProcReader } from '../procfs/reader.js';
import type { NsType } from '../procfs/types.js';

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
export function fillLinkRows(reader: ProcReader, table: LinkTable, from: number, to: number, sink?: Parameters<ProcReader['readNsInos']>[4]): void {
  const { pids, types, inos } = table;
  const t = types.length;
  for (let i = from; i < to; i++) {
    const pid = pids[i] as number;
    if (reader.procfs) {
      reader.readNsInos(pid, types, inos, i * t, sink);
      continue;
    }
    inos.fill(0, i * t, (i + 1) * t);
    for (const link of reader.readNsLinks(pid, types)) inos[i * t + types.indexOf(link.type)] = link.ino;
  }
}

/** The whole table on the calling thread. */
export function readLinkTable(reader: ProcReader, pids: readonly number[], types: readonly NsType[]): LinkTable {
  const table: LinkTable = { pids, types, inos: new Float64Array(pids.length * types.length) };
  fillLinkRows(reader, table, 0, pids.length);
  return table;
}
