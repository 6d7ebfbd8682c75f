/**
 * The report on a container host, on hand-made procfs trees: which nodes each kind of process
 * gets (host-only, isolated outside a container, in a container in its container's namespaces, in
 * a container with a namespace of its own), and that the report grows with the distinct namespace
 * sets, not with the processes. Expected values are written out here from the trees.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import t from 'tap';
import { NS_TYPES } from '../../src/procfs/types.js';
import { serialiseJson, type ScopeReport } from '../../src/scope/report.js';
import { reportProblems } from '../../src/scope/schema.js';
import { PROC_TABLE_PREFIX } from '../../src/scope/ns-list.js';
import { META } from '../../src/scope/topologies.js';
import { takeSnapshot } from '../../src/snapshot/full-source.js';
import { fakeContainerId, fakeProcess, INITIAL_NS, writeFakeProcfs, type FakeProcess } from '../support/fake-procfs.js';
import { rawTableRows, tableRows } from '../support/report.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sn-chost-'));
t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));

const docker = (n: number): string => `0::/system.slice/docker-${fakeContainerId(n)}.scope\n`;
const proc = fakeProcess;
/** Container n's own mnt, net, pid, uts and ipc; user, cgroup and time are the host's. */
const containerNs = (n: number): FakeProcess['ns'] => ({
  ...INITIAL_NS,
  mnt: 4026600000 + n * 10,
  net: 4026600001 + n * 10,
  pid: 4026600002 + n * 10,
  uts: 4026600003 + n * 10,
  ipc: 4026600004 + n * 10,
});

/** pids 1, 2 and 3 on the host; `containers` containers of `per` processes from pid 1000 on. */
function containerHost(containers: number, per: number): FakeProcess[] {
  const procs = [proc(1, INITIAL_NS, '0::/init.scope\n'), proc(2, INITIAL_NS, '0::/\n'), proc(3, INITIAL_NS, '0::/system.slice/dockerd.service\n')];
  let pid = 1000;
  for (let c = 1; c <= containers; c++) for (let i = 0; i < per; i++) procs.push(proc(pid++, containerNs(c), docker(c)));
  return procs;
}

function latestEntries(r: ScopeReport): Record<string, number> {
  const count = (nodes: Record<string, { latest: object }> | undefined): number => Object.values(nodes ?? {}).reduce((n, node) => n + Object.keys(node.latest).length, 0);
  return { host: count(r.Host?.nodes), process: count(r.Process?.nodes), container: count(r.Container?.nodes) };
}

async function reportOf(name: string, procs: readonly FakeProcess[], mode?: 'distinct' | 'isolated' | 'all'): Promise<ScopeReport> {
  const root = path.join(tmp, name);
  writeFakeProcfs(root, procs, 'root:x:0:0:root:/root:/bin/bash\n');
  const snap = await takeSnapshot({ proc: root, hostname: 'h', pluginId: 'host-namespaces', ...(mode ? { processNodes: mode } : {}) });
  return snap.report;
}

