/**
 * Live: which container each namespace belongs to and how isolated each container is,
 * on real namespaces and cgroup directories shaped like the runtimes' (test/support/cgroups.ts).
 *
 * Made by hand with unshare/nsenter:
 * - "default": `docker run` defaults: own net, pid, ipc, uts, mnt; the host's user, cgroup, time;
 * - "netHost": `--net=host`: own pid, ipc, uts, mnt;
 * - "pidHost": `--pid=host`: own net, ipc, uts, mnt;
 * - a pod: a sandbox ("pause": own net, pid, ipc, uts, mnt) and two app containers that join the
 *   sandbox's net, ipc and uts (nsenter) with their own pid and mnt, as kubelet makes them;
 * - "hostProc": a process in no container, in its own net namespace (`unshare --net`).
 * Expected values come from the ids made here and the inodes this test reads from /proc.
 */
import { spawnSync } from 'node:child_process';
import t from 'tap';
import type { NsType } from '../../src/procfs/types.js';
import { HOST_META } from '../../src/scope/host-summary.js';
import { type ScopeReport } from '../../src/scope/report.js';
import { tableRows } from '../support/report.js';
import { reportProblems } from '../../src/scope/schema.js';
import { META } from '../../src/scope/topologies.js';
import { CgroupLab, cgroupSkipReason, cgroupV2 as v2, hex64, nsInodeOf } from '../support/cgroups.js';
import { cli } from '../support/daemon.js';

const HOST = 'live-iso-host';
const FIVE: readonly NsType[] = ['net', 'pid', 'ipc', 'uts', 'mnt'];
const short = (id: string): string => id.slice(0, 12);

