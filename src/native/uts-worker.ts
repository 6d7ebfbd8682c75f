/**
 * Dedicated worker thread: reads the hostname (uname().nodename) inside other UTS namespaces with
 * setns(fd, CLONE_NEWUTS) + uname(), then returns to its own UTS namespace.
 *
 * setns affects only the calling thread, so the main thread and libuv's pool are never moved. All
 * native calls here are synchronous koffi calls on this thread (never `.async`, which would run on
 * libuv's pool). Must run as compiled JS (dist/cli/uts-worker.js; worker-url.ts): a TypeScript loader is not active in workers.
 */
import { parentPort } from 'node:worker_threads';
import { fdStat, sysClose, sysOpen } from './fd.js';
import type { NativeResult } from './result.js';
import { openUtsHome, readUtsHostname, sysGettid, sysUname, type UtsHome } from './uts-read.js';
import type { UtsItemResult, UtsRequest, UtsResponse, UtsTarget, WorkerSelfCheck } from './uts-protocol.js';

const port = parentPort;
if (port === null) throw new Error('uts-worker must run in a worker thread');

/** fd and inode of the UTS namespace this thread started in. */
const home: UtsHome = openUtsHome();

function post(msg: UtsResponse): void {
  port?.postMessage(msg);
}

function fatal(reason: string): never {
  post({ kind: 'fatal', reason });
  // The thread may be left in a foreign UTS namespace: do not serve anything else.
  process.exit(1);
}

function readOne(t: UtsTarget): UtsItemResult {
  return readUtsHostname(home, t, fatal);
}

function selfCheck(): NativeResult<WorkerSelfCheck> {
  if (!home.ok) return home;
  const tid = sysGettid();
  if (!tid.ok) return tid;
  const u = sysUname();
  if (!u.ok) return u;
  const o = sysOpen('/proc/thread-self/ns/uts');
  if (!o.ok) return o;
  try {
    const st = fdStat(o.value);
    if (!st.ok) return st;
    return { ok: true, value: { tid: tid.value, nodename: u.value.nodename, utsIno: st.value.ino, homeIno: home.value.ino } };
  } finally {
    sysClose(o.value);
  }
}

port.on('message', (msg: UtsRequest) => {
  if (msg.kind === 'read') {
    post({ kind: 'read', id: msg.id, results: msg.targets.map(readOne) });
  } else {
    const c = selfCheck();
    post(c.ok ? { kind: 'selfcheck', id: msg.id, ok: true, check: c.value } : { kind: 'selfcheck', id: msg.id, ok: false, code: c.code, reason: c.reason });
  }
});
