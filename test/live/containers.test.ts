/**
 * Live: processes placed in cgroups shaped like each container runtime's, in real namespaces, and
 * the report `scope-namespaces report` makes of the live /proc.
 *
 * The cgroup directories and processes are made by test/support/cgroups.ts (CgroupLab), under
 * `<cgroup2 mount>/<run tag>-containers-<pid>-<random>/` (and, on a hybrid host, under the v1 `pids`
 * hierarchy); only processes this test started are moved into them. Cleanup moves every one back,
 * kills it by pid, removes every directory, deepest first; the test then checks nothing is left.
 *
 * Container "sharing" is `docker run --net=host --pid=host` made by hand: a process in the host's
 * net and pid namespaces but new mnt, uts, ipc, user, cgroup and time namespaces. Container
 * "isolated" has all eight namespaces new. Needs root, util-linux unshare, a writable cgroup2.
 */
import { spawnSync } from 'node:child_process';
import t from 'tap';
import { NS_TYPES } from '../../src/procfs/types.js';
import type { ScopeReport } from '../../src/scope/report.js';
import { reportProblems } from '../../src/scope/schema.js';
import { PROC_TABLE_PREFIX } from '../../src/scope/ns-list.js';
import { META } from '../../src/scope/topologies.js';
import { CgroupLab, cgroupSkipReason, cgroupV1Pids as v1pids, cgroupV2 as v2, hex64, nsInodeOf as inode } from '../support/cgroups.js';
import { cli as OURS } from '../support/daemon.js';

const HOST = 'live-host';

