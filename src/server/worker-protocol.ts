/** Messages between the server and its snapshot worker. */
import type { SnapshotStats } from './snapshot.js';

export type ToWorker = { kind: 'refresh'; seq: number };

export type FromWorker =
  { kind: 'snapshot'; seq: number; json: Uint8Array; gzip: Uint8Array; stats: SnapshotStats; serialiseMs: number } | { kind: 'failed'; seq: number; message: string; code?: string };
