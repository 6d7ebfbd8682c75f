/** Test access to a report's topologies: a missing one fails the test where it is used, by name. */
import { TABLE_PREFIX } from '../../src/scope/host-table.js';
import { CELL_SEPARATOR, type ScopeReport } from '../../src/scope/report.js';
import { hostNodeId } from '../../src/scope/host.js';

export type HostTopology = NonNullable<ScopeReport['Host']>;

/** The report's Host topology; throws when the report has none (so the assertion using it fails). */
export function hostOf(r: ScopeReport): HostTopology {
  if (r.Host === undefined) throw new Error('the report has no Host topology');
  return r.Host;
}

/** The Host table as the report carries it: row id -> column id -> cell value. */
export function rawTableRows(report: ScopeReport, hostname: string): Map<string, Record<string, string>> {
  const out = new Map<string, Record<string, string>>();
  const node = report.Host?.nodes[hostNodeId(hostname)];
  if (!node) return out;
  for (const [key, entry] of Object.entries(node.latest)) {
    if (!key.startsWith(TABLE_PREFIX)) continue;
    const rest = key.slice(TABLE_PREFIX.length);
    const at = rest.indexOf(CELL_SEPARATOR);
    if (at < 0) continue;
    const rowId = rest.slice(0, at);
    const col = rest.slice(at + CELL_SEPARATOR.length);
    let row = out.get(rowId);
    if (!row) out.set(rowId, (row = {}));
    row[col] = entry.value;
  }
  return out;
}

/**
 * The Host table one namespace per entry, keyed by inode: a row that lists several namespaces
 * (NS `a b c`, Type `mnt net pid`) is given to each of them with its own NS and Type and the
 * row's other cells; Hostname only to its uts namespace. Fails on NS and Type lists of different
 * lengths, or an inode in two rows.
 */
export function tableRows(report: ScopeReport, hostname: string): Map<string, Record<string, string>> {
  const out = new Map<string, Record<string, string>>();
  for (const [rowId, row] of rawTableRows(report, hostname)) {
    const inos = (row['ns'] ?? rowId).split(' ');
    const types = (row['type'] ?? '').split(' ');
    if (inos.length !== types.length) throw new Error(`row ${rowId}: ${inos.length} inodes, ${types.length} types`);
    if (inos.length > 1 && inos[0] !== rowId && !inos.includes(rowId)) throw new Error(`row ${rowId}: its id is none of its inodes`);
    inos.forEach((ino, i) => {
      if (out.has(ino)) throw new Error(`namespace ${ino} in two rows`);
      const cells: Record<string, string> = { ...row, ns: ino, type: types[i] ?? '' };
      if (inos.length > 1 && types[i] !== 'uts') delete cells['hostname'];
      out.set(ino, cells);
    });
  }
  return out;
}
