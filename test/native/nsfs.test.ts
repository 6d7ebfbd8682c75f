import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fdStat, sysClose } from '../../src/native/fd.js';
import { inoOrZero, nsId, nsInfo, nsOwner, nsOwnerFd, nsOwnerUid, nsParent, nsParentFd, nsType, nsTypeFd, nsTypeFromCloneFlag, openNs, type NsTypeName } from '../../src/native/nsfs.js';
import { comm, ensureBuilt, hold, lsns, nsIno, repoRoot, waitFor, type LsnsRow } from './fixtures/procs.js';

const TYPES: NsTypeName[] = ['mnt', 'net', 'pid', 'uts', 'ipc', 'user', 'cgroup', 'time'];

function openFds(): number {
  return readdirSync('/proc/self/fd').length;
}

/** PNS and ONS as lsns would print them, computed with our ioctls. */
function ours(row: LsnsRow): { pns: number; ons: number } | null {
  if (row.path === undefined) return null;
  const id = nsId(row.path);
  if (!id.ok || id.value.ino !== row.ns) return null; // process gone / pid reused since lsns ran
  const hierarchical = row.type === 'pid' || row.type === 'user';
  return { pns: hierarchical ? inoOrZero(nsParent(row.path)) : 0, ons: inoOrZero(nsOwner(row.path)) };
}

t.test('initial namespaces: EPERM at the top, lsns prints 0', async (t) => {
  const parentUser = nsParent('/proc/self/ns/user');
  t.match(parentUser, { ok: false, code: 'EPERM', errno: 1 });
  t.match(nsOwner('/proc/self/ns/user'), { ok: false, code: 'EPERM' }, 'USERNS of the initial user ns');
  t.match(nsParent('/proc/self/ns/pid'), { ok: false, code: 'EPERM' });
  const owner = nsOwner('/proc/self/ns/net');
  t.same(owner, { ok: true, value: { dev: owner.ok ? owner.value.dev : -1, ino: nsIno('self', 'user') } });
  const rows = lsns(['-p', String(process.pid), '-o', 'NS,TYPE,PATH,PNS,ONS']);
  t.equal(rows.length, 8);
  for (const row of rows) {
    const o = ours(row);
    if (o === null) continue;
    t.same(o, { pns: row.pns, ons: row.ons }, `${row.type} ${row.ns}`);
  }
});

t.test('EINVAL: PARENT on non-hierarchical types, OWNER_UID on non-user', async (t) => {
  for (const type of TYPES) {
    const p = `/proc/self/ns/${type}`;
    t.equal(nsType(p).ok && (nsType(p) as { value: string }).value, type, `NS_GET_NSTYPE ${type}`);
    if (type === 'pid' || type === 'user') continue;
    t.match(nsParent(p), { ok: false, code: 'EINVAL', errno: 22 }, `PARENT on ${type}`);
    t.match(nsOwnerUid(p), { ok: false, code: 'EINVAL' }, `OWNER_UID on ${type}`);
  }
  t.same(nsOwnerUid('/proc/self/ns/user'), { ok: true, value: 0 });
  const info = nsInfo('/proc/self/ns/uts');
  t.match(info, { ok: true, value: { type: { ok: true, value: 'uts' }, parent: { ok: false, code: 'EINVAL' }, owner: { ok: true } } });
  t.equal(nsTypeFromCloneFlag(0x40000000), 'net');
  t.equal(nsTypeFromCloneFlag(0x80), 'time');
  t.equal(nsTypeFromCloneFlag(1), null);
});

t.test('ENOTTY on a regular file and a directory, ENOENT on a missing path', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'nsfs-test-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'regular');
  writeFileSync(file, 'x');
  for (const p of [file, dir, '/dev/null']) {
    t.match(nsParent(p), { ok: false, code: 'ENOTTY', errno: 25 }, `PARENT ${p}`);
    t.match(nsOwner(p), { ok: false, code: 'ENOTTY' }, `USERNS ${p}`);
    t.match(nsType(p), { ok: false, code: 'ENOTTY' }, `NSTYPE ${p}`);
    t.match(nsOwnerUid(p), { ok: false, code: 'ENOTTY' }, `OWNER_UID ${p}`);
  }
  t.match(nsParent(join(dir, 'missing')), { ok: false, code: 'ENOENT', errno: 2 });
});

t.test('fds are always closed; fd API reuses one open fd', async (t) => {
  const before = openFds();
  for (let i = 0; i < 200; i++) {
    nsParent('/proc/self/ns/user');
    nsParent('/proc/self/ns/net');
    nsOwner('/proc/self/ns/pid');
    nsOwnerUid('/proc/self/ns/user');
    nsType('/proc/self/ns/uts');
    nsInfo('/proc/self/ns/pid');
    nsParent('/etc/hostname');
  }
  t.equal(openFds(), before, 'no fd leak from path-based calls (success and error paths)');
  const fd = openNs('/proc/self/ns/net');
  t.ok(fd.ok);
  if (!fd.ok) return;
  t.equal(nsTypeFd(fd.value).ok, true);
  t.match(nsParentFd(fd.value), { ok: false, code: 'EINVAL' });
  t.match(nsOwnerFd(fd.value), { ok: true, value: { ino: nsIno('self', 'user') } });
  t.equal(fdStat(fd.value).ok, true, 'the caller-owned fd stays open');
  t.same(sysClose(fd.value), { ok: true, value: undefined });
  t.match(fdStat(fd.value), { ok: false, code: 'EBADF' });
  t.match(sysClose(fd.value), { ok: false, code: 'EBADF' });
});

