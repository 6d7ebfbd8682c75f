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
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface FakeContainers {
  /** Container id -> its processes' pids. */
  containers: Map<string, number[]>;
  cleanup(): void;
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
export async function spawnContainers(count: number, per: number, lifetimeSec = 900): Promise<FakeContainers> {
  if (!Number.isInteger(count) || count < 1 || !Number.isInteger(per) || per < 1 || count * per > 20000) throw new Error(`containers x processes must be 1..20000, got ${count} x ${per}`);
  const v2 = mountOf('cgroup2');
  if (v2 === null) throw new Error('no cgroup2 hierarchy mounted: the container scenario needs one');
  const base = path.join(v2, `snb-${process.pid}`);
  const containers = new Map<string, number[]>();
  const dirs: string[] = [base, path.join(base, 'docker')];
  const all = new Set<number>();
  const cleanup = (): void => {
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
    const script = `i=1; while [ $i -lt ${per} ]; do sleep ${lifetimeSec} & i=$((i+1)); done; exec sleep ${lifetimeSec}`;
    for (let c = 0; c < count; c++) {
      const id = randomBytes(32).toString('hex');
      const dir = path.join(base, 'docker', id);
      fs.mkdirSync(dir);
      dirs.push(dir);
      const parent = spawn('unshare', ['--mount', '--net', '--uts', '--ipc', '--pid', '--fork', 'sh', '-c', script], { stdio: 'ignore' });
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
    }
  } catch (err) {
    cleanup();
    throw err;
  }
  return { containers, cleanup };
}

function safeStat(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return '';
  }
}
