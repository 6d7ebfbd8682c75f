/**
 * Live tests with containers made by hand: processes started with unshare/nsenter in real
 * namespaces and moved into cgroup directories shaped like each container runtime's.
 *
 * Directories are created under `<cgroup2 mount>/<run tag>-<name>-<pid>-<random>/` (and, for the
 * v1 layout, under the v1 `pids` hierarchy), and only processes the test started are moved into
 * them. cleanup() moves every one back to its hierarchy's root, kills every started process by pid,
 * waits for them to be gone and removes every directory created, deepest first; it reports what is
 * left. The same is done synchronously at exit or when the test is stopped by a signal, and every
 * process is started under `setpriv --pdeathsig KILL` (test/support/tag.ts), so it dies with the
 * test even when that is killed.
 * Needs root, util-linux unshare and nsenter, a writable cgroup2.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { NsType } from '../../src/procfs/types.js';
import { cli } from './daemon.js';
import { mortal, onAbort, sleepSync, taggedName, type AbortCleanup } from './tag.js';

/** Mount point of the first mount of `fstype` (with `option` among its super options). */
export function mountOf(fstype: string, option?: string): string | null {
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

export const cgroupV2 = mountOf('cgroup2');
export const cgroupV1Pids = mountOf('cgroup', 'pids');

/** Why the live container tests cannot run here, or null. */
export function cgroupSkipReason(): string | null {
  if (process.getuid?.() !== 0) return 'not root';
  for (const tool of ['unshare', 'nsenter']) if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) return `${tool} is not installed`;
  if (!fs.existsSync('/proc/self/ns/time')) return 'no time namespaces in this kernel';
  if (!cgroupV2) return 'no cgroup2 hierarchy mounted';
  if (!fs.existsSync(cli)) return 'dist/ is not built';
  try {
    const probe = path.join(cgroupV2, taggedName(`probe-${process.pid}-${randomBytes(4).toString('hex')}`));
    fs.mkdirSync(probe);
    fs.rmdirSync(probe);
  } catch (e) {
    return `cannot create cgroups under ${cgroupV2}: ${(e as Error).message}`;
  }
  return null;
}

