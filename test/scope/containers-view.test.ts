/**
 * Containers on a hand-written procfs tree: the Host table's Container column, the `list` column
 * CONTAINER (table, raw, JSON, process mode), the sharing statement of Container and Process
 * nodes, and the Host node's summary. Every expected value is written out here; the live
 * counterpart (real namespaces and cgroups) is test/live/isolation.test.ts.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import t from 'tap';
import { runList } from '../../src/cli/list.js';
import { rawTableRows, tableRows } from '../support/report.js';
import { reportProblems } from '../../src/scope/schema.js';
import { HOST_META } from '../../src/scope/host-summary.js';
import { META } from '../../src/scope/topologies.js';
import { takeSnapshot } from '../../src/snapshot/full-source.js';
import { INITIAL_NS, writeFakeProcfs, type FakeProcess } from '../support/fake-procfs.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sn-cview-'));
t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));

const PAUSE = '1'.repeat(64);
const APP1 = '2'.repeat(64);
const APP2 = '3'.repeat(64);
const NETHOST = '4'.repeat(64);
const PIDHOST = '5'.repeat(64);
const ISO = '6'.repeat(64);
const UIDU = '12345678_1234_1234_1234_123456789abc';
const pod = (id: string): string => `0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${UIDU}.slice/cri-containerd-${id}.scope\n`;
const docker = (id: string): string => `0::/system.slice/docker-${id}.scope\n`;

// Namespaces: 45xx the pod's sandbox (pause), 46xx/47xx the apps' own, 5xxx the docker containers'.
const sandbox = { ...INITIAL_NS, mnt: 4026534500, net: 4026534501, pid: 4026534502, uts: 4026534503, ipc: 4026534504 };
const app1 = { ...sandbox, mnt: 4026534600, pid: 4026534602 };
const app2 = { ...sandbox, mnt: 4026534700, pid: 4026534702 };
const netHost = { ...INITIAL_NS, mnt: 4026535100, pid: 4026535102, uts: 4026535103, ipc: 4026535104 };
const pidHost = { ...INITIAL_NS, mnt: 4026535200, net: 4026535201, uts: 4026535203, ipc: 4026535204 };
const iso = { ...INITIAL_NS, mnt: 4026535300, net: 4026535301, pid: 4026535302, uts: 4026535303, ipc: 4026535304 };
const ownNet = { ...INITIAL_NS, net: 4026535401 };

const p = (pid: number, ns: FakeProcess['ns'], cgroup: string): FakeProcess => ({ pid, ppid: 1, uid: 0, comm: `p${pid}`, argv: [`/bin/p${pid}`], ns, cgroup });
const procs: FakeProcess[] = [
  p(1, INITIAL_NS, '0::/init.scope\n'),
  p(2, INITIAL_NS, '0::/\n'),
  p(40, INITIAL_NS, '0::/user.slice\n'),
  p(50, ownNet, '0::/user.slice\n'), // a host process in its own net namespace: no container
  p(110, app1, pod(APP1)), // started before the sandbox's pause (pid wrap): the lowest pid names the net row
  p(120, app2, pod(APP2)),
  p(121, app2, pod(APP2)),
  p(130, sandbox, pod(PAUSE)),
  p(200, netHost, docker(NETHOST)),
  p(300, pidHost, docker(PIDHOST)),
  p(400, iso, docker(ISO)),
];
const proc = path.join(tmp, 'proc');
writeFakeProcfs(proc, procs, 'root:x:0:0:root:/root:/bin/bash\n');

/** The expected Container cell of every namespace that has one (all others are empty). */
const expectedCells: Record<number, string> = {
  [sandbox.net]: '222222222222 +2',
  [sandbox.uts]: '222222222222 +2',
  [sandbox.ipc]: '222222222222 +2',
  [sandbox.mnt]: '111111111111',
  [sandbox.pid]: '111111111111',
  [app1.mnt]: '222222222222',
  [app1.pid]: '222222222222',
  [app2.mnt]: '333333333333',
  [app2.pid]: '333333333333',
  [netHost.mnt]: '444444444444',
  [netHost.pid]: '444444444444',
  [netHost.uts]: '444444444444',
  [netHost.ipc]: '444444444444',
  [pidHost.mnt]: '555555555555',
  [pidHost.net]: '555555555555',
  [pidHost.uts]: '555555555555',
  [pidHost.ipc]: '555555555555',
  [iso.mnt]: '666666666666',
  [iso.net]: '666666666666',
  [iso.pid]: '666666666666',
  [iso.uts]: '666666666666',
  [iso.ipc]: '666666666666',
};
const allNs = [...new Set(procs.flatMap((x) => Object.values(x.ns)))].sort((a, b) => a - b);

