/**
 * The link table (link-table.ts) read by the main thread and worker threads together. Reading 8 ns
 * links of every process is nearly all kernel time (~30 µs of CPU per process here), so it splits
 * across cores; what a worker costs is its start-up (an isolate: ~30 ms of CPU on an idle host,
 * far more on a busy one). Hence work stealing rather than a fixed split: the main thread starts
 * at once and claims chunks of 32 pids from a shared counter, a worker claims chunks from the
 * moment it is up, and a worker that is slow, fails to start or dies leaves its chunks to the main
 * thread. Results land in a shared table indexed by pid position, so the scan still aggregates in
 * ascending pid order (lowest pid = representative), whoever read which pid.
 */
import { createRequire } from 'node:module';
import type * as WorkerThreads from 'node:worker_threads';
import type { ProcReader, ReadIssue } from '../procfs/reader.js';
import type { NsType } from '../procfs/types.js';
import { fillLinkRows, readLinkTable, type HoldRead, type LinkTable } from './link-table.js';
import { linkWorkerCount, PARALLEL_MIN_PIDS, resolveLinkWorkerUrl, takePrestartedWorkers } from './link-worker-pool.js';
import { CHUNK_PIDS, COPYING, CTL_NEXT, CTL_WORDS, DONE, FREE, RUNNING, STOLEN, chunkCount, type ChunkIssues, type LinkWorkerData } from './link-protocol.js';

/** After the main thread ran out of chunks, how long it waits for a worker's running chunk before reading it itself. */
const STEAL_AFTER_MS = 2000;

export { busyCores, PARALLEL_MIN_PIDS, resolveLinkWorkerUrl } from './link-worker-pool.js';

export interface ParallelLinkOptions {
  /** Worker threads besides the main thread. Default: SCOPE_NAMESPACES_LINK_WORKERS, else one per
   * further idle core (busyCores; at most 3) and per PARALLEL_MIN_PIDS pids; 0 reads
   * everything on this thread. */
  workers?: number;
  minPids?: number;
  workerUrl?: URL;
  stealAfterMs?: number;
  /** Tests: the main thread starts reading only once a worker has claimed a chunk (or after 30 s). */
  waitForWorker?: boolean;
  /** Tests: workers on a fixture tree too (its notes may then come out of pid order). */
  anyRoot?: boolean;
  /** Also read each process's thread and fd holds, on the same threads (list --holders). */
  holders?: boolean;
}

export interface ParallelLinkTable extends LinkTable {
  /** Chunks read by workers (0: the main thread read everything). */
  workerChunks: number;
  chunks: number;
  /** With `holders`, when read here: every thread and fd hold, in pid order. */
  holds?: HoldRead;
}

