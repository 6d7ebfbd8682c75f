import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { sysUname } from '../../src/native/uts-read.js';
import { UtsHostnameReader, hostUtsHostname, resolveUtsWorkerUrl, terminateUtsWorker, utsHostnames } from '../../src/native/uts.js';
import { comm, ensureBuilt, hold, nsIno, waitFor, type TapLike } from './fixtures/procs.js';

ensureBuilt();

const hostName = hostname();
const hostUtsIno = nsIno('self', 'uts');

function mainThreadState(): { nodename: string | null; ino: number } {
  const u = sysUname();
  return { nodename: u.ok ? u.value.nodename : null, ino: nsIno('thread-self', 'uts') };
}

async function utsHolder(t: TapLike, name: string): Promise<number> {
  const h = hold(t, 'unshare', ['--uts', 'sh', '-c', `hostname ${name} && echo ready && exec sleep 1000`]);
  await waitFor('hostname set', () => h.stdout().includes('ready') && comm(h.pid) === 'sleep');
  return h.pid;
}

t.test("worker is the CLI's bundle in dist/cli/ when running from src/", async (t) => {
  const url = resolveUtsWorkerUrl();
  t.match(url.pathname, /\/dist\/cli\/uts-worker\.js$/);
  t.ok(statSync(url).isFile());
});

t.test('hostname inside a UTS namespace, read through the worker', async (t) => {
  const name = `scopens-uts-${process.pid}`;
  const pid = await utsHolder(t, name);
  const path = `/proc/${pid}/ns/uts`;
  const ino = nsIno(pid, 'uts');
  t.not(ino, hostUtsIno);
  t.equal(execFileSync('nsenter', ['-t', String(pid), '-u', 'hostname'], { encoding: 'utf8' }).trim(), name, 'black box: nsenter agrees');

  const before = mainThreadState();
  const reader = new UtsHostnameReader();
  t.teardown(() => reader.terminate());
  const res = await reader.hostnames([
    { ino, path },
    { ino: hostUtsIno, path: '/proc/self/ns/uts' },
    { ino, path }, // duplicates collapse
  ]);
  t.same(
    [...res.entries()],
    [
      [ino, name],
      [hostUtsIno, hostName],
    ],
  );

  // The main thread never moved, and the worker went back to its own namespace.
  t.same(mainThreadState(), before);
  t.equal(before.nodename, hostName);
  t.equal(before.ino, hostUtsIno);
  const check = await reader.selfCheck();
  t.match(check, { ok: true, value: { nodename: hostName, utsIno: hostUtsIno, homeIno: hostUtsIno } });
  if (check.ok) {
    t.not(check.value.tid, process.pid, 'worker is its own thread');
    t.equal(statSync(`/proc/${process.pid}/task/${check.value.tid}/ns/uts`).ino, hostUtsIno, 'seen from outside too');
  }

  // Errors: wrong inode (stale), a non-UTS nsfs file, a missing path.
  const errs = await reader.results([
    { ino: ino + 1000000, path },
    { ino: nsIno('self', 'net'), path: '/proc/self/ns/net' },
    { ino: 1, path: '/nonexistent/uts' },
  ]);
  t.match(errs.get(ino + 1000000), { ok: false, code: 'ESTALE' });
  t.match(errs.get(nsIno('self', 'net')), { ok: false, code: 'EINVAL' }, 'setns(CLONE_NEWUTS) on a net ns');
  t.match(errs.get(1), { ok: false, code: 'ENOENT' });
  t.same(mainThreadState(), before);

  // Cached by inode: still answered after the path stops working; clearCache forgets.
  const cached = await reader.hostnames([{ ino, path: '/nonexistent/uts' }]);
  t.equal(cached.get(ino), name);
  reader.clearCache();
  const uncached = await reader.hostnames([{ ino, path: '/nonexistent/uts' }]);
  t.equal(uncached.get(ino), null);
});

t.test('many namespaces, many rounds: the worker stays clean', async (t) => {
  const pids: number[] = [];
  for (let i = 0; i < 4; i++) pids.push(await utsHolder(t, `scopens-${process.pid}-${i}`));
  const reader = new UtsHostnameReader();
  t.teardown(() => reader.terminate());
  for (let round = 0; round < 5; round++) {
    reader.clearCache();
    const res = await reader.hostnames(pids.map((p) => ({ ino: nsIno(p, 'uts'), path: `/proc/${p}/ns/uts` })));
    t.same(
      pids.map((p) => res.get(nsIno(p, 'uts'))),
      pids.map((_, i) => `scopens-${process.pid}-${i}`),
      `round ${round}`,
    );
    t.equal(hostname(), hostName);
  }
  t.match(await reader.selfCheck(), { ok: true, value: { utsIno: hostUtsIno, nodename: hostName } });
});

