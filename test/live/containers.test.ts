/**
 * Live: processes placed in cgroups shaped like each container runtime's, in real namespaces, and
 * the report `scope-namespaces report` makes of the live /proc.
 *
 * The cgroup directories are created here, under `<cgroup2 mount>/snt-<pid>/` (and, on a hybrid
 * host, under the v1 `pids` hierarchy), and only processes this test started are moved into them.
 * Cleanup moves every one back to the hierarchy's root, kills it by pid, waits for it to be gone
 * and removes every directory it created, deepest first; it then checks that nothing is left.
 *
 * Container "sharing" is `docker run --net=host --pid=host` made by hand: a process in the host's
 * net and pid namespaces but new mnt, uts, ipc, user, cgroup and time namespaces. Container
 * "isolated" has all eight namespaces new. Needs root, util-linux unshare, a writable cgroup2.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { NS_TYPES, type NsType } from '../../src/procfs/types.js';
import type { ScopeReport } from '../../src/scope/report.js';
import { reportProblems } from '../../src/scope/schema.js';
import { META, NS_TABLE_PREFIX, PROC_TABLE_PREFIX } from '../../src/scope/topologies.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const OURS = path.join(ROOT, 'dist/cli/main.js');
const HOST = 'live-host';

function mountOf(fstype: string, option?: string): string | null {
  for (const line of fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const [type, , superOpts] = line.slice(sep + 3).split(' ');
    if (type !== fstype) continue;
    if (option !== undefined && !(superOpts ?? '').split(',').includes(option)) continue;
    return line.split(' ')[4] ?? null;
  }
  return null;
}

const v2 = mountOf('cgroup2');
const v1pids = mountOf('cgroup', 'pids');

function skipReason(): string | null {
  if (process.getuid?.() !== 0) return 'not root';
  if (spawnSync('sh', ['-c', 'command -v unshare']).status !== 0) return 'unshare is not installed';
  if (!fs.existsSync('/proc/self/ns/time')) return 'no time namespaces in this kernel';
  if (!v2) return 'no cgroup2 hierarchy mounted';
  if (!fs.existsSync(OURS)) return 'dist/ is not built';
  try {
    const probe = path.join(v2, `snt-probe-${process.pid}`);
    fs.mkdirSync(probe);
    fs.rmdirSync(probe);
  } catch (e) {
    return `cannot create cgroups under ${v2}: ${(e as Error).message}`;
  }
  return null;
}

const hex64 = (): string => randomBytes(32).toString('hex');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const inode = (pid: number, type: NsType): number => Number(/\[(\d+)\]/.exec(fs.readlinkSync(`/proc/${pid}/ns/${type}`))?.[1]);
const alive = (pid: number): boolean => {
  try {
    return !/^\S+ \(.*\) Z/s.test(fs.readFileSync(`/proc/${pid}/stat`, 'latin1'));
  } catch {
    return false;
  }
};

interface Placed {
  /** The process in the container's namespaces (what goes into the cgroup). */
  pid: number;
  /** Every process started for it (unshare and its child), killed at cleanup. */
  all: number[];
}

