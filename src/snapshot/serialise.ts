/**
 * The bytes the daemon serves, plain and gzip (the report is so repetitive that gzip shrinks it
 * ~100x: about 4 MB of JSON at 5,000 processes becomes about 35 KB), and the snapshot the server
 * answers with. One path for everyone: serialiseSteps, run at once (serialiseReport) or with a
 * turn of the event loop between its JSON and its gzip (serialiseBetweenTurns: the daemon).
 */
import { gzipSync } from 'node:zlib';
import { serialiseJson, type ScopeReport } from '../scope/report.js';
import { nextTurn } from './turns.js';
import type { SnapshotStats } from './types.js';

/** gzip level of the served report: on this very repetitive JSON, level 3 (zlib's fast deflate)
 * is ~3.5x cheaper than level 6 for ~4 % more bytes (4 MB -> 35 kB vs 34 kB at 5,000 processes). */
export const REPORT_GZIP_LEVEL = 3;

export interface Serialised {
  json: Buffer;
  gzip: Buffer;
  /** JSON.stringify + gzip, in ms: what every refresh pays before the answer can be served. */
  serialiseMs: number;
  /** The JSON.stringify part of it. */
  jsonMs: number;
}

/** What the server answers with: the bytes of one report and when a refresh last confirmed them. */
export interface ServedSnapshot {
  seq: number;
  body: Buffer;
  gzip: Buffer;
  stats: SnapshotStats;
  /** When a tick last confirmed this snapshot is current (ms since the epoch). */
  checkedAt: number;
}

/** JSON, then (after one yield) gzip. */
export function* serialiseSteps(report: ScopeReport): Generator<void, Serialised, void> {
  const t0 = performance.now();
  // Exactly JSON.stringify(report); cached Process nodes are pasted in as their stored JSON.
  const json = Buffer.from(serialiseJson(report), 'utf8');
  const jsonMs = performance.now() - t0;
  yield;
  const t1 = performance.now();
  // On this thread: a few ms for a report of a few hundred kB, and libuv's pool would give
  // each of its threads a malloc arena of its own (tens of MB of RSS for one gzip a second).
  const gzip = gzipSync(json, { level: REPORT_GZIP_LEVEL });
  return { json, gzip, jsonMs, serialiseMs: jsonMs + (performance.now() - t1) };
}

export function serialiseReport(report: ScopeReport): Serialised {
  const steps = serialiseSteps(report);
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

/** serialiseSteps with a turn of the event loop between two steps. */
export async function serialiseBetweenTurns(report: ScopeReport): Promise<Serialised> {
  const steps = serialiseSteps(report);
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
    await nextTurn();
  }
}

/** The served form of a serialised report, checked now. */
export function servedSnapshot(seq: number, s: Serialised, stats: SnapshotStats): ServedSnapshot {
  return { seq, body: s.json, gzip: s.gzip, stats, checkedAt: Date.now() };
}