async function list(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runList(['--proc', proc, ...args], { out: (b) => (out += b), err: (e) => (err += e), env: { LANG: 'C.UTF-8' }, ttyWidth: null, euid: 0 });
  return { code, out, err };
}

t.test('list -o NS,TYPE,CONTAINER: raw, table and JSON', async (t) => {
  const raw = await list(['-r', '-n', '-o', 'NS,TYPE,CONTAINER']);
  t.equal(raw.code, 0, raw.err);
  const got = new Map(
    raw.out
      .trimEnd()
      .split('\n')
      .map((l) => [Number(l.split(' ')[0]), l]),
  );
  t.same([...got.keys()], allNs, 'one row per namespace, NS order');
  for (const ns of allNs) {
    const cell = expectedCells[ns] ?? '';
    const line = got.get(ns) ?? '';
    // Raw output escapes a space inside a cell as \x20.
    t.equal(line.split(' ').slice(2).join(' '), cell.replace(' ', '\\x20'), `${ns}: '${cell}'`);
  }

  const table = await list(['-l', '-o', 'NS,CONTAINER,TYPE']);
  const lines = table.out.split('\n');
  t.match(lines[0] ?? '', /^\s*NS CONTAINER\s+TYPE$/, 'header');
  t.ok(
    lines.some((l) => l.startsWith(`${sandbox.net} 222222222222 +2 net`)),
    'a pod net row in the table',
  );

  const json = JSON.parse((await list(['-J', '-o', 'NS,TYPE,CONTAINER'])).out) as { namespaces: Array<{ ns: number; type: string; container: string | null }> };
  t.same(
    json.namespaces.map((n) => [n.ns, n.container]),
    allNs.map((ns) => [ns, expectedCells[ns] ?? null]),
    'JSON: the cell, or null when empty',
  );

  const all = await list(['--output-all', '-r', '-n']);
  t.notMatch(all.out, /222222222222/, '--output-all leaves CONTAINER out, like HOSTNAME');
  const bad = await list(['-o', 'NS,CONTAINERS']);
  t.equal(bad.code, 1);
  t.match(bad.err, /unknown column: CONTAINERS/);
});

t.test('list -o CONTAINER on a tree without cgroup files: a warning, empty cells', async (t) => {
  const bare = path.join(tmp, 'bare');
  writeFakeProcfs(
    bare,
    procs.map((x) => {
      const copy = { ...x };
      delete copy.cgroup;
      return copy;
    }),
  );
  let out = '';
  let err = '';
  const code = await runList(['--proc', bare, '-r', '-n', '-o', 'NS,CONTAINER', '-t', 'net'], { out: (b) => (out += b), err: (e) => (err += e), env: {}, ttyWidth: null, euid: 0 });
  t.equal(code, 0);
  t.equal(
    out,
    [INITIAL_NS.net, sandbox.net, pidHost.net, iso.net, ownNet.net]
      .sort((a, b) => a - b)
      .map((ns) => `${ns} \n`)
      .join(''),
  );
  t.match(err, /warning: no cgroup file could be read under .*bare; CONTAINER is unknown and shown empty/);
  const withFiles = await list(['-r', '-n', '-o', 'NS,CONTAINER', '-t', 'net']);
  t.equal(withFiles.err, '', 'no warning when the files are there');
});