t.test('terminate: pending requests resolve, next request restarts the worker', async (t) => {
  const reader = new UtsHostnameReader();
  const p = reader.results([{ ino: hostUtsIno, path: '/proc/self/ns/uts' }]);
  await reader.terminate();
  const r = await p;
  t.match(r.get(hostUtsIno), { ok: false, code: 'EIO' });
  t.equal(reader.threadId, null);
  const again = await reader.hostnames([{ ino: hostUtsIno, path: '/proc/self/ns/uts' }]);
  t.equal(again.get(hostUtsIno), hostName);
  t.not(reader.threadId, null);
  await reader.terminate();
  await reader.terminate();
  t.equal(reader.threadId, null);
});

t.test('missing worker file -> ENOENT failures, no throw', async (t) => {
  const reader = new UtsHostnameReader({ workerUrl: new URL('file:///nonexistent/uts-worker.js') });
  const r = await reader.results([{ ino: hostUtsIno, path: '/proc/self/ns/uts' }]);
  t.match(r.get(hostUtsIno), { ok: false, code: 'ENOENT' });
  t.match(await reader.selfCheck(), { ok: false, code: 'ENOENT' });
});

t.test('hostUtsHostname: pid 1, else pid 2 (kthreadd)', async (t) => {
  t.teardown(terminateUtsWorker);
  const real = await hostUtsHostname();
  t.same(real, { ok: true, value: hostName }, 'on this VM pid 1 is EACCES, so this went through pid 2');
  t.same(await utsHostnames([{ ino: hostUtsIno, path: '/proc/self/ns/uts' }]), new Map([[hostUtsIno, hostName]]));

  const name = `scopens-host-${process.pid}`;
  const pid = await utsHolder(t, name);
  const root = mkdtempSync(join(tmpdir(), 'fakeproc-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  // pid "1" missing, pid "2" points at the UTS ns holder: fallback taken.
  mkdirSync(join(root, '2/ns'), { recursive: true });
  symlinkSync(`/proc/${pid}/ns/uts`, join(root, '2/ns/uts'));
  t.same(await hostUtsHostname(root), { ok: true, value: name });
  // both present: pid 1 wins.
  mkdirSync(join(root, '1/ns'), { recursive: true });
  symlinkSync('/proc/self/ns/uts', join(root, '1/ns/uts'));
  t.same(await hostUtsHostname(root), { ok: true, value: hostName });
  t.match(await hostUtsHostname(join(root, 'nothing')), { ok: false, code: 'ENOENT' });
});

t.test('InThreadUtsReader: setns+uname on the calling worker thread, which returns home; never the main thread', async (t) => {
  const { InThreadUtsReader } = await import('../../src/native/uts-read.js');
  t.throws(() => new InThreadUtsReader(), /never the main thread/);
  const name = `scopens-inthread-${process.pid}`;
  const pid = await utsHolder(t, name);
  const ino = nsIno(pid, 'uts');
  const before = mainThreadState();
  const { Worker } = await import('node:worker_threads');
  const { pathToFileURL } = await import('node:url');
  const modUrl = pathToFileURL(join(import.meta.dirname, '../../dist/lib/native/uts-read.js')).href;
  const libcUrl = pathToFileURL(join(import.meta.dirname, '../../dist/lib/native/uts-read.js')).href;
  const code = `
    const { parentPort, workerData } = require('node:worker_threads');
    const fs = require('node:fs');
    (async () => {
      const { InThreadUtsReader } = await import(${JSON.stringify(modUrl)});
      const { sysUname } = await import(${JSON.stringify(libcUrl)});
      const r = new InThreadUtsReader();
      const got = await r.hostnames(workerData.targets);
      const again = await r.hostnames(workerData.targets);
      const u = sysUname();
      parentPort.postMessage({ got: [...got], again: [...again], threadId: r.threadId, nodename: u.ok ? u.value.nodename : null, ino: fs.statSync('/proc/thread-self/ns/uts').ino });
      await r.terminate();
    })();`;
  const targets = [
    { ino, path: `/proc/${pid}/ns/uts` },
    { ino: hostUtsIno, path: '/proc/self/ns/uts' },
    { ino: ino + 1, path: `/proc/${pid}/ns/uts` }, // wrong inode: ESTALE -> null
  ];
  const w = new Worker(code, { eval: true, workerData: { targets }, execArgv: [] });
  t.teardown(() => w.terminate());
  const msg = await new Promise<{ got: [number, string | null][]; again: [number, string | null][]; threadId: number; nodename: string | null; ino: number }>((resolve, reject) => {
    w.once('message', resolve);
    w.once('error', reject);
  });
  t.same(msg.got, [
    [ino, name],
    [hostUtsIno, hostName],
    [ino + 1, null],
  ]);
  t.same(msg.again, msg.got, 'cached successes, failures read again with the same answer');
  t.equal(msg.threadId, w.threadId, 'read on the worker thread itself');
  t.equal(msg.nodename, hostName, 'the worker thread is back in its own UTS namespace');
  t.equal(msg.ino, hostUtsIno);
  t.same(mainThreadState(), before, 'the main thread never moved');
});
