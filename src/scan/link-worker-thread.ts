/**
 * Worker thread of parallel-links.ts: claims chunks of the pid list and reads their ns links,
 * until none is left. Imports only the reader: its start-up is what it costs before it helps.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { procIo } from '../procfs/native-io.js';
import { ProcReader, type ReadIssue } from '../procfs/reader.js';
import { fillLinkRows, type HoldRead, type LinkTable } from './link-table.js';
import { CHUNK_PIDS, COPYING, CTL_NEXT, DONE, FREE, RUNNING, chunkCount, type ChunkIssues, type LinkWorkerData } from './link-protocol.js';

/** Claims and reads chunks until none is left. */
function run(data: LinkWorkerData): void {
  const pids = Array.from(new Int32Array(data.pids));
  const shared = new Float64Array(data.inos);
  const ctl = new Int32Array(data.ctl);
  const states = new Int32Array(data.states);
  const t = data.types.length;
  const chunks = chunkCount(pids.length);
  let issues: ReadIssue[] = [];
  const reader = new ProcReader(data.root, { onIssue: (i) => issues.push(i) });
  /** Private rows: written to the shared table only once the chunk is known to be still ours. */
  const table: LinkTable = { pids, types: data.types, inos: new Float64Array(pids.length * t) };

  for (;;) {
    const c = Atomics.add(ctl, CTL_NEXT, 1);
    if (c >= chunks) break;
    if (Atomics.compareExchange(states, c, FREE, RUNNING) !== FREE) continue; // taken over already
    Atomics.notify(ctl, CTL_NEXT); // for a main thread told to wait for a worker (tests)
    const from = c * CHUNK_PIDS;
    const to = Math.min(pids.length, from + CHUNK_PIDS);
    issues = [];
    const holds: HoldRead | undefined = data.holders ? { out: [], fdUnreadable: 0 } : undefined;
    try {
      fillLinkRows(reader, table, from, to, undefined, holds);
    } catch (err) {
      // Hand the chunk back (the main thread reads FREE chunks itself) and stop helping.
      Atomics.compareExchange(states, c, RUNNING, FREE);
      Atomics.notify(states, c);
      throw err;
    }
    if (Atomics.compareExchange(states, c, RUNNING, COPYING) !== RUNNING) continue; // the main thread took it over
    shared.set(table.inos.subarray(from * t, to * t), from * t);
    if (issues.length > 0 || (holds !== undefined && (holds.out.length > 0 || holds.fdUnreadable > 0))) {
      data.port.postMessage({ chunk: c, issues, ...(holds ? { holds: holds.out, fdUnreadable: holds.fdUnreadable } : {}) } satisfies ChunkIssues);
    }
    Atomics.store(states, c, DONE);
    Atomics.notify(states, c);
  }
}

// Started by the daemon-less `list` before it knew its pids (link-worker-pool.ts): the job comes as a message.
const boot = workerData as LinkWorkerData | { waitForJob: true };
if ('waitForJob' in boot) {
  parentPort?.once('message', (data: LinkWorkerData) => run(data));
  // koffi loads while `list` is still loading: the worker is ready to read when the job comes.
  procIo(true);
} else run(boot);
