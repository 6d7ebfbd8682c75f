import t from 'tap';
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { sysOpen, sysClose } from '../../src/native/fd.js';
import { NETNSA_FD, NETNSA_NSID, NLMSG_ERROR, RTM_GETNSID, RTM_NEWNSID, NetnsIdQuery, buildGetNsidRequest, netnsId, netnsIdCell, netnsIdFd, parseGetNsidReply } from '../../src/native/netnsid.js';
import { comm, hold, lsns, nsIno, waitFor } from './fixtures/procs.js';
import { onAbort, taggedName } from '../support/tag.js';

function ip(args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8' });
}

/** ids the current netns has assigned (ip netns list-id), to choose a free one. */
function usedIds(): Set<number> {
  const ids = new Set<number>();
  for (const m of ip(['netns', 'list-id']).matchAll(/nsid (\d+)/g)) ids.add(Number(m[1]));
  return ids;
}

t.test('request encoding and reply parsing', async (t) => {
  const req = buildGetNsidRequest(7, 42);
  t.equal(req.length, 28);
  t.equal(req.readUInt32LE(0), 28);
  t.equal(req.readUInt16LE(4), RTM_GETNSID);
  t.equal(req.readUInt16LE(6), 1, 'NLM_F_REQUEST');
  t.equal(req.readUInt32LE(8), 42);
  t.equal(req.readUInt8(16), 0, 'rtgen_family AF_UNSPEC');
  t.equal(req.readUInt16LE(20), 8);
  t.equal(req.readUInt16LE(22), NETNSA_FD);
  t.equal(req.readUInt32LE(24), 7);

  const reply = (seq: number, nsid: number): Buffer => {
    const b = Buffer.alloc(28);
    b.writeUInt32LE(28, 0);
    b.writeUInt16LE(RTM_NEWNSID, 4);
    b.writeUInt32LE(seq, 8);
    b.writeUInt16LE(8, 20);
    b.writeUInt16LE(NETNSA_NSID, 22);
    b.writeInt32LE(nsid, 24);
    return b;
  };
  t.same(parseGetNsidReply(reply(42, 5), 42), { ok: true, value: 5 });
  t.same(parseGetNsidReply(reply(42, -1), 42), { ok: true, value: 'unassigned' });
  t.same(parseGetNsidReply(Buffer.concat([reply(41, 9), reply(42, 0)]), 42), { ok: true, value: 0 }, 'skips other seq');
  t.match(parseGetNsidReply(reply(41, 9), 42), { ok: false, code: 'EPROTO' });
  const err = Buffer.alloc(36);
  err.writeUInt32LE(36, 0);
  err.writeUInt16LE(NLMSG_ERROR, 4);
  err.writeUInt32LE(42, 8);
  err.writeInt32LE(-22, 16);
  t.match(parseGetNsidReply(err, 42), { ok: false, code: 'EINVAL', errno: 22 });
  const bad = reply(42, 1);
  bad.writeUInt32LE(1000, 0);
  t.match(parseGetNsidReply(bad, 42), { ok: false, code: 'EPROTO' });
  t.equal(netnsIdCell({ ok: true, value: 3 }), '3');
  t.equal(netnsIdCell({ ok: true, value: 'unassigned' }), 'unassigned');
  t.equal(netnsIdCell({ ok: false, code: 'EPERM', errno: 1, reason: '' }), '');
});

t.test('ip netns add + set id: NETNSID equals lsns for every net ns it lists', async (t) => {
  // Named with the run's tag: found by it if left behind.
  const a = taggedName(`netnsid-${process.pid}-a`);
  const b = taggedName(`netnsid-${process.pid}-b`);
  const del = (): void => {
    for (const n of [a, b]) {
      try {
        ip(['netns', 'del', n]);
      } catch {
        // not created
      }
    }
  };
  // Also when the test is stopped by a signal, where the teardown gets no chance.
  const abort = onAbort(del);
  t.teardown(() => {
    abort.cancel();
    del();
  });
  ip(['netns', 'add', a]);
  ip(['netns', 'add', b]);
  const used = usedIds();
  let id = 5;
  while (used.has(id)) id++;
  ip(['netns', 'set', a, String(id)]);

  t.same(netnsId(`/run/netns/${a}`), { ok: true, value: id }, 'assigned id through the bind mount');
  t.same(netnsId(`/run/netns/${b}`), { ok: true, value: 'unassigned' });
  t.same(netnsId('/proc/self/ns/net'), { ok: true, value: 'unassigned' }, 'own netns');

  // lsns 2.38 lists only namespaces with a process: put one in each, plus an unshare'd one.
  const pa = hold(t, 'ip', ['netns', 'exec', a, 'sleep', '1000']);
  const pb = hold(t, 'ip', ['netns', 'exec', b, 'sleep', '1000']);
  const pc = hold(t, 'unshare', ['--net', 'sleep', '1000']);
  for (const h of [pa, pb, pc]) {
    await waitFor('sleep in netns', () => comm(h.pid) === 'sleep' && nsIno(h.pid, 'net') !== nsIno('self', 'net'));
  }
  t.same(netnsId(`/proc/${pa.pid}/ns/net`), { ok: true, value: id });

  const rows = lsns(['-t', 'net', '-o', 'NS,PATH,NETNSID']);
  const seen = new Set<number>();
  const q = new NetnsIdQuery();
  t.teardown(() => q.close());
  for (const row of rows) {
    if (row.path === undefined) continue;
    const o = sysOpen(row.path);
    if (!o.ok) continue; // process gone since lsns ran
    try {
      const mine = q.idOfFd(o.value);
      t.equal(netnsIdCell(mine), row.netnsid === null || row.netnsid === undefined ? '' : String(row.netnsid), `net ${row.ns}`);
      seen.add(row.ns);
    } finally {
      sysClose(o.value);
    }
  }
  for (const h of [pa, pb, pc]) t.ok(seen.has(nsIno(h.pid, 'net')), `lsns listed ${h.pid}'s netns`);
  const ids = rows.filter((r) => seen.has(r.ns)).map((r) => String(r.netnsid));
  t.ok(ids.includes(String(id)), 'lsns shows the assigned id too');
});

t.test('errors and fd hygiene', async (t) => {
  t.match(netnsId('/proc/self/ns/uts'), { ok: false, code: 'EINVAL' }, 'not a net ns');
  t.match(netnsId('/etc/hostname'), { ok: false, code: 'EINVAL' }, 'not an nsfs file');
  t.match(netnsId('/nonexistent/netns'), { ok: false, code: 'ENOENT' });
  t.match(netnsIdFd(-1), { ok: false });
  const before = readdirSync('/proc/self/fd').length;
  const q = new NetnsIdQuery();
  for (let i = 0; i < 300; i++) {
    q.idOf('/proc/self/ns/net');
    q.idOf('/proc/self/ns/uts');
    netnsId('/proc/self/ns/net');
  }
  q.close();
  q.close();
  t.equal(readdirSync('/proc/self/fd').length, before, 'sockets and ns fds closed');
});
