/**
 * A container host for benchmarks, made by hand: C "containers", each P sleeping processes in new
 * mnt, net, pid, uts and ipc namespaces of their own (user, cgroup and time the host's, as a
 * default Docker container has them), moved into a cgroup directory shaped like Docker's
 * cgroupfs driver (`<cgroup2 mount>/snb-<pid>/docker/<64 hex>`), so that /proc/<pid>/cgroup names
 * the container as Docker's would.
 *
 * Each container is `unshare --pid --fork ... sh -c '<P-1 sleeps in the background>; exec sleep'`:
 * once its processes exist, the unshare parent (new net/uts/ipc/mnt, the host's pid namespace:
 * not a process a container host has) is killed, so every process left is one of a container's.
 * Cleanup kills every process by pid, waits for them to be gone and removes the directories.
 *
 * With an fd scenario (fds.ts) every container process inherits the N fds from the unshare
 * parent's stdio, and the shell closes fd 3 (the namespace fd: the first container's net
 * namespace, opened once it exists) in all but 1 in M of them.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FD_KIND_TEXT, FdSources, holdsNsFd, NO_FDS, NS_FD_SLOT, sleeperStdio, type FdFigures, type FdScenario } from './fds.js';

export interface FakeContainers {
  /** Container id -> its processes' pids. */
  containers: Map<string, number[]>;
  /** What the fd scenario gave their processes; null: no fds added. */
  fds: FdFigures | null;
  cleanup(): void;
}

/**
 * The shell a container's pid-namespace init runs: `per - 1` sleeps in the background, then exec
 * sleep itself. With `ns` (the container's first process's index among all made, and M), each
 * process whose index is not the last of every M closes fd 3 (the namespace fd) for itself.
 */
export function containerScript(per: number, lifetimeSec: number, ns: { base: number; every: number } | null = null): string {
  if (ns === null) return `i=1; while [ $i -lt ${per} ]; do sleep ${lifetimeSec} & i=$((i+1)); done; exec sleep ${lifetimeSec}`;
  const close = `${NS_FD_SLOT}<&-`;
  const holds = `[ $(( (${ns.base} + i) % ${ns.every} )) -eq ${ns.every - 1} ]`;
  const last = holdsNsFd(ns.base, ns.every) ? '' : ` ${close}`;
  return `i=1; while [ $i -lt ${per} ]; do if ${holds}; then sleep ${lifetimeSec} & else sleep ${lifetimeSec} ${close} & fi; i=$((i+1)); done; exec sleep ${lifetimeSec}${last}`;
}

function mountOf(fstype: string): string | null {
  for (const line of fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep >= 0 && line.slice(sep + 3).split(' ')[0] === fstype) return line.split(' ')[4] ?? null;
  }
  return null;
}

function childrenOf(pid: number): number[] {
  const out: number[] = [];
  let tasks: string[];
  try {
    tasks = fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tasks) {
    try {
      for (const c of fs.readFileSync(`/proc/${pid}/task/${tid}/children`, 'latin1').trim().split(/\s+/)) if (c !== '') out.push(Number(c));
    } catch {
      /* the task ended */
    }
  }
  return out;
}

const sleepMs = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function killPids(pids: Iterable<number>): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
}

/** Makes `count` containers of `per` processes each; rejects (after cleaning up) when it cannot. */
export async function spawnContainers(count: number, per: number, lifetimeSec = 900, fdScenario: FdScenario = NO_FDS): Promise<FakeContainers> {
  if (!Number.isInteger(count) || count < 1 || !Number.isInteger(per) || per < 1 || count * per > 20000) throw new Error(`containers x processes must be 1..20000, got ${count} x ${per}`);
  const v2 = mountOf('cgroup2');
  if (v2 === null) throw new Error('no cgroup2 hierarchy mounted: the container scenario needs one');
  const base = path.join(v2, `snb-${process.pid}`);
  const containers = new Map<string, number[]>();
  const dirs: string[] = [base, path.join(base, 'docker')];
  const all = new Set<number>();
  const sources = fdScenario.fds > 0 ? FdSources.open() : null;
  const fds: FdFigures | null = sources === null ? null : { fds: fdScenario.fds, nsFdEvery: fdScenario.nsFdEvery, kinds: Object.values(FD_KIND_TEXT), processes: 0, nsFdHolders: 0, nsFdTargets: [] };
  let nsFd: number | null = null;
  const cleanup = (): void => {
    sources?.close();
    killPids(all);
    const deadline = Date.now() + 10_000;
    for (const pid of all) while (fs.existsSync(`/proc/${pid}/stat`) && !/\) Z /.test(safeStat(pid)) && Date.now() < deadline) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
    for (const dir of [...dirs].reverse()) {
      try {
        fs.rmdirSync(dir);
      } catch {
        /* a process not yet reaped; it dies by itself after lifetimeSec */
      }
    }
  };
  process.once('exit', cleanup);
  try {
    fs.mkdirSync(path.join(base, 'docker'), { recursive: true });
    for (let c = 0; c < count; c++) {
      // Process j of container c is the (c x per + j)-th made; j 0 is the pid-namespace init.
      const ns = nsFd === null ? null : { base: c * per, every: fdScenario.nsFdEvery };
      const script = containerScript(per, lifetimeSec, ns);
      const stdio = sources === null ? 'ignore' : sleeperStdio(sources.byKind, fdScenario.fds, nsFd);
      const id = randomBytes(32).toString('hex');
      const dir = path.join(base, 'docker', id);
      fs.mkdirSync(dir);
      dirs.push(dir);
      const parent = spawn('unshare', ['--mount', '--net', '--uts', '--ipc', '--pid', '--fork', 'sh', '-c', script], { stdio });
      parent.on('error', () => {});
      if (parent.pid === undefined) throw new Error('unshare did not start');
      all.add(parent.pid);
      // Wait for the inner shell to have become sleep with its P-1 children.
      const deadline = Date.now() + 30_000;
      let pids: number[] = [];
      for (;;) {
        const [init] = childrenOf(parent.pid);
        if (init !== undefined) {
          const kids = childrenOf(init);
          if (kids.length >= per - 1 && safeStat(init).includes('(sleep)')) {
            pids = [init, ...kids];
            break;
          }
        }
        if (Date.now() > deadline) throw new Error(`container ${c}: its ${per} processes did not start within 30 s`);
        await sleepMs(5);
      }
      for (const pid of pids) all.add(pid);
      for (const pid of pids) fs.writeFileSync(path.join(dir, 'cgroup.procs'), `${pid}\n`);
      process.kill(parent.pid, 'SIGKILL');
      containers.set(id, pids);
      if (fds !== null) {
        fds.processes += pids.length;
        if (ns !== null) for (let j = 0; j < per; j++) if (holdsNsFd(ns.base + j, ns.every)) fds.nsFdHolders++;
        if (sources !== null && nsFd === null && fdScenario.nsFdEvery > 0) {
          const opened = sources.openNetNs(pids[0] ?? parent.pid);
          nsFd = opened.fd;
          fds.nsFdTargets.push(opened.link);
        }
      }
    }
  } catch (err) {
    cleanup();
    throw err;
  }
  return { containers, fds, cleanup };
}

function safeStat(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return '';
  }
}
