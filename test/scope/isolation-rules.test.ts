/**
 * The pure isolation rules on hand-written inputs: the Container cell of a namespace
 * (scan/ns-containers.ts), the sharing statement (scope/isolation.ts) and the Host node's summary
 * (scope/host-summary.ts).
 */
import t from 'tap';
import type { NsType } from '../../src/procfs/types.js';
import type { InitialNamespaces } from '../../src/scan/host-namespaces.js';
import { assignNamespaceContainers, containerCell, containersOf } from '../../src/scan/ns-containers.js';
import { containersSharing, HOST_META, hostMetadataTemplates, hostSummaryLatest, MAX_LISTED_CONTAINERS, namespacesPerType } from '../../src/scope/host-summary.js';
import { defaultSharedLabel, hostSharing, hostSharingLabel } from '../../src/scope/isolation.js';

const A = 'a'.repeat(64);
const B = 'b1'.repeat(32);
const C = '0c'.repeat(32);
const D = 'd'.repeat(64);
const HOST: InitialNamespaces = {
  ns: { mnt: 11, net: 12, pid: 13, uts: 14, ipc: 15, user: 16, cgroup: 17, time: 18 },
  from: { mnt: 2, net: 2, pid: 2, uts: 2, ipc: 2, user: 2, cgroup: 2, time: 2 },
};

t.test('containersOf and containerCell', async (t) => {
  const byPid = new Map([
    [300, { id: B }],
    [100, { id: A }],
    [200, { id: B }],
    [400, { id: C }],
  ]);
  t.same(containersOf([], byPid), null, 'no processes');
  t.same(containersOf([5, 6], byPid), null, 'no process in a container');
  t.same(containersOf([300, 200, 5], byPid), { first: B, others: 0 }, 'one container, several processes, one outside');
  t.same(containersOf([400, 300, 100, 200], byPid), { first: A, others: 2 }, 'the lowest containerised pid names it, whatever the order given');
  t.same(containersOf([1, 400, 300], byPid), { first: B, others: 1 }, 'pid 1 (no container) does not take the name');
  t.equal(containerCell(null), '');
  t.equal(containerCell({ first: A, others: 0 }), 'aaaaaaaaaaaa');
  t.equal(containerCell({ first: B, others: 2 }), 'b1b1b1b1b1b1 +2');
});

t.test('assignNamespaceContainers: host rows empty, pods +N, namespaces without containers empty', async (t) => {
  type Row = { ns: number; type: NsType; container?: string };
  const rows: Row[] = [
    { ns: 12, type: 'net' }, // the host's net: shared by a --net=host container, still empty
    { ns: 500, type: 'net' }, // a pod's sandbox net: pause (pid 100) + 2 app containers
    { ns: 501, type: 'mnt' }, // one app's own mnt
    { ns: 600, type: 'net' }, // a host process's own net (unshare --net): no container
    { ns: 700, type: 'uts' }, // bind-mount-only (NPROCS 0): no members
    { ns: 13, type: 'user' }, // inode of the host's pid but type user: not a host row
  ];
  const members = new Map<number, number[]>([
    [12, [1, 2, 40, 900]],
    [500, [100, 110, 120, 121]],
    [501, [110]],
    [600, [50]],
    [13, [130]],
  ]);
  const byPid = new Map([
    [100, { id: C }],
    [110, { id: A }],
    [120, { id: B }],
    [121, { id: B }],
    [130, { id: D }],
    [900, { id: D }],
  ]);
  assignNamespaceContainers(rows, members, byPid, HOST);
  t.same(
    rows.map((r) => r.container ?? ''),
    ['', '0c0c0c0c0c0c +2', 'aaaaaaaaaaaa', '', '', 'dddddddddddd'],
  );
  const unknownHost: InitialNamespaces = { ns: {}, from: {} };
  const r2: Row[] = [{ ns: 12, type: 'net' }];
  assignNamespaceContainers(r2, members, byPid, unknownHost);
  t.equal(r2[0]?.container, 'dddddddddddd', "host's net unknown: the row is treated like any other");
});