t.test('which processes get a Process node, by kind', async (t) => {
  const own = { ...containerNs(1), net: 4026610001 };
  const procs = [
    proc(1, INITIAL_NS, '0::/init.scope\n'),
    proc(2, INITIAL_NS, '0::/\n'),
    proc(10, INITIAL_NS, '0::/user.slice\n'), // host-only
    proc(20, { ...INITIAL_NS, net: 4026620000, uts: 4026620001 }, '0::/user.slice\n'), // isolated, no container
    proc(30, containerNs(1), docker(1)), // in container 1, its container's namespaces
    proc(31, containerNs(1), docker(1)),
    proc(32, own, docker(1)), // in container 1, a net namespace of its own
  ];
  const r = await reportOf('kinds', procs);
  t.same(reportProblems(r, 'host-namespaces'), []);
  t.same(Object.keys(r.Process?.nodes ?? {}).sort(), ['h;20', 'h;32'], 'the isolated host process and the container process with its own net');
  const p32 = r.Process?.nodes['h;32']?.latest ?? {};
  t.equal(p32[`${PROC_TABLE_PREFIX}net`]?.value, '4026610001');
  t.equal(p32[`${PROC_TABLE_PREFIX}mnt`]?.value, String(containerNs(1).mnt));
  t.equal(p32[`${PROC_TABLE_PREFIX}user`]?.value, `${INITIAL_NS.user} (host)`);
  t.equal(p32[META.container]?.value, fakeContainerId(1).slice(0, 12));
  t.equal(r.Process?.nodes['h;20']?.latest[META.shared]?.value, 'pid, ipc, mnt');
  const c1 = r.Container?.nodes[`${fakeContainerId(1)};<container>`]?.latest ?? {};
  t.same(
    NS_TYPES.map((type) => c1[PROC_TABLE_PREFIX + type]?.value),
    [String(containerNs(1).mnt), String(containerNs(1).net), String(containerNs(1).pid), String(containerNs(1).uts), String(containerNs(1).ipc), undefined, undefined, undefined],
    "container 1: its namespaces (the majority's net); the host's user, cgroup and time are named by 'Shared with host by default'",
  );
  t.equal(c1[META.sharedDefault]?.value, 'user, cgroup, time');
  t.equal(c1[META.mixed]?.value, 'net');
  t.equal(r.Host?.nodes['h;<host>']?.latest[META.hostOnly]?.value, '3', 'pids 1, 2 and 10 counted on the Host node');

  // The Host table: container 1's mnt, pid, uts, ipc held by 30, 31, 32 alike: one row; its net
  // (30, 31) a row; 32's own net a row; pid 20's net and uts (no container) a row each.
  const raw = rawTableRows(r, 'h');
  const c = containerNs(1);
  t.same(raw.get(String(c.mnt))?.['ns'], `${c.mnt} ${c.pid} ${c.uts} ${c.ipc}`);
  t.same(raw.get(String(c.mnt))?.['type'], 'mnt pid uts ipc');
  t.same(raw.get(String(c.mnt))?.['nprocs'], '3');
  t.same(raw.get(String(c.net))?.['nprocs'], '2');
  t.same(raw.get('4026610001')?.['pid'], '32');
  t.same(raw.get('4026620000')?.['type'], 'net');
  t.same(raw.get('4026620001')?.['type'], 'uts');
  t.equal(raw.size, 8 + 1 + 1 + 1 + 2, "8 host rows, container 1's set, its net, 32's net, 20's two");

  const isolated = await reportOf('kinds-isolated', procs, 'isolated');
  t.same(Object.keys(isolated.Process?.nodes ?? {}).sort(), ['h;20', 'h;30', 'h;31', 'h;32'], '--process-nodes isolated: every container process too');
  const all = await reportOf('kinds-all', procs, 'all');
  t.equal(Object.keys(all.Process?.nodes ?? {}).length, procs.length, '--process-nodes all: every process');
});

t.test('the report grows with containers, not with their processes', async (t) => {
  const few = await reportOf('c20x2', containerHost(20, 2));
  const many = await reportOf('c20x40', containerHost(20, 40));
  t.same(latestEntries(many), latestEntries(few), '20 containers of 40 processes: as many latest entries as of 2');
  // Per container: a Host row of 7 cells (NS, Type, # Procs, Pid, User, Command, Container) and a
  // Container node of 9 entries (5 namespaces, Host namespaces, Shared by default, Runtime,
  // Processes). Host rows: the host's 8 namespaces of 6 cells; summary 5 entries.
  t.same(latestEntries(many), { host: 8 * 6 + 6 + 20 * 7, process: 0, container: 20 * 9 });
  const table = tableRows(many, 'h');
  t.equal(table.size, 8 + 20 * 5, 'every namespace still found in the table');
  t.equal(table.get(String(containerNs(7).uts))?.['nprocs'], '40');
  t.equal(table.get(String(containerNs(7).uts))?.['type'], 'uts');

  for (const [containers, per] of [
    [100, 50],
    [200, 25],
  ] as const) {
    const r = await reportOf(`c${containers}x${per}`, containerHost(containers, per));
    t.same(reportProblems(r, 'host-namespaces'), []);
    const e = latestEntries(r);
    const total = (e['host'] ?? 0) + (e['process'] ?? 0) + (e['container'] ?? 0);
    const bytes = Buffer.byteLength(serialiseJson(r));
    t.comment(`${containers} containers of ${per}: ${JSON.stringify(e)}, ${bytes} bytes`);
    t.ok(total <= 4500, `${containers} containers of ${per}: ${total} latest entries <= 4,500`);
    t.ok(bytes <= 400_000, `${containers} containers of ${per}: ${bytes} bytes of JSON <= 400 kB`);
  }
});