t.test('list <namespace> -o PID,CONTAINER: each process its own container', async (t) => {
  const r = await list(['-r', '-n', '-o', 'PID,CONTAINER', String(sandbox.net)]);
  t.equal(r.code, 0, r.err);
  t.equal(r.out, '110 222222222222\n120 333333333333\n121 333333333333\n130 111111111111\n');
  const host = await list(['-r', '-n', '-o', 'PID,CONTAINER', String(INITIAL_NS.net)]);
  t.match(host.out, /^200 444444444444$/m, "a --net=host container's process in the host's net namespace");
  t.match(host.out, /^40 $/m, 'a host process: empty');
});

t.test('report: Host Container column, summary, sharing statements', async (t) => {
  const snap = await takeSnapshot({ proc, hostname: 'node-a', pluginId: 'host-namespaces' });
  const r = snap.report;
  t.same(reportProblems(r, 'host-namespaces'), [], 'schema-valid');
  const table = tableRows(r, 'node-a');
  t.same(
    [...table.keys()].map(Number).sort((a, b) => a - b),
    allNs,
  );
  for (const ns of allNs) t.equal(table.get(String(ns))?.['container'], expectedCells[ns], `${ns}: Container cell ${expectedCells[ns] ?? '(none)'}`);

  const host = r.Host?.nodes['node-a;<host>']?.latest ?? {};
  t.equal(host[HOST_META.types]?.value, 'mnt 7, net 5, pid 6, uts 5, ipc 5, user 1, cgroup 1, time 1');
  t.equal(host[HOST_META.net]?.value, '1: 444444444444');
  t.equal(host[HOST_META.pid]?.value, '1: 555555555555');
  t.equal(host[HOST_META.ipc]?.value, 'none');
  t.equal(r.Host?.metadata_templates?.[HOST_META.net]?.label, 'Containers in host net ns');

  const c = (id: string) => r.Container?.nodes[`${id};<container>`]?.latest ?? {};
  const expectShared: Array<[string, string, string]> = [
    ['pause', PAUSE, 'isolated'],
    ['app1', APP1, 'isolated'],
    ['app2', APP2, 'isolated'],
    ['--net=host', NETHOST, 'net'],
    ['--pid=host', PIDHOST, 'pid'],
    ['default', ISO, 'isolated'],
  ];
  for (const [name, id, shared] of expectShared) {
    t.equal(c(id)[META.shared]?.value, shared, `container ${name}: Host namespaces ${shared}`);
    t.equal(c(id)[META.sharedDefault]?.value, 'user, cgroup, time', `container ${name}: shared by default`);
  }
  t.equal(r.Container?.metadata_templates?.[META.shared]?.label, 'Host namespaces');
  t.equal(r.Container?.metadata_templates?.[META.sharedDefault]?.label, 'Shared with host by default');

  // By default only the host process in its own net namespace has a Process node: every
  // container process is in its container's namespaces, which its Container node shows.
  t.same(Object.keys(r.Process?.nodes ?? {}), ['node-a;50']);
  const isolatedMode = (await takeSnapshot({ proc, hostname: 'node-a', pluginId: 'host-namespaces', processNodes: 'isolated' })).report;
  const proc_ = (pid: number) => isolatedMode.Process?.nodes[`node-a;${pid}`]?.latest ?? {};
  t.equal(proc_(200)[META.shared]?.value, 'net');
  t.equal(proc_(300)[META.shared]?.value, 'pid');
  t.equal(proc_(110)[META.shared]?.value, 'isolated');
  t.equal(proc_(400)[META.shared]?.value, 'isolated');
  t.equal(proc_(50)[META.shared]?.value, 'pid, ipc, uts, mnt', 'host process in its own net');
  t.equal(proc_(50)[META.container], undefined);
  t.equal(r.Process?.nodes['node-a;40'], undefined, 'a process in host namespaces only gets no node by default');
  t.equal(r.Process?.metadata_templates?.[META.shared]?.label, 'Host namespaces');
  const all = await takeSnapshot({ proc, hostname: 'node-a', pluginId: 'host-namespaces', processNodes: 'all' });
  t.equal(all.report.Process?.nodes['node-a;40']?.latest[META.shared]?.value, 'net, pid, ipc, uts, mnt', 'with --process-nodes all it has one');
});

