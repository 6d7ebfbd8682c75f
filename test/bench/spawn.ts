/**
 * Extra processes for benchmarks: N sleepers, every `nsEvery`-th in new net+uts namespaces (the
 * host scenario), all killed by pid on cleanup. Each sleeper also dies by itself after
 * `lifetimeSec`, so a crashed benchmark cannot leave thousands of processes behind for long.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';

export interface Sleepers {
  pids: number[];
  cleanup(): void;
}

export const MAX_SLEEPERS = 20000;

/** SIGKILL, by pid, every child that has not exited yet. */
export function killChildren(children: readonly ChildProcess[]): void {
  for (const c of children) {
    if (c.pid !== undefined && c.exitCode === null && c.signalCode === null) {
      try {
        process.kill(c.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
  }
}

/** Waits (blocking, up to `deadline`) until `unshare ... sleep` has exec'd sleep: its namespaces exist then. */
export function waitForNs(pid: number, deadline: number): void {
  while (Date.now() < deadline) {
    try {
      if (fs.readFileSync(`/proc/${pid}/comm`, 'latin1').startsWith('sleep')) return;
    } catch {
      return;
    }
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 2);
  }
}

export async function spawnSleepers(n: number, nsEvery = 50, lifetimeSec = 900, nsFlags: readonly string[] = ['--net', '--uts']): Promise<Sleepers> {
  if (!Number.isInteger(n) || n < 0 || n > MAX_SLEEPERS) throw new Error(`sleeper count must be 0..${MAX_SLEEPERS}, got ${n}`);
  const children: ChildProcess[] = [];
  const cleanup = (): void => killChildren(children);
  process.once('exit', cleanup);
  for (let i = 0; i < n; i++) {
    const inNs = nsEvery > 0 && i % nsEvery === 0;
    const child = inNs ? spawn('unshare', [...nsFlags, 'sleep', String(lifetimeSec)], { stdio: 'ignore' }) : spawn('sleep', [String(lifetimeSec)], { stdio: 'ignore' });
    child.on('error', () => {});
    children.push(child);
    if (i % 200 === 199) await new Promise((r) => setImmediate(r));
  }
  const deadline = Date.now() + 30_000;
  for (let i = 0; i < children.length; i += nsEvery > 0 ? nsEvery : children.length + 1) {
    const pid = children[i]?.pid;
    if (pid !== undefined) waitForNs(pid, deadline);
  }
  return { pids: children.map((c) => c.pid).filter((p): p is number => p !== undefined), cleanup };
}
