/**
 * What the main thread and link-table workers (parallel-links.ts, link-worker-thread.ts) share: chunks
 * of the pid list claimed from one atomic counter, a state per chunk, the table in shared memory.
 * With `holders` a chunk's thread and fd holds travel with its message. Workers never write into the shared table directly: a chunk is read into a private buffer and
 * copied only after a compare-and-swap proves the main thread has not taken it over (see STOLEN).
 */
import type { ReadIssue } from '../procfs/reader.js';
import type { NsType } from '../procfs/types.js';
import type { TaskHold } from './holders/holder.js';
import type { MessagePort } from 'node:worker_threads';

/** Pids per chunk: small enough that the last chunk is a short wait, large enough that claims are rare. */
export const CHUNK_PIDS = 32;

/** Int32 control words. */
export const CTL_NEXT = 0;
export const CTL_WORDS = 1;

/** Chunk states (Int32Array, one per chunk). */
export const FREE = 0; // not claimed, or claimed by a worker that has not marked it yet
export const RUNNING = 1; // a worker is reading it
export const COPYING = 2; // a worker is copying it into the table
export const DONE = 3; // in the table (worker)
export const STOLEN = 4; // the main thread reads it (its own claims, and chunks it took over)

export interface LinkWorkerData {
  root: string;
  types: NsType[];
  pids: SharedArrayBuffer; // Int32Array
  inos: SharedArrayBuffer; // Float64Array
  ctl: SharedArrayBuffer; // Int32Array(CTL_WORDS)
  states: SharedArrayBuffer; // Int32Array(chunks)
  /** Where ChunkIssues go (the main thread reads them synchronously with receiveMessageOnPort). */
  port: MessagePort;
  /** Also each process's thread and fd holds (list --holders). */
  holders: boolean;
}

/** Sent by a worker, before it marks the chunk DONE, when reading it found problems. */
export interface ChunkIssues {
  chunk: number;
  issues: ReadIssue[];
  /** With `holders`: what the chunk's threads and fds hold, and its unreadable fd tables. */
  holds?: TaskHold[];
  fdUnreadable?: number;
}

export const chunkCount = (pids: number): number => Math.ceil(pids / CHUNK_PIDS);
