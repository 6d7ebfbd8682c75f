/**
 * How many link-table workers to use (parallel-links.ts), and starting them early: `list` on a
 * large host calls prestartLinkWorkers before it even loads its own modules, so a worker's
 * start-up (an isolate, tens of ms) runs on another core while the main thread loads `list` and
 * lists /proc, instead of after. Kept small (node built-ins only, loaded lazily) for that reason.
 * A prestarted worker waits for its job on its parent port (link-worker-thread.ts).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism, loadavg } from 'node:os';
import type * as WorkerThreads from 'node:worker_threads';
import { parseLoadavgRunning, parseLoadavgTasks } from '../procfs/pid-alloc.js';
import { compiledWorkerUrl } from '../native/worker-url.js';

/**
 * Below this many pids one thread reads them all: a worker is ready ~75-95 ms after it starts, when
 * one thread has read ~3,000 processes' links (at 1,000 a worker cost 13 ms more CPU for no time).
 */
export const PARALLEL_MIN_PIDS = 3000;
/** Workers besides the main thread, at most (one per further core). */
const MAX_WORKERS = 3;

/** The compiled worker (native/worker-url.ts: beside this module, or the built bundle when this runs from its source). */
export function resolveLinkWorkerUrl(): URL {
  return compiledWorkerUrl('link-worker-thread.js', import.meta.url);
}

/**
 * How busy the cores are, in cores: the smaller of the 1-minute load average and the tasks runnable
 * right now besides this one (/proc/loadavg's 4th field). Either says "a core is idle" on its own:
 * the load average lags a minute behind (a burst of process starts a minute ago does not make a
 * core busy now), the instantaneous count flickers (a momentary second task does not either).
 */
export function busyCores(loadavgText: string | null, load1: number, self = 1): number {
  const running = loadavgText === null ? null : parseLoadavgRunning(loadavgText);
  return running === null ? load1 : Math.min(load1, Math.max(0, running - self));
}

/** Threads of this process runnable now (at start-up V8's own threads may be): not load of others. */
function selfRunning(root: string): number {
  let n = 0;
  try {
    for (const tid of readdirSync(`${root}/self/task`)) {
      const stat = readFileSync(`${root}/self/task/${tid}/stat`, 'latin1');
      if (stat.charAt(stat.lastIndexOf(')') + 2) === 'R') n++;
    }
  } catch {
    return 1;
  }
  return Math.max(1, n);
}

function readLoadavg(root: string): string | null {
  try {
    return readFileSync(`${root}/loadavg`, 'latin1');
  } catch {
    return null; // a procfs without loadavg: the load average alone
  }
}

/**
 * Workers for `pids` pids: SCOPE_NAMESPACES_LINK_WORKERS when set, else one per further idle core
 * (at most 3) and per `minPids` pids. A worker pays for its start-up only with a core that would
 * otherwise idle: on a saturated host (less than half a core left) it added ~160 ms of CPU to a
 * 5,000-pid list and made it slower (native-notes/procfs.md).
 */
export function linkWorkerCount(pids: number, minPids: number, root: string, loadavgText: string | null = readLoadavg(root), self = 1): number {
  const env = process.env['SCOPE_NAMESPACES_LINK_WORKERS'];
  if (env !== undefined && /^[0-9]+$/.test(env)) return Math.min(Number(env), 16);
  const cores = availableParallelism();
  const idle = Math.floor(cores + 0.5 - busyCores(loadavgText, loadavg()[0] ?? 0, self));
  return Math.max(0, Math.min(MAX_WORKERS, cores - 1, idle, Math.floor(pids / minPids)));
}

let prestarted: WorkerThreads.Worker[] = [];

/**
 * Starts the workers a list of the host's processes will want, before the pid count is known: the
 * kernel's task count (threads included, /proc/loadavg) bounds it from above. Unused ones are
 * terminated by takePrestartedWorkers' caller; all are unref'd (never keep the process alive).
 * Returns the ones started.
 */
export function prestartLinkWorkers(root = '/proc'): readonly WorkerThreads.Worker[] {
  const text = readLoadavg(root);
  const tasks = text === null ? null : parseLoadavgTasks(text);
  if (tasks === null) return [];
  // Fewer tasks than one worker's share: none (unless the count is forced), before reading our own threads' states.
  if (tasks < PARALLEL_MIN_PIDS && process.env['SCOPE_NAMESPACES_LINK_WORKERS'] === undefined) return [];
  const n = linkWorkerCount(tasks, PARALLEL_MIN_PIDS, root, text, selfRunning(root));
  if (n <= 0) return [];
  const wt = createRequire(import.meta.url)('node:worker_threads') as typeof WorkerThreads;
  const url = resolveLinkWorkerUrl();
  for (let i = 0; i < n; i++) {
    try {
      // execArgv []: a test runner's loader flags are for TypeScript, not for this compiled worker.
      const w = new wt.Worker(url, { workerData: { waitForJob: true }, execArgv: [], name: 'ns-links' });
      w.on('error', () => {});
      w.unref();
      prestarted.push(w);
    } catch {
      break;
    }
  }
  return [...prestarted];
}

/** The prestarted workers (each waiting for a job), handed over once. */
export function takePrestartedWorkers(): WorkerThreads.Worker[] {
  const taken = prestarted;
  prestarted = [];
  return taken;
}