const skip = cgroupSkipReason();
t.test('containers recognised in every runtime layout, with host-namespace sharing', { skip: skip ?? false }, async (t) => {
  if (!v2) return;
  const lab = new CgroupLab('containers');
  // A backup for a failure half-way; the normal path cleans up and checks at the end of the test.
  t.teardown(async () => {
    await lab.cleanup();
  });
  const start = (args: string[], fork: boolean) => lab.start(args, fork);
  const place = (pid: number, root: string, rel: string) => lab.place(pid, root, rel);

  const id = { sharing: hex64(), isolated: hex64(), containerd: hex64(), kubeCgroupfs: hex64(), crio: hex64(), podman: hex64(), v1: hex64() };
  const uid = '0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9';
  const uidU = uid.replace(/-/g, '_');
  const SLEEP = ['sleep', '300'];

  const sharing = await start(['unshare', '--fork', '--kill-child', '--mount', '--uts', '--ipc', '--user', '--map-root-user', '--cgroup', '--time', ...SLEEP], true);
  const isolated = await start(['unshare', '--fork', '--kill-child', '--pid', '--net', '--mount', '--uts', '--ipc', '--user', '--map-root-user', '--cgroup', '--time', ...SLEEP], true);
  const containerd = await start(SLEEP, false);
  const kubeCgroupfs = await start(SLEEP, false);
  const crio = await start(SLEEP, false);
  const podman = await start(['unshare', '--uts', '--ipc', ...SLEEP], false);
  const conmon = await start(SLEEP, false);
  const v1 = v1pids ? await start(['unshare', '--net', ...SLEEP], false) : null;

  place(sharing.pid, v2, `system.slice/docker-${id.sharing}.scope`);
  place(isolated.pid, v2, `docker/${id.isolated}`);
  place(containerd.pid, v2, `kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${uidU}.slice/cri-containerd-${id.containerd}.scope`);
  place(kubeCgroupfs.pid, v2, `kubepods/besteffort/pod${uid}/${id.kubeCgroupfs}`);
  place(crio.pid, v2, `kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${uidU}.slice/crio-${id.crio}.scope`);
  place(podman.pid, v2, `machine.slice/libpod-${id.podman}.scope/container`);
  place(conmon.pid, v2, `machine.slice/libpod-conmon-${id.podman}.scope`);
  if (v1 && v1pids) place(v1.pid, v1pids, `docker/${id.v1}`);

  // What the kernel says, before the report is made.
  for (const type of NS_TYPES) {
    const hostNs = inode(2, type);
    const s = inode(sharing.pid, type);
    t.equal(s === hostNs, type === 'net' || type === 'pid', `setup: sharing's ${type} is ${type === 'net' || type === 'pid' ? '' : 'not '}the host's`);
    t.not(inode(isolated.pid, type), hostNs, `setup: isolated's ${type} is new`);
  }

  const r = spawnSync(process.execPath, [OURS, 'report', '--hostname', HOST], { maxBuffer: 256 << 20, encoding: 'utf8' });
  t.equal(r.status, 0, `report exits 0 ${r.stderr.slice(0, 500)}`);
  const report = JSON.parse(r.stdout) as ScopeReport;
  t.same(reportProblems(report, 'host-namespaces'), [], 'the probe rules (schema) take the live report');
  const containers = report.Container?.nodes ?? {};
  const c = (cid: string) => containers[`${cid};<container>`]?.latest ?? {};

  t.equal(c(id.sharing)[META.shared]?.value, 'net, pid', 'a container in the host pid and net namespaces says exactly that');
  t.equal(c(id.sharing)[META.sharedDefault], undefined, 'own user, cgroup and time namespaces');
  t.equal(c(id.sharing)[META.runtime]?.value, 'docker');
  t.equal(c(id.sharing)[`${PROC_TABLE_PREFIX}net`]?.value, `${inode(2, 'net')} (host)`);
  t.equal(c(id.sharing)[`${PROC_TABLE_PREFIX}uts`]?.value, String(inode(sharing.pid, 'uts')));
  t.equal(c(id.sharing)[`${PROC_TABLE_PREFIX}time`]?.value, String(inode(sharing.pid, 'time')), 'its own time namespace is shown');
  t.equal(c(id.containerd)[`${PROC_TABLE_PREFIX}time`], undefined, "the host's time namespace is named by 'Shared with host by default' instead");
  t.equal(c(id.containerd)[`${PROC_TABLE_PREFIX}net`]?.value, `${inode(2, 'net')} (host)`);
  t.equal(c(id.isolated)[META.shared]?.value, 'isolated', 'a fully isolated container shares nothing');
  t.equal(c(id.isolated)[META.runtime]?.value, 'docker', 'docker cgroupfs layout');
  t.equal(c(id.containerd)[META.runtime]?.value, 'containerd');
  t.equal(c(id.containerd)[META.pod]?.value, uid);
  t.equal(c(id.containerd)[META.shared]?.value, 'net, pid, ipc, uts, mnt', 'a process left in every host namespace');
  t.equal(c(id.containerd)[META.sharedDefault]?.value, 'user, cgroup, time');
  t.equal(c(id.kubeCgroupfs)[META.runtime]?.value, 'kubernetes');
  t.equal(c(id.kubeCgroupfs)[META.pod]?.value, uid);
  t.equal(c(id.crio)[META.runtime]?.value, 'cri-o');
  t.equal(c(id.podman)[META.runtime]?.value, 'podman');
  t.equal(c(id.podman)[META.shared]?.value, 'net, pid, mnt', 'own uts and ipc only');
  t.equal(c(id.podman)[META.sharedDefault]?.value, 'user, cgroup, time');
  t.equal(c(id.podman)[META.procs]?.value, '1', 'conmon is not counted in the container');
  if (v1) t.equal(c(id.v1)[META.runtime]?.value, 'docker', 'cgroup v1 pids hierarchy (hybrid host)');
  else t.comment('no v1 pids hierarchy: the v1 layout is covered by fixtures only');
  for (const [name, cid] of Object.entries(id)) {
    if (name === 'v1' && !v1) continue;
    t.equal(c(cid)[META.procs]?.value, '1', `${name}: one process`);
  }

  // By default a process in a container gets no node of its own when its namespaces are its
  // container's (each container here has one process: they all are).
  for (const [name, p] of Object.entries({ sharing, isolated, containerd, kubeCgroupfs, crio, podman })) {
    t.equal(report.Process?.nodes[`${HOST};${p.pid}`], undefined, `process ${name}: shown by its Container node`);
  }
  // With --process-nodes isolated, Process nodes (processes in a container or in a non-host
  // namespace) show all namespaces of their process, and which are the host's.
  const ri = spawnSync(process.execPath, [OURS, 'report', '--hostname', HOST, '--process-nodes', 'isolated'], { maxBuffer: 256 << 20, encoding: 'utf8' });
  t.equal(ri.status, 0, `report --process-nodes isolated exits 0 ${ri.stderr.slice(0, 500)}`);
  const procs = (JSON.parse(ri.stdout) as ScopeReport).Process?.nodes ?? {};
  for (const [name, p] of Object.entries({ sharing, isolated, podman })) {
    const latest = procs[`${HOST};${p.pid}`]?.latest ?? {};
    for (const type of NS_TYPES) {
      const ino = inode(p.pid, type);
      const host = ino === inode(2, type);
      t.equal(latest[PROC_TABLE_PREFIX + type]?.value, host ? `${ino} (host)` : String(ino), `process ${name} (${p.pid}): ${type}`);
    }
  }
  t.equal(procs[`${HOST};${sharing.pid}`]?.latest[META.shared]?.value, 'net, pid');
  t.equal(procs[`${HOST};${sharing.pid}`]?.latest[META.container]?.value, id.sharing.slice(0, 12));
  // conmon (no container) and this test runner are in the host's namespaces only: no node; they
  // are counted on the Host node.
  t.equal(procs[`${HOST};${conmon.pid}`], undefined, 'conmon: host namespaces only, no container: no Process node');
  t.equal(procs[`${HOST};${process.pid}`], undefined, 'this test runner: no Process node');
  const hostOnly = Number(report.Host?.nodes[`${HOST};<host>`]?.latest[META.hostOnly]?.value);
  t.ok(hostOnly >= 2, `host-only processes counted on the Host node (${hostOnly})`);
  t.ok(Object.keys(procs).length >= 6, `${Object.keys(procs).length} process nodes`);

  const left = await lab.cleanup();
  t.same(left.leftDirs, [], 'every cgroup directory created was removed');
  t.same(left.leftPids, [], `every process started (${lab.started.length}) is gone`);
});
