/**
 * Extra processes for benchmarks: N sleepers, every `nsEvery`-th in new net+uts namespaces (the
 * host scenario), all killed by pid on cleanup. Each sleeper also dies by itself after
 * `lifetimeSec`, so a crashed benchmark cannot leave thousands of processes behind for long.
 * With an fd scenario (fds.ts) each holds its N fds, and 1 in M an fd on the first isolated
 * sleeper's net namespace.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import { FD_KIND_TEXT, FdSources, holdsNsFd, NO_FDS, sleeperStdio, type FdFigures, type FdScenario } from './fds.js';

export interface Sleepers {
  pids: number[];
  /** What the fd scenario gave them; null: no fds added. */
  fds: FdFigures | null;
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

export async function spawnSleepers(n: number, nsEvery = 50, lifetimeSec = 900, nsFlags: readonly string[] = ['--net', '--uts'], fdScenario: FdScenario = NO_FDS): Promise<Sleepers> {
  if (!Number.isInteger(n) || n < 0 || n > MAX_SLEEPERS) throw new Error(`sleeper count must be 0..${MAX_SLEEPERS}, got ${n}`);
  const children: ChildProcess[] = [];
  const sources = fdScenario.fds > 0 && n > 0 ? FdSources.open() : null;
  const cleanup = (): void => {
    killChildren(children);
    sources?.close();
  };
  process.once('exit', cleanup);
  const fds: FdFigures | null = sources === null ? null : { fds: fdScenario.fds, nsFdEvery: fdScenario.nsFdEvery, kinds: Object.values(FD_KIND_TEXT), processes: 0, nsFdHolders: 0, nsFdTargets: [] };
  let nsFd: number | null = null;
  for (let i = 0; i < n; i++) {
    const inNs = nsEvery > 0 && i % nsEvery === 0;
    const holds = nsFd !== null && holdsNsFd(i, fdScenario.nsFdEvery);
    const stdio = sources === null ? 'ignore' : sleeperStdio(sources.byKind, fdScenario.fds, holds ? nsFd : null);
    const child = inNs ? spawn('unshare', [...nsFlags, 'sleep', String(lifetimeSec)], { stdio }) : spawn('sleep', [String(lifetimeSec)], { stdio });
    child.on('error', () => {});
    children.push(child);
    if (fds !== null && child.pid !== undefined) {
      fds.processes++;
      if (holds) fds.nsFdHolders++;
    }
    // The first isolated sleeper's net namespace is the one the holders hold: opened once it exists.
    if (sources !== null && fds !== null && nsFd === null && inNs && nsFlags.includes('--net') && fdScenario.nsFdEvery > 0 && child.pid !== undefined) {
      waitForNs(child.pid, Date.now() + 30_000);
      const ns = sources.openNetNs(child.pid);
      nsFd = ns.fd;
      fds.nsFdTargets.push(ns.link);
    }
    if (i % 200 === 199) await new Promise((r) => setImmediate(r));
  }
  const deadline = Date.now() + 30_000;
  for (let i = 0; i < children.length; i += nsEvery > 0 ? nsEvery : children.length + 1) {
    const pid = children[i]?.pid;
    if (pid !== undefined) waitForNs(pid, deadline);
  }
  return { pids: children.map((c) => c.pid).filter((p): p is number => p !== undefined), fds, cleanup };
}
