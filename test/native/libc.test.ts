import t from 'tap';
import { execFileSync } from 'node:child_process';
import { hostname, release } from 'node:os';
import { errnoName, errnoNumber } from '../../src/native/errno.js';
import { fdStat, sysClose, sysOpen, withFd } from '../../src/native/fd.js';
import { LIBC_CANDIDATES, nativeAvailable, nativeStatus, resetNativeForTests, setNativeWarningHook } from '../../src/native/loader.js';
import { nsOwnerUid, nsParent, nsType, sysIoctl, sysIoctlUid } from '../../src/native/nsfs.js';
import { NetnsIdQuery, netnsId, sysSocket } from '../../src/native/netnsid.js';
import { sysGettid, sysSetns, sysUname } from '../../src/native/uts-read.js';
import { UtsHostnameReader } from '../../src/native/uts.js';
import { ensureBuilt, repoRoot } from './fixtures/procs.js';

t.test('errno names', async (t) => {
  t.equal(errnoName(1), 'EPERM');
  t.equal(errnoName(2), 'ENOENT');
  t.equal(errnoName(13), 'EACCES');
  t.equal(errnoName(22), 'EINVAL');
  t.equal(errnoName(25), 'ENOTTY');
  t.equal(errnoName(38), 'ENOSYS');
  t.equal(errnoName(11), 'EAGAIN', 'not EWOULDBLOCK');
  t.equal(errnoName(95), 'ENOTSUP', 'not EOPNOTSUPP');
  t.equal(errnoName(99999), 'E99999');
  t.equal(errnoNumber('ENOTTY'), 25);
  t.equal(errnoNumber('ENOPE'), undefined);
});

t.test('libc loads and basic calls work', async (t) => {
  t.ok(nativeAvailable());
  t.match(nativeStatus(), { ok: true, lib: 'libc.so.6' });
  t.equal(LIBC_CANDIDATES[0], 'libc.so.6');
  t.equal(LIBC_CANDIDATES[LIBC_CANDIDATES.length - 1], null);
  const u = sysUname();
  t.match(u, { ok: true, value: { sysname: 'Linux', nodename: hostname(), release: release() } });
  t.match(sysOpen('/nonexistent'), { ok: false, code: 'ENOENT', errno: 2 });
  t.match(sysClose(-1), { ok: false, code: 'EBADF' });
  t.match(sysIoctl(-1, 0xb703), { ok: false, code: 'EBADF' });
  t.match(sysIoctlUid(-1, 0xb704), { ok: false, code: 'EBADF' });
  t.match(sysSetns(-1, 0), { ok: false, code: 'EBADF' });
  t.match(sysSocket(12345, 3, 0), { ok: false, code: 'EAFNOSUPPORT' });
  t.match(fdStat(-1), { ok: false, code: 'EBADF' });
  const tid = sysGettid();
  t.same(tid, { ok: true, value: process.pid }, 'main thread tid = pid');
  t.match(
    withFd('/proc/self/ns/net', (fd) => fdStat(fd)),
    { ok: true, value: { dev: 4 } },
  );
  t.match(sysOpen('/etc/hostname', 0o200000 /* O_DIRECTORY */), { ok: false, code: 'ENOTDIR' });
});

t.test('koffi unavailable: typed ENOSYS failures, one warning, never a throw', async (t) => {
  const warnings: string[] = [];
  const prev = setNativeWarningHook((m) => warnings.push(m));
  t.teardown(() => {
    setNativeWarningHook(prev);
    resetNativeForTests();
  });
  resetNativeForTests('simulated: koffi missing');
  t.notOk(nativeAvailable());
  t.match(nativeStatus(), { ok: false, code: 'ENOSYS' });
  t.match(sysOpen('/proc/self/ns/net'), { ok: false, code: 'ENOSYS', reason: 'simulated: koffi missing' });
  t.match(sysUname(), { ok: false, code: 'ENOSYS' });
  t.match(nsParent('/proc/self/ns/pid'), { ok: false, code: 'ENOSYS' });
  t.match(nsType('/proc/self/ns/pid'), { ok: false, code: 'ENOSYS' });
  t.match(nsOwnerUid('/proc/self/ns/user'), { ok: false, code: 'ENOSYS' });
  t.match(netnsId('/proc/self/ns/net'), { ok: false, code: 'ENOSYS' });
  const q = new NetnsIdQuery();
  t.match(q.idOfFd(0), { ok: false, code: 'ENOSYS' });
  q.close();
  const reader = new UtsHostnameReader();
  const r = await reader.results([{ ino: 1, path: '/proc/self/ns/uts' }]);
  t.match(r.get(1), { ok: false, code: 'ENOSYS' });
  t.equal(reader.threadId, null, 'no worker started');
  t.same(warnings, ['simulated: koffi missing'], 'exactly one warning');

  resetNativeForTests();
  t.ok(nativeAvailable(), 'loads again after reset');
});

t.test('SCOPE_NAMESPACES_NATIVE=off in a fresh process', async (t) => {
  ensureBuilt();
  const script = `
    process.on('warning', (w) => console.log('WARN', w.code));
    const m = await import(${JSON.stringify(`${repoRoot}dist/lib/native/nsfs.js`)});
    console.log(m.nsParent('/proc/self/ns/pid').code);
    console.log(m.nsType('/proc/self/ns/pid').code);
    await new Promise((r) => setTimeout(r, 10));`;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
    encoding: 'utf8',
    env: { ...process.env, SCOPE_NAMESPACES_NATIVE: 'off' },
  });
  t.same(out.trim().split('\n'), ['ENOSYS', 'ENOSYS', 'WARN SCOPE_NAMESPACES_NATIVE']);
});

t.test('an idle UTS worker does not keep the process alive', async (t) => {
  ensureBuilt();
  const script = `
    const m = await import(${JSON.stringify(`${repoRoot}dist/lib/native/uts.js`)});
    const r = await m.hostUtsHostname();
    console.log(r.ok ? r.value : r.code);`;
  const start = Date.now();
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 10000 });
  t.equal(out.trim(), hostname());
  t.ok(Date.now() - start < 5000);
});