export function readLinkTableParallel(reader: ProcReader, pids: readonly number[], types: readonly NsType[], opts: ParallelLinkOptions = {}): ParallelLinkTable {
  const n = pids.length;
  const chunks = chunkCount(n);
  const minPids = opts.minPids ?? PARALLEL_MIN_PIDS;
  // Workers `list` started before it loaded (link-worker-pool.ts): used first, the unused ones ended.
  const early = opts.workerUrl === undefined ? takePrestartedWorkers() : [];
  // Prestarted workers were counted with the load of the moment before they ran: counting again
  // now would count them as load.
  const workers = opts.workers ?? (early.length > 0 ? Math.min(early.length, Math.floor(n / minPids)) : linkWorkerCount(n, minPids, reader.root));
  const endEarly = (): void => {
    for (const w of early.splice(0)) w.terminate().catch(() => {});
  };
  // Workers read with plain fs on a real procfs only (fixture trees keep readNsLinks' notes).
  if ((!reader.procfs && !opts.anyRoot) || workers <= 0 || n < minPids || n === 0) {
    endEarly();
    return { ...readLinkTable(reader, pids, types), workerChunks: 0, chunks };
  }

  // Loaded only here: `list` on a small host never pays for it.
  const wt = createRequire(import.meta.url)('node:worker_threads') as typeof WorkerThreads;
  const t = types.length;
  const pidsBuf = new SharedArrayBuffer(n * 4);
  new Int32Array(pidsBuf).set(pids);
  const inosBuf = new SharedArrayBuffer(n * t * 8);
  const ctlBuf = new SharedArrayBuffer(CTL_WORDS * 4);
  const statesBuf = new SharedArrayBuffer(chunks * 4);
  const ctl = new Int32Array(ctlBuf);
  const states = new Int32Array(statesBuf);
  const table: LinkTable = { pids, types, inos: new Float64Array(inosBuf) };

  const started: Array<{ worker: WorkerThreads.Worker; port: WorkerThreads.MessagePort }> = [];
  const url = opts.workerUrl ?? resolveLinkWorkerUrl();
  for (let w = 0; w < workers; w++) {
    try {
      const { port1, port2 } = new wt.MessageChannel();
      const data: LinkWorkerData = { root: reader.root, types: [...types], pids: pidsBuf, inos: inosBuf, ctl: ctlBuf, states: statesBuf, port: port2, holders: opts.holders === true };
      const ready = early.shift();
      let worker: WorkerThreads.Worker;
      if (ready !== undefined) {
        ready.postMessage(data, [port2]);
        worker = ready;
      } else {
        // execArgv []: a test runner's loader flags are for TypeScript, not for this compiled worker.
        worker = new wt.Worker(url, { workerData: data, transferList: [port2], execArgv: [], name: 'ns-links' });
        // A worker that cannot start, or fails, claims nothing more: its chunks are read here.
        worker.on('error', () => {});
        worker.unref();
      }
      started.push({ worker, port: port1 });
    } catch {
      break;
    }
  }

  endEarly();

  const issues: Array<ReadIssue[] | undefined> = new Array<ReadIssue[] | undefined>(chunks);
  const chunkHolds: Array<HoldRead | undefined> = new Array<HoldRead | undefined>(chunks);
  const readHere = (c: number): void => {
    const found: ReadIssue[] = [];
    const holds: HoldRead | undefined = opts.holders === true ? { out: [], fdUnreadable: 0 } : undefined;
    fillLinkRows(reader, table, c * CHUNK_PIDS, Math.min(n, (c + 1) * CHUNK_PIDS), (i) => found.push(i), holds);
    issues[c] = found;
    chunkHolds[c] = holds;
  };
  if (opts.waitForWorker && started.length > 0) Atomics.wait(ctl, CTL_NEXT, 0, 30_000);
  for (;;) {
    const c = Atomics.add(ctl, CTL_NEXT, 1);
    if (c >= chunks) break;
    if (Atomics.compareExchange(states, c, FREE, STOLEN) === FREE) readHere(c);
  }
  // Chunks still with workers: wait for them, take over what is unclaimed or too slow.
  const stealAfter = opts.stealAfterMs ?? STEAL_AFTER_MS;
  const deadline = Date.now() + stealAfter;
  for (let c = 0; c < chunks; c++) {
    for (;;) {
      const s = Atomics.load(states, c);
      if (s === DONE || s === STOLEN) break;
      const late = Date.now() >= deadline;
      // COPYING is a memcpy; only a worker killed in the middle of one leaves it there.
      const takeOver = s === FREE || (s === RUNNING && late) || (s === COPYING && Date.now() >= deadline + stealAfter);
      if (takeOver) {
        if (Atomics.compareExchange(states, c, s, STOLEN) === s) {
          readHere(c);
          break;
        }
        continue;
      }
      Atomics.wait(states, c, s, late ? 5 : Math.max(1, deadline - Date.now()));
    }
  }

  let workerChunks = 0;
  for (let c = 0; c < chunks; c++) if (Atomics.load(states, c) === DONE) workerChunks++;
  for (const { worker, port } of started) {
    for (let m = wt.receiveMessageOnPort(port); m; m = wt.receiveMessageOnPort(port)) {
      const { chunk, issues: found, holds, fdUnreadable } = m.message as ChunkIssues;
      if (Atomics.load(states, chunk) !== DONE) continue;
      issues[chunk] = found;
      if (holds !== undefined) chunkHolds[chunk] = { out: holds, fdUnreadable: fdUnreadable ?? 0 };
    }
    port.close();
    // Every chunk is claimed: a worker still starting finds nothing to do; do not wait for it.
    worker.terminate().catch(() => {});
  }
  // Issues in pid order, as a single thread would have found them.
  for (const found of issues) for (const i of found ?? []) reader.emitIssue(i);
  if (opts.holders !== true) return { ...table, workerChunks, chunks };
  // A worker's chunk without a message held nothing.
  const holds: HoldRead = { out: [], fdUnreadable: 0 };
  for (const h of chunkHolds) {
    if (h === undefined) continue;
    for (const x of h.out) holds.out.push(x);
    holds.fdUnreadable += h.fdUnreadable;
  }
  return { ...table, workerChunks, chunks, holds };
}