t.test('sharing statement', async (t) => {
  const label = (ns: Partial<Record<NsType, number>>) => hostSharingLabel(hostSharing(HOST, ns));
  const own = { mnt: 21, net: 22, pid: 23, uts: 24, ipc: 25, user: 26, cgroup: 27, time: 28 };
  const dflt = { ...own, user: 16, cgroup: 17, time: 18 };
  t.equal(label(dflt), 'isolated', 'default container: user/cgroup/time shared, still isolated');
  t.equal(defaultSharedLabel(hostSharing(HOST, dflt)), 'user, cgroup, time');
  t.equal(defaultSharedLabel(hostSharing(HOST, own)), null, 'nothing shared by default: no entry');
  t.equal(defaultSharedLabel(hostSharing(HOST, { ...own, cgroup: 17 })), 'cgroup');
  t.equal(label(own), 'isolated');
  t.equal(label({ ...dflt, net: 12 }), 'net', '--net=host');
  t.equal(label({ ...dflt, pid: 13 }), 'pid', '--pid=host');
  t.equal(label({ ...dflt, mnt: 11, pid: 13, net: 12 }), 'net, pid, mnt', 'fixed order net, pid, ipc, uts, mnt');
  t.equal(label(HOST.ns), 'net, pid, ipc, uts, mnt', 'a host process');
  t.equal(label({ pid: 23, user: 16 }), 'none (unknown: net, ipc, uts, mnt)', 'a zombie (only pid and user links): never "isolated"');
  t.equal(label({ pid: 13, user: 16 }), 'pid (unknown: net, ipc, uts, mnt)');
  t.equal(hostSharingLabel(hostSharing({ ns: { net: 12 }, from: { net: 1 } }, own)), 'none (unknown: pid, ipc, uts, mnt)', "host's namespaces unknown");
});

t.test('host summary', async (t) => {
  const rows: Array<{ type: NsType }> = [
    ...Array.from({ length: 3 }, () => ({ type: 'net' as const })),
    ...Array.from({ length: 12 }, () => ({ type: 'mnt' as const })),
    { type: 'time' },
    { type: 'user' },
    { type: 'user' },
  ];
  t.equal(namespacesPerType(rows), 'mnt 12, net 3, user 2, time 1', 'lsns type order, empty types left out');
  t.equal(namespacesPerType([]), 'none');
  const cs = [
    { id: D, shared: ['net', 'pid'] as NsType[] },
    { id: A, shared: ['net'] as NsType[] },
    { id: B, shared: ['user', 'cgroup', 'time'] as NsType[] },
  ];
  t.equal(containersSharing(cs, 'net'), '2: aaaaaaaaaaaa, dddddddddddd', 'count, then ids in ascending order');
  t.equal(containersSharing(cs, 'pid'), '1: dddddddddddd');
  t.equal(containersSharing(cs, 'ipc'), 'none');
  const many = Array.from({ length: MAX_LISTED_CONTAINERS + 3 }, (_, i) => ({ id: i.toString(16).padStart(64, '0'), shared: ['net'] as NsType[] }));
  const v = containersSharing(many.reverse(), 'net');
  t.match(v, new RegExp(`^${MAX_LISTED_CONTAINERS + 3}: 000000000000, `));
  t.match(v, /, \+3 more$/);
  t.equal(v.split(', ').length, MAX_LISTED_CONTAINERS + 1, 'listed ids, then the rest counted');

  const ts = '2026-01-02T03:04:05.000Z';
  const latest = hostSummaryLatest(rows, cs, ts);
  t.same(latest, {
    [HOST_META.types]: { timestamp: ts, value: 'mnt 12, net 3, user 2, time 1' },
    [HOST_META.net]: { timestamp: ts, value: '2: aaaaaaaaaaaa, dddddddddddd' },
    [HOST_META.pid]: { timestamp: ts, value: '1: dddddddddddd' },
    [HOST_META.ipc]: { timestamp: ts, value: 'none' },
    [HOST_META.held]: { timestamp: ts, value: 'none' },
  });
  t.same(Object.keys(hostSummaryLatest(rows, undefined, ts)), [HOST_META.types, HOST_META.held], 'containers not scanned: no container entries (never a false "none")');
  const tpl = hostMetadataTemplates();
  t.same(Object.keys(tpl).sort(), Object.values(HOST_META).sort(), 'a template for every entry');
  for (const [k, v] of Object.entries(tpl)) t.equal(v.id, k);
});