t.test('nested user+pid namespaces (unshare -Ur --fork --pid, twice): PNS/ONS equal lsns', async (t) => {
  const u = ['-Ur', '--fork', '--pid', '--kill-child'];
  const h = hold(t, 'unshare', [...u, 'unshare', ...u, 'sleep', '1000']);
  // outer unshare -> inner unshare -> sleep
  const chain = await waitFor('nested sleep', () => {
    const c = h.chain();
    return c.length === 3 && comm(c[2] ?? 0) === 'sleep' ? c : null;
  });
  const [outer, inner, leaf] = chain as [number, number, number];
  const user1 = nsIno(outer, 'user');
  const user2 = nsIno(leaf, 'user');
  const pid1 = nsIno(inner, 'pid');
  const initUser = nsIno('self', 'user');
  const initPid = nsIno('self', 'pid');
  t.not(user1, initUser);
  t.not(user2, user1);

  t.match(nsParent(`/proc/${leaf}/ns/user`), { ok: true, value: { ino: user1 } });
  t.match(nsParent(`/proc/${outer}/ns/user`), { ok: true, value: { ino: initUser } });
  t.match(nsOwner(`/proc/${leaf}/ns/user`), { ok: true, value: { ino: user1 } }, 'USERNS of a user ns = its parent');
  t.match(nsParent(`/proc/${leaf}/ns/pid`), { ok: true, value: { ino: pid1 } });
  t.match(nsParent(`/proc/${inner}/ns/pid`), { ok: true, value: { ino: initPid } });
  t.match(nsOwner(`/proc/${leaf}/ns/pid`), { ok: true, value: { ino: user2 } });
  t.match(nsOwner(`/proc/${inner}/ns/pid`), { ok: true, value: { ino: user1 } });
  t.same(nsOwnerUid(`/proc/${leaf}/ns/user`), { ok: true, value: 0 }, 'created by root');

  let compared = 0;
  for (const pid of [outer, inner, leaf]) {
    for (const row of lsns(['-p', String(pid), '-o', 'NS,TYPE,PATH,PNS,ONS'])) {
      const o = ours(row);
      if (o === null) continue;
      t.same(o, { pns: row.pns, ons: row.ons }, `pid ${pid}: ${row.type} ${row.ns}`);
      compared++;
    }
  }
  t.ok(compared >= 24, `compared ${compared} rows`);
});

t.test('every namespace lsns lists: PNS/ONS equal (black box)', async (t) => {
  const rows = lsns(['-o', 'NS,TYPE,PATH,PNS,ONS']);
  let compared = 0;
  for (const row of rows) {
    const o = ours(row);
    if (o === null) continue; // gone since lsns ran
    t.same(o, { pns: row.pns, ons: row.ons }, `${row.type} ${row.ns} ${row.path ?? ''}`);
    compared++;
  }
  t.ok(compared > 0);
});

t.test('owner uid of a user ns created by an unprivileged uid', async (t) => {
  // Its own --pdeathsig: the uid change clears the one hold() sets.
  const h = hold(t, 'setpriv', ['--reuid', '65534', '--regid', '65534', '--clear-groups', '--pdeathsig', 'KILL', 'unshare', '-U', 'sleep', '1000']);
  await waitFor('sleep in user ns', () => comm(h.pid) === 'sleep' && nsIno(h.pid, 'user') !== nsIno('self', 'user'));
  t.same(nsOwnerUid(`/proc/${h.pid}/ns/user`), { ok: true, value: 65534 });
});

t.test("EPERM past the caller's scope (ioctl from inside a user ns)", async (t) => {
  ensureBuilt();
  const script = `
    const m = await import(${JSON.stringify(`${repoRoot}dist/lib/native/nsfs.js`)});
    const r = m.nsParent('/proc/self/ns/user');
    const o = m.nsOwner('/proc/self/ns/user');
    const p = m.nsOwner('/proc/self/ns/pid');
    console.log(JSON.stringify({ parent: r.ok ? 'ok' : r.code, owner: o.ok ? 'ok' : o.code, pidOwner: p.ok ? p.value.ino : p.code }));`;
  const out = execFileSync('unshare', ['-U', process.execPath, '--input-type=module', '-e', script], { encoding: 'utf8' });
  const res = JSON.parse(out) as { parent: string; owner: string; pidOwner: number | string };
  t.equal(res.parent, 'EPERM', "parent of own user ns lies outside the caller's user ns");
  t.equal(res.owner, 'EPERM');
  t.equal(res.pidOwner, 'EPERM', 'owner of the initial pid ns is the initial user ns: outside the scope');
});
