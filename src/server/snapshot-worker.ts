/**
 * Worker thread: on each `refresh` message, scan, build and serialise the report (plain and gzip)
 * and post the bytes back (transferred, not copied). The main thread never touches /proc.
 * Hostnames of UTS namespaces are read on this thread itself (native/uts-read.ts): setns moves
 * only this thread, which returns to its own UTS namespace after each uname (or exits if it cannot).
 * Must run from compiled JS (dist/server/snapshot-worker.js): tsx is not active in workers.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { InThreadUtsReader } from '../native/uts-read.js';
import { MetricHistory, ProcessNodeCache } from '../scope/topologies.js';
import { serialiseReport, takeSnapshot, type SnapshotParams } from './snapshot.js';
import type { FromWorker, ToWorker } from './worker-protocol.js';

const params = workerData as SnapshotParams;
const port = parentPort;
if (!port) throw new Error('snapshot-worker must run as a worker thread');
/**
 * Hostnames are read on this thread itself (setns+uname+setns back, synchronously): it is a
 * dedicated thread that runs nothing else meanwhile, so no nested UTS worker is needed.
 */
const uts = new InThreadUtsReader();
/** Namespace counts for the Host node's sparkline, kept across refreshes (a replaced worker starts afresh). */
const history = new MetricHistory();
/** Process nodes (and their JSON) of the last refresh: only changed processes are rebuilt. */
const processNodes = new ProcessNodeCache();

port.on('message', (msg: ToWorker) => void onMessage(msg));

/**
 * Bytes that own their whole, exactly-sized ArrayBuffer, so they can be transferred: the buffer
 * itself when it already does (a multi-MB Buffer.from(string) gets its own), else a copy (small
 * Buffers may be slices of Node's shared pool, which must not be transferred).
 */
function transferable(b: Buffer): Uint8Array<ArrayBuffer> {
  const ab = b.buffer;
  if (ab instanceof ArrayBuffer && b.byteOffset === 0 && b.byteLength === ab.byteLength) return new Uint8Array(ab);
  return new Uint8Array(b);
}

async function onMessage(msg: ToWorker): Promise<void> {
  if (!port) return;
  if (msg.kind !== 'refresh') return;
  let reply: FromWorker;
  const transfer: ArrayBuffer[] = [];
  try {
    const snap = await takeSnapshot(params, { uts, history, processNodes });
    const { json, gzip, serialiseMs } = serialiseReport(snap.report);
    const jsonBytes = transferable(json);
    const gzipBytes = transferable(gzip);
    transfer.push(jsonBytes.buffer, gzipBytes.buffer);
    reply = { kind: 'snapshot', seq: msg.seq, json: jsonBytes, gzip: gzipBytes, stats: snap.stats, serialiseMs };
  } catch (err) {
    const e = err instanceof Error ? err : new Error(String(err));
    const code = (e as NodeJS.ErrnoException).code;
    reply = { kind: 'failed', seq: msg.seq, message: e.message, ...(code ? { code } : {}) };
  }
  port.postMessage(reply, transfer);
}
