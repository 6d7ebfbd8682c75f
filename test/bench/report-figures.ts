/**
 * What a Scope report costs the probe, from the report alone (pure). The probe decodes and merges
 * the plugin's whole report on every poll; a real probe was measured at ~6 µs of probe CPU per `latest` entry
 * (~80-100 ms per MB of JSON). Both estimates below scale those measured figures; they are not
 * measurements of a probe.
 */
import { cellKey, TABLE_PREFIX } from '../../src/scope/host-table.js';
import { CELL_SEPARATOR } from '../../src/scope/report.js';

export const PROBE_US_PER_LATEST_ENTRY = 6;
export const PROBE_MS_PER_MB = 90;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Every `latest` entry of every node of every topology (any top-level object with `nodes`). */
export function countLatestEntries(report: unknown): number {
  if (!isObject(report)) return 0;
  let n = 0;
  for (const topology of Object.values(report)) {
    if (!isObject(topology) || !isObject(topology['nodes'])) continue;
    for (const node of Object.values(topology['nodes'])) {
      if (isObject(node) && isObject(node['latest'])) n += Object.keys(node['latest']).length;
    }
  }
  return n;
}

/** Estimated probe CPU, % of one core, for `entries` latest entries decoded `pollsPerSec` times a second. */
export function probeCostFromEntries(entries: number, pollsPerSec = 1): number {
  return (entries * PROBE_US_PER_LATEST_ENTRY * pollsPerSec) / 1e4;
}

/** The same from the JSON size (MB = 10^6 bytes). */
export function probeCostFromBytes(bytes: number, pollsPerSec = 1): number {
  return ((bytes / 1e6) * PROBE_MS_PER_MB * pollsPerSec) / 10;
}

/**
 * The Pid cell of the Host table's row for namespace `ino` in a report's JSON text: undefined when
 * there is no such row, null when the row has no (or an empty) Pid cell. The row id is the inode
 * and only the Host table's cells carry TABLE_PREFIX, so a key `"<prefix><ino>___` is exactly such
 * a row; the cell's value is the small object after its key. A text search keeps 10 polls a second
 * of a multi-MB report cheap. The pid tells our namespace from a later one given the same inode
 * (the kernel reuses freed namespace inode numbers at once).
 */
export function hostTableRowPid(json: string, ino: number): number | null | undefined {
  if (!json.includes(`"${TABLE_PREFIX}${ino}${CELL_SEPARATOR}`)) return undefined;
  const key = `"${cellKey(String(ino), 'pid')}":`;
  const at = json.indexOf(key);
  if (at < 0) return null;
  const open = json.indexOf('{', at + key.length);
  const close = json.indexOf('}', open);
  if (open < 0 || close < 0) return null;
  try {
    const cell = JSON.parse(json.slice(open, close + 1)) as { value?: unknown };
    const pid = typeof cell.value === 'string' && /^\d+$/.test(cell.value) ? Number(cell.value) : null;
    return pid;
  } catch {
    return null;
  }
}