const skip = cgroupSkipReason();
t.test('Container cells and sharing statements of default, --net=host, --pid=host, pod and host-process namespaces', { skip: skip ?? false }, async (t) => {
  if (!v2) return;
  const lab = new CgroupLab('isolation');
  t.teardown(async () => {
    await lab.cleanup();
  });
  const id = { default: hex64(), netHost: hex64(), pidHost: hex64(), pause: hex64(), app1: hex64(), app2: hex64() };
  const podUidU = hex64()
    .slice(0, 32)
    .replace(/^(.{8})(.{4})(.{4})(.{4})(.{12})$/, '$1_$2_$3_$4_$5');
  const podCgroup = (cid: string): string => `kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${podUidU}.slice/cri-containerd-${cid}.scope`;
  const SLEEP = ['sleep', '300'];
  const own5 = ['--pid', '--net', '--mount', '--uts', '--ipc'];

  const dflt = await lab.start(['unshare', '--fork', '--kill-child', ...own5, ...SLEEP], true);
  const netHost = await lab.start(['unshare', '--fork', '--kill-child', '--pid', '--mount', '--uts', '--ipc', ...SLEEP], true);
  const pidHost = await lab.start(['unshare', '--net', '--mount', '--uts', '--ipc', ...SLEEP], false);
  const pause = await lab.start(['unshare', '--fork', '--kill-child', ...own5, ...SLEEP], true);
  const join = ['nsenter', '-t', String(pause.pid), '--net', '--ipc', '--uts', '--', 'unshare', '--fork', '--kill-child', '--pid', '--mount', ...SLEEP];
  const app1 = await lab.start(join, true);
  const app2 = await lab.start(join, true);
  const hostProc = await lab.start(['unshare', '--net', ...SLEEP], false);

  lab.place(dflt.pid, v2, `system.slice/docker-${id.default}.scope`);
  lab.place(netHost.pid, v2, `docker/${id.netHost}`);
  lab.place(pidHost.pid, v2, `system.slice/docker-${id.pidHost}.scope`);
  lab.place(pause.pid, v2, podCgroup(id.pause));
  lab.place(app1.pid, v2, podCgroup(id.app1));
  lab.place(app2.pid, v2, podCgroup(id.app2));

  // The kernel's view, read before the report: the host's namespaces are kthreadd's (pid 2).
  const ino = (pid: number, type: NsType): number => nsInodeOf(pid, type);
  const hostNs = (type: NsType): number => ino(2, type);
  const hostOf = (pid: number): NsType[] => FIVE.filter((type) => ino(pid, type) === hostNs(type));
  t.same(hostOf(dflt.pid), [], 'setup: default has its own five');
  t.same(hostOf(netHost.pid), ['net'], 'setup: --net=host');
  t.same(hostOf(pidHost.pid), ['pid'], 'setup: --pid=host');
  t.same(hostOf(pause.pid), [], 'setup: pod sandbox');
  for (const app of [app1, app2]) {
    t.same(hostOf(app.pid), [], 'setup: pod app');
    for (const type of ['net', 'ipc', 'uts'] as const) t.equal(ino(app.pid, type), ino(pause.pid, type), `setup: app ${app.pid} in the sandbox's ${type}`);
    for (const type of ['pid', 'mnt'] as const) t.not(ino(app.pid, type), ino(pause.pid, type), `setup: app ${app.pid} has its own ${type}`);
  }
  t.same(hostOf(hostProc.pid), ['pid', 'ipc', 'uts', 'mnt'], 'setup: host process in its own net');

  // The expected Container cell of each namespace of ours (inode -> cell; '' = empty).
  const expected = new Map<number, string>();
  for (const [p, cid] of [
    [dflt, id.default],
    [netHost, id.netHost],
    [pidHost, id.pidHost],
    [pause, id.pause],
    [app1, id.app1],
    [app2, id.app2],
  ] as const) {
    for (const type of FIVE) if (ino(p.pid, type) !== hostNs(type)) expected.set(ino(p.pid, type), short(cid));
  }
  // The sandbox's net/ipc/uts: three containers, named after the lowest pid's.
  const pod = [
    [pause.pid, id.pause],
    [app1.pid, id.app1],
    [app2.pid, id.app2],
  ] as const;
  const lowest = [...pod].sort((a, b) => a[0] - b[0])[0]?.[1] ?? '';
  for (const type of ['net', 'ipc', 'uts'] as const) expected.set(ino(pause.pid, type), `${short(lowest)} +2`);
  expected.set(ino(hostProc.pid, 'net'), '');
  for (const type of FIVE) expected.set(hostNs(type), '');

  // list -o NS,TYPE,CONTAINER, JSON (null for an empty cell) and raw.
  const json = spawnSync(process.execPath, [cli, 'list', '-J', '-o', 'NS,TYPE,CONTAINER'], { encoding: 'utf8', maxBuffer: 64 << 20 });
  t.equal(json.status, 0, json.stderr);
  const listed = new Map((JSON.parse(json.stdout) as { namespaces: Array<{ ns: number; container: string | null }> }).namespaces.map((n) => [n.ns, n.container]));
  for (const [ns, cell] of expected) t.equal(listed.get(ns), cell === '' ? null : cell, `list: ${ns} CONTAINER ${cell || 'null'}`);
  const raw = spawnSync(process.execPath, [cli, 'list', '-r', '-n', '-o', 'NS,TYPE,CONTAINER', '-t', 'net'], { encoding: 'utf8', maxBuffer: 64 << 20 });
  t.match(raw.stdout, new RegExp(`^${ino(pause.pid, 'net')} net ${short(lowest)}\\\\x20\\+2$`, 'm'), 'raw: the pod net row');
  t.match(raw.stdout, new RegExp(`^${ino(hostProc.pid, 'net')} net $`, 'm'), 'raw: the host process net row, empty');

  // The report.
  const r = spawnSync(process.execPath, [cli, 'report', '--hostname', HOST], { encoding: 'utf8', maxBuffer: 256 << 20 });
  t.equal(r.status, 0, `report exits 0 ${r.stderr.slice(0, 500)}`);
  const report = JSON.parse(r.stdout) as ScopeReport;
  t.same(reportProblems(report, 'host-namespaces'), [], 'schema-valid');
  const table = tableRows(report, HOST);
  for (const [ns, cell] of expected) t.equal(table.get(String(ns))?.['container'], cell === '' ? undefined : cell, `Host table: ${ns} Container ${cell || '(no cell)'}`);

  const container = (cid: string) => report.Container?.nodes[`${cid};<container>`]?.latest ?? {};
  const ri = spawnSync(process.execPath, [cli, 'report', '--hostname', HOST, '--process-nodes', 'isolated'], { encoding: 'utf8', maxBuffer: 256 << 20 });
  t.equal(ri.status, 0, `report --process-nodes isolated exits 0 ${ri.stderr.slice(0, 500)}`);
  const isolatedMode = JSON.parse(ri.stdout) as ScopeReport;
  // Each container here is one process in its container's namespaces: by default the Container
  // node shows them and the process has no node; with --process-nodes isolated it has one.
  const proc = (pid: number) => isolatedMode.Process?.nodes[`${HOST};${pid}`]?.latest ?? {};
  const cases: Array<[string, number, string, string]> = [
    ['default', dflt.pid, id.default, 'isolated'],
    ['--net=host', netHost.pid, id.netHost, 'net'],
    ['--pid=host', pidHost.pid, id.pidHost, 'pid'],
    ['pause', pause.pid, id.pause, 'isolated'],
    ['app1', app1.pid, id.app1, 'isolated'],
    ['app2', app2.pid, id.app2, 'isolated'],
  ];
  for (const [name, pid, cid, shared] of cases) {
    t.equal(container(cid)[META.shared]?.value, shared, `Container ${name}: Host namespaces ${shared}`);
    t.equal(container(cid)[META.sharedDefault]?.value, 'user, cgroup, time', `Container ${name}: shared by default`);
    t.equal(proc(pid)[META.shared]?.value, shared, `Process ${name} (${pid}): Host namespaces ${shared}`);
    t.equal(proc(pid)[META.container]?.value, short(cid), `Process ${name}: its container`);
    t.equal(report.Process?.nodes[`${HOST};${pid}`], undefined, `Process ${name}: no node by default`);
  }
  t.equal(proc(hostProc.pid)[META.shared]?.value, 'pid, ipc, uts, mnt', 'host process in its own net');
  t.equal(proc(hostProc.pid)[META.container], undefined, 'host process: no container');
  t.equal(report.Process?.nodes[`${HOST};${hostProc.pid}`]?.latest[META.shared]?.value, 'pid, ipc, uts, mnt', 'by default too: it is in no container');

  // Host summary: ours among the containers in the host's net / pid, never the isolated ones.
  const host = report.Host?.nodes[`${HOST};<host>`]?.latest ?? {};
  t.match(host[HOST_META.types]?.value ?? '', /^mnt \d+, net \d+, pid \d+, uts \d+, ipc \d+, user \d+, cgroup \d+, time \d+$/);
  for (const [type, mine] of [
    ['net', id.netHost],
    ['pid', id.pidHost],
    ['ipc', null],
  ] as const) {
    const value = host[HOST_META[type]]?.value ?? '';
    const m = /^(\d+): (.*)$/.exec(value);
    if (mine !== null) t.ok(m, `Containers in host ${type}: '${value}'`);
    const ids = m?.[2]?.split(', ') ?? [];
    const truncated = / more$/.test(ids[ids.length - 1] ?? '');
    if (mine !== null && !truncated) t.ok(ids.includes(short(mine)), `host ${type}: lists ${short(mine)}`);
    if (mine !== null && truncated) t.comment(`host ${type}: list truncated by other containers on this machine (${value})`);
    for (const other of Object.values(id)) if (other !== mine) t.notOk(ids.includes(short(other)), `host ${type}: not ${short(other)}`);
  }

  const left = await lab.cleanup();
  t.same(left.leftDirs, [], 'every cgroup directory created was removed');
  t.same(left.leftPids, [], `every process started (${lab.started.length}) is gone`);
});