/** A random 64-hex container id: unique per run, so concurrent runs never share one. */
export const hex64 = (): string => randomBytes(32).toString('hex');
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The namespace inode of a process, as the kernel shows it (`net:[4026531840]`). */
export function nsInodeOf(pid: number, type: NsType): number {
  const m = /\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/ns/${type}`));
  if (!m?.[1]) throw new Error(`cannot read /proc/${pid}/ns/${type}`);
  return Number(m[1]);
}

/** Alive and not a zombie. */
export function alive(pid: number): boolean {
  try {
    return !/^\S+ \(.*\) Z/s.test(fs.readFileSync(`/proc/${pid}/stat`, 'latin1'));
  } catch {
    return false;
  }
}

export interface Placed {
  /** The process in the container's namespaces (what goes into the cgroup). */
  pid: number;
  /** Every process started for it (unshare and its child), killed at cleanup. */
  all: number[];
}

export interface LabLeft {
  leftDirs: string[];
  leftPids: number[];
}

/** How long a started process may take to exec its payload: a bound for a stuck start, not a speed assumption. */
const START_LIMIT_MS = 60_000;

function cmdlineStarts(pid: number, prefix: string): boolean {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'latin1').startsWith(prefix + '\0');
  } catch {
    return false;
  }
}

export class CgroupLab {
  readonly base: string;
  private readonly created: string[] = [];
  private readonly children: ChildProcess[] = [];
  readonly started: number[] = [];
  private readonly placedIn = new Map<number, string>();
  private cleaned: Promise<LabLeft> | null = null;
  private readonly abort: AbortCleanup;

  constructor(name: string) {
    this.base = taggedName(`${name}-${process.pid}-${randomBytes(3).toString('hex')}`);
    this.abort = onAbort(() => {
      this.cleanupSync();
    });
  }

  /** Creates `<root>/<base>/<rel>` (and its parents), remembering what it created. */
  mkCgroup(root: string, rel: string): string {
    let dir = root;
    for (const part of `${this.base}/${rel}`.split('/')) {
      dir = path.join(dir, part);
      if (!fs.existsSync(dir)) {
        fs.mkdirSync(dir);
        this.created.push(dir);
      }
    }
    return dir;
  }

  /** Moves `pid` into `<root>/<base>/<rel>`. */
  place(pid: number, root: string, rel: string): void {
    fs.writeFileSync(path.join(this.mkCgroup(root, rel), 'cgroup.procs'), String(pid));
    this.placedIn.set(pid, root);
  }

  /**
   * Starts `args`, whose payload is `sleep`. With `fork` (unshare --fork, possibly after nsenter,
   * which execs), the payload is the started process's child; otherwise the process itself once it
   * has exec'd sleep. Returns when the payload runs sleep: its namespaces are final then.
   */
  async start(args: string[], fork: boolean): Promise<Placed> {
    // Spawned by node itself: the death signal is sent when its parent, this process, dies.
    const child = spawn(...mortal(args[0] ?? 'false', args.slice(1)), { stdio: 'ignore' });
    this.children.push(child);
    const pid = child.pid;
    if (pid === undefined) throw new Error(`cannot start ${args.join(' ')}`);
    this.started.push(pid);
    const deadline = Date.now() + START_LIMIT_MS;
    while (Date.now() < deadline) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${args.join(' ')} exited (${child.exitCode ?? child.signalCode})`);
      if (!fork) {
        if (cmdlineStarts(pid, 'sleep')) return { pid, all: [pid] };
      } else {
        let kids: number[] = [];
        try {
          kids = fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
        } catch {
          /* not yet */
        }
        const kid = kids[0];
        if (kid !== undefined) {
          if (!this.started.includes(kid)) this.started.push(kid);
          if (cmdlineStarts(kid, 'sleep')) return { pid: kid, all: [pid, kid] };
        }
      }
      await sleep(10);
    }
    throw new Error(`${args.join(' ')}: sleep not running after ${START_LIMIT_MS} ms`);
  }

  /** Idempotent: moves placed processes back, kills every started one by pid, removes the directories. */
  cleanup(): Promise<LabLeft> {
    return (this.cleaned ??= this.doCleanup());
  }

  private moveBackAndKill(): void {
    for (const [pid, root] of this.placedIn) {
      try {
        fs.writeFileSync(path.join(root, 'cgroup.procs'), String(pid));
      } catch {
        /* already gone */
      }
    }
    for (const pid of [...this.started].reverse()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  }

  /**
   * For a test being stopped: no event loop turn is left, so it blocks, and briefly (tap sends
   * SIGKILL about a second after its timeout signal). A directory still busy then is left to the
   * leftovers check.
   */
  private cleanupSync(): void {
    this.moveBackAndKill();
    const end = Date.now() + 700;
    for (const dir of [...this.created].reverse()) {
      for (;;) {
        try {
          fs.rmdirSync(dir);
          break;
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === 'ENOENT' || Date.now() > end) break;
          sleepSync(10);
        }
      }
    }
  }

  private async doCleanup(): Promise<LabLeft> {
    this.moveBackAndKill();
    await Promise.all(this.children.map((c) => (c.exitCode !== null || c.signalCode !== null ? Promise.resolve() : new Promise((r) => c.once('exit', r)))));
    // Forked payloads are reaped by pid 1 once their unshare parent is gone: wait for that, bounded.
    for (let i = 0; i < 500 && this.started.some(alive); i++) await sleep(20);
    const leftDirs: string[] = [];
    for (const dir of [...this.created].reverse()) {
      for (let i = 0; i < 250; i++) {
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
    // Only now: a test stopped while this awaited still needs the synchronous cleanup.
    this.abort.cancel();
    return { leftDirs, leftPids: this.started.filter(alive) };
  }
}
