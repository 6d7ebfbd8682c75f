/**
 * Worker thread: on each `refresh` message, scan, build and serialise the report (plain and gzip)
 * and post the bytes back (transferred, not copied). The main thread never touches /proc.
 * Hostnames of UTS namespaces are read by a nested UTS worker (native/uts-worker.ts) that lives as
 * long as this thread: one for every refresh, not one per refresh. Terminating this thread ends it.
 * Must run from compiled JS (dist/server/snapshot-worker.js): tsx is not active in workers.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { UtsHostnameReader } from '../native/uts.js';
import { MetricHistory } from '../scope/topologies.js';
import { serialiseReport, takeSnapshot, type SnapshotParams } from './snapshot.js';
import type { FromWorker, ToWorker } from './worker-protocol.js';

const params = workerData as SnapshotParams;
const port = parentPort;
if (!port) throw new Error('snapshot-worker must run as a worker thread');
/** Started on the first refresh, kept (unref'd while idle) across refreshes; restarted if it dies. */
const uts = new UtsHostnameReader();
/** Namespace counts for the Host node's sparkline, kept across refreshes (a replaced worker starts afresh). */
const history = new MetricHistory();

port.on('message', (msg: ToWorker) => void onMessage(msg));

async function onMessage(msg: ToWorker): Promise<void> {
  if (!port) return;
  if (msg.kind !== 'refresh') return;
  let reply: FromWorker;
  const transfer: ArrayBuffer[] = [];
  try {
    const snap = await takeSnapshot(params, { uts, history });
    const { json, gzip, serialiseMs } = serialiseReport(snap.report);
    // Own, exactly-sized ArrayBuffers so they can be transferred (Buffer.from may use the pool).
    const jsonBytes = new Uint8Array(json);
    const gzipBytes = new Uint8Array(gzip);
    transfer.push(jsonBytes.buffer, gzipBytes.buffer);
    reply = { kind: 'snapshot', seq: msg.seq, json: jsonBytes, gzip: gzipBytes, stats: snap.stats, serialiseMs };
  } catch (err) {
    const e = err instanceof Error ? err : new Error(String(err));
    const code = (e as NodeJS.ErrnoException).code;
    reply = { kind: 'failed', seq: msg.seq, message: e.message, ...(code ? { code } : {}) };
  }
  port.postMessage(reply, transfer);
}