const skip = skipReason();
t.test('containers recognised in every runtime layout, with host-namespace sharing', { skip: skip ?? false }, async (t) => {
  if (!v2) return;
  const base = `snt-${process.pid}`;
  const created: string[] = [];
  const children: ChildProcess[] = [];
  const started: number[] = [];
  const placedIn = new Map<number, string>();

  const mkCgroup = (root: string, rel: string): string => {
    let dir = root;
    for (const part of rel.split('/')) {
      dir = path.join(dir, part);
      if (!fs.existsSync(dir)) {
        fs.mkdirSync(dir);
        created.push(dir);
      }
    }
    return dir;
  };
  const place = (pid: number, root: string, rel: string): void => {
    fs.writeFileSync(path.join(mkCgroup(root, rel), 'cgroup.procs'), String(pid));
    placedIn.set(pid, root);
  };
  /** Starts `args`; with `fork`, waits for unshare's child and returns it as the process. */
  const start = async (args: string[], fork: boolean): Promise<Placed> => {
    const child = spawn(args[0] ?? 'false', args.slice(1), { stdio: 'ignore' });
    children.push(child);
    const pid = child.pid;
    if (pid === undefined) throw new Error(`cannot start ${args.join(' ')}`);
    started.push(pid);
    if (!fork) {
      await sleep(50);
      return { pid, all: [pid] };
    }
    for (let i = 0; i < 200; i++) {
      let kids: number[] = [];
      try {
        kids = fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
      } catch {
        /* not yet */
      }
      const kid = kids[0];
      if (kid !== undefined) {
        started.push(kid);
        // Wait for the exec: the child's namespaces are final once it runs sleep.
        for (let j = 0; j < 100 && !fs.readFileSync(`/proc/${kid}/cmdline`, 'latin1').startsWith('sleep'); j++) await sleep(10);
        return { pid: kid, all: [pid, kid] };
      }
      await sleep(10);
    }
    throw new Error(`unshare ${pid} did not fork`);
  };

  let cleaned: Promise<{ leftDirs: string[]; leftPids: number[] }> | null = null;
  const cleanup = (): Promise<{ leftDirs: string[]; leftPids: number[] }> => (cleaned ??= doCleanup());
  // A backup for a failure half-way; the normal path cleans up and checks at the end of the test.
  t.teardown(async () => {
    await cleanup();
  });
  const doCleanup = async (): Promise<{ leftDirs: string[]; leftPids: number[] }> => {
    // Move every process we placed back to its hierarchy's root, then kill ours by pid.
    for (const [pid, root] of placedIn) {
      try {
        fs.writeFileSync(path.join(root, 'cgroup.procs'), String(pid));
      } catch {
        /* already gone */
      }
    }
    for (const pid of [...started].reverse()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    await Promise.all(children.map((c) => (c.exitCode !== null || c.signalCode !== null ? Promise.resolve() : new Promise((r) => c.once('exit', r)))));
    for (let i = 0; i < 100 && started.some(alive); i++) await sleep(20);
    const leftDirs: string[] = [];
    for (const dir of [...created].reverse()) {
      for (let i = 0; i < 50; i++) {
        try {
          fs.rmdirSync(dir);
          break;
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === 'ENOENT') break;
          await sleep(20);
        }
      }
      if (fs.existsSync(dir)) leftDirs.push(dir);
    }
    return { leftDirs, leftPids: started.filter(alive) };
  };

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

  place(sharing.pid, v2, `${base}/system.slice/docker-${id.sharing}.scope`);
  place(isolated.pid, v2, `${base}/docker/${id.isolated}`);
  place(containerd.pid, v2, `${base}/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${uidU}.slice/cri-containerd-${id.containerd}.scope`);
  place(kubeCgroupfs.pid, v2, `${base}/kubepods/besteffort/pod${uid}/${id.kubeCgroupfs}`);
  place(crio.pid, v2, `${base}/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${uidU}.slice/crio-${id.crio}.scope`);
  place(podman.pid, v2, `${base}/machine.slice/libpod-${id.podman}.scope/container`);
  place(conmon.pid, v2, `${base}/machine.slice/libpod-conmon-${id.podman}.scope`);
  if (v1 && v1pids) place(v1.pid, v1pids, `${base}/docker/${id.v1}`);

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
  t.equal(c(id.sharing)[META.runtime]?.value, 'docker');
  t.equal(c(id.sharing)[`${NS_TABLE_PREFIX}1-net___hns-host`]?.value, 'yes');
  t.equal(c(id.sharing)[`${NS_TABLE_PREFIX}3-uts___hns-host`]?.value, 'no');
  t.equal(c(id.sharing)[`${NS_TABLE_PREFIX}3-uts___hns-ino`]?.value, String(inode(sharing.pid, 'uts')));
  t.equal(c(id.isolated)[META.shared]?.value, 'none', 'a fully isolated container shares nothing');
  t.equal(c(id.isolated)[META.runtime]?.value, 'docker', 'docker cgroupfs layout');
  t.equal(c(id.containerd)[META.runtime]?.value, 'containerd');
  t.equal(c(id.containerd)[META.pod]?.value, uid);
  t.equal(c(id.containerd)[META.shared]?.value, 'all');
  t.equal(c(id.kubeCgroupfs)[META.runtime]?.value, 'kubernetes');
  t.equal(c(id.kubeCgroupfs)[META.pod]?.value, uid);
  t.equal(c(id.crio)[META.runtime]?.value, 'cri-o');
  t.equal(c(id.podman)[META.runtime]?.value, 'podman');
  t.equal(c(id.podman)[META.shared]?.value, 'mnt, net, pid, user, cgroup, time');
  t.equal(c(id.podman)[META.procs]?.value, '1', 'conmon is not counted in the container');
  if (v1) t.equal(c(id.v1)[META.runtime]?.value, 'docker', 'cgroup v1 pids hierarchy (hybrid host)');
  else t.comment('no v1 pids hierarchy: the v1 layout is covered by fixtures only');
  for (const [name, cid] of Object.entries(id)) {
    if (name === 'v1' && !v1) continue;
    t.equal(c(cid)[META.procs]?.value, '1', `${name}: one process`);
  }

  // Process nodes show all namespaces of their process, and which are the host's.
  const procs = report.Process?.nodes ?? {};
  for (const [name, p] of Object.entries({ sharing, isolated, podman, conmon })) {
    const latest = procs[`${HOST};${p.pid}`]?.latest ?? {};
    for (const type of NS_TYPES) {
      const ino = inode(p.pid, type);
      const host = ino === inode(2, type);
      t.equal(latest[PROC_TABLE_PREFIX + type]?.value, host ? `${ino} (host)` : String(ino), `process ${name} (${p.pid}): ${type}`);
    }
  }
  t.equal(procs[`${HOST};${sharing.pid}`]?.latest[META.shared]?.value, 'net, pid');
  t.equal(procs[`${HOST};${sharing.pid}`]?.latest[META.container]?.value, id.sharing.slice(0, 12));
  t.equal(procs[`${HOST};${conmon.pid}`]?.latest[META.container], undefined, 'conmon: no container');
  t.equal(procs[`${HOST};${process.pid}`]?.latest[META.shared]?.value, 'all', 'this test runner: all host namespaces');
  t.ok(Object.keys(procs).length > 10, `${Object.keys(procs).length} process nodes`);

  const left = await cleanup();
  t.same(left.leftDirs, [], `every cgroup directory created (${created.length}) was removed`);
  t.same(left.leftPids, [], `every process started (${started.length}) is gone`);
});
