/**
 * Dedicated worker thread: reads the hostname (uname().nodename) inside other UTS namespaces with
 * setns(fd, CLONE_NEWUTS) + uname(), then returns to its own UTS namespace.
 *
 * setns affects only the calling thread, so the main thread and libuv's pool are never moved. All
 * native calls here are synchronous koffi calls on this thread (never `.async`, which would run on
 * libuv's pool). Must run as compiled JS (dist/native/uts-worker.js): tsx is not active in workers.
 */
import { parentPort } from 'node:worker_threads';
import { CLONE_NEWUTS, fail, fdStat, sysClose, sysGettid, sysOpen, sysSetns, sysUname, type NativeResult } from './libc.js';
import type { UtsItemResult, UtsRequest, UtsResponse, UtsTarget, WorkerSelfCheck } from './uts-protocol.js';

const port = parentPort;
if (port === null) throw new Error('uts-worker must run in a worker thread');

/** fd and inode of the UTS namespace this thread started in. */
const home: NativeResult<{ fd: number; ino: number }> = (() => {
  const o = sysOpen('/proc/thread-self/ns/uts');
  if (!o.ok) return o;
  const st = fdStat(o.value);
  if (!st.ok) {
    sysClose(o.value);
    return st;
  }
  return { ok: true as const, value: { fd: o.value, ino: st.value.ino } };
})();

function post(msg: UtsResponse): void {
  port?.postMessage(msg);
}

function fatal(reason: string): never {
  post({ kind: 'fatal', reason });
  // The thread may be left in a foreign UTS namespace: do not serve anything else.
  process.exit(1);
}

function itemFail(ino: number, r: { code: string; errno: number; reason: string }): UtsItemResult {
  return { ino, ok: false, code: r.code, errno: r.errno, reason: r.reason };
}

function readOne(t: UtsTarget): UtsItemResult {
  if (!home.ok) return itemFail(t.ino, { ...home, reason: `own UTS namespace not readable: ${home.reason}` });
  const o = sysOpen(t.path);
  if (!o.ok) return itemFail(t.ino, o);
  const fd = o.value;
  try {
    const st = fdStat(fd);
    if (!st.ok) return itemFail(t.ino, st);
    if (st.value.ino !== t.ino) {
      return itemFail(t.ino, fail('ESTALE', `${t.path} is namespace ${st.value.ino}, expected ${t.ino}`, 116));
    }
    if (st.value.ino === home.value.ino) {
      const u = sysUname();
      return u.ok ? { ino: t.ino, ok: true, hostname: u.value.nodename } : itemFail(t.ino, u);
    }
    const s = sysSetns(fd, CLONE_NEWUTS);
    if (!s.ok) return itemFail(t.ino, s); // EINVAL: not a UTS ns; EPERM: no CAP_SYS_ADMIN over its owner
    const u = sysUname();
    const back = sysSetns(home.value.fd, CLONE_NEWUTS);
    if (!back.ok) fatal(`cannot return to own UTS namespace: ${back.reason}`);
    return u.ok ? { ino: t.ino, ok: true, hostname: u.value.nodename } : itemFail(t.ino, u);
  } finally {
    sysClose(fd);
  }
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