t.test('Host table rows: a set of namespaces one container holds alike is one row', async (t) => {
  const snap = await takeSnapshot({ proc, hostname: 'node-a', pluginId: 'host-namespaces' });
  const raw = rawTableRows(snap.report, 'node-a');
  const row = (ino: number) => raw.get(String(ino));
  // Written out by hand from the tree above: [row id, NS cell, Type cell, # Procs, Pid, Container].
  const merged: Array<[number, string, string, string, string, string]> = [
    [sandbox.mnt, `${sandbox.mnt} ${sandbox.pid}`, 'mnt pid', '1', '130', '111111111111'],
    [app1.mnt, `${app1.mnt} ${app1.pid}`, 'mnt pid', '1', '110', '222222222222'],
    [app2.mnt, `${app2.mnt} ${app2.pid}`, 'mnt pid', '2', '120', '333333333333'],
    [netHost.mnt, `${netHost.mnt} ${netHost.pid} ${netHost.uts} ${netHost.ipc}`, 'mnt pid uts ipc', '1', '200', '444444444444'],
    [pidHost.mnt, `${pidHost.mnt} ${pidHost.net} ${pidHost.uts} ${pidHost.ipc}`, 'mnt net uts ipc', '1', '300', '555555555555'],
    [iso.mnt, `${iso.mnt} ${iso.net} ${iso.pid} ${iso.uts} ${iso.ipc}`, 'mnt net pid uts ipc', '1', '400', '666666666666'],
  ];
  for (const [id, ns, type, nprocs, pid, container] of merged) {
    t.same([row(id)?.['ns'], row(id)?.['type'], row(id)?.['nprocs'], row(id)?.['pid'], row(id)?.['container']], [ns, type, nprocs, pid, container], `row ${id}: ${type} of container ${container}`);
  }
  // Held by several containers (the pod's sandbox net/uts/ipc), by no container (pid 50's net),
  // or the host's: a row each, as lsns has them.
  for (const ino of [sandbox.net, sandbox.uts, sandbox.ipc, ownNet.net, ...Object.values(INITIAL_NS)]) t.equal(row(ino)?.['ns'], String(ino), `${ino}: a row of its own`);
  t.equal(raw.size, merged.length + 3 + 1 + 8, 'no other rows');
  t.same(
    [...raw.keys()].map(Number),
    [...raw.keys()].map(Number).sort((a, b) => a - b),
    'rows sorted by their ids (lowest inode)',
  );

  // Container nodes: the namespaces that are not the host's, the host's isolation types marked.
  const c = (id: string) => snap.report.Container?.nodes[`${id};<container>`]?.latest ?? {};
  const ns = (id: string) =>
    Object.fromEntries(
      Object.entries(c(id))
        .filter(([k]) => k.startsWith('hns-ns-'))
        .map(([k, v]) => [k.slice('hns-ns-'.length), v.value]),
    );
  t.same(ns(APP1), { mnt: String(app1.mnt), net: String(sandbox.net), pid: String(app1.pid), uts: String(sandbox.uts), ipc: String(sandbox.ipc) }, 'app1: its own and the sandbox namespaces');
  t.same(ns(NETHOST), { mnt: String(netHost.mnt), net: `${INITIAL_NS.net} (host)`, pid: String(netHost.pid), uts: String(netHost.uts), ipc: String(netHost.ipc) }, '--net=host: the host net marked');
  t.equal(snap.report.Container?.table_templates?.['hns-ns-']?.type, 'property-list');
});

t.test('--topologies host: the Container column and summary still there', async (t) => {
  const snap = await takeSnapshot({ proc, hostname: 'h', pluginId: 'host-namespaces', topologies: ['host'] });
  t.same(Object.keys(snap.report), ['Host', 'Plugins']);
  t.same(reportProblems(snap.report, 'host-namespaces'), []);
  t.equal(tableRows(snap.report, 'h').get(String(sandbox.ipc))?.['container'], '222222222222 +2');
  t.equal(snap.report.Host?.nodes['h;<host>']?.latest[HOST_META.pid]?.value, '1: 555555555555');
});
