/**
 * The scale table: one run that grows the host through several sizes (default ~100, 1,000, 5,000
 * and 20,000 processes; sleepers added, every 50th in new net+uts namespaces) and measures at each
 * `list` against lsns and `node -e 0`, and a fresh `serve` at its default settings: CPU and RSS over
 * a window after a warm-up, its report, and freshness. Sizes below the host's own process count
 * are measured as the host is. With an fd scenario (fds.ts) each size's new sleepers hold it too.
 * Every process started here is killed by pid.
 */
import type { ChildProcess } from 'node:child_process';
import { measureFreshness, type Freshness } from './freshness.js';
import { measureList, type ListFigures } from './list-vs-lsns.js';
import { countProcesses } from './proc-sample.js';
import { ProbeClient } from '../support/probe-client.js';
import { measureCpuWindow, type CpuWindow } from './serve-figures.js';
import { startServe, stopServe, type Serve } from './serve-process.js';
import { MAX_SLEEPERS, spawnSleepers, type Sleepers } from './spawn.js';
import { round } from './stats.js';
import { NO_FDS, sumFdFigures, type FdFigures, type FdScenario } from './fds.js';

export const DEFAULT_SIZES: readonly number[] = [100, 1000, 5000, 20000];

export interface ScaleOptions {
  sizes: readonly number[];
  warmupSec: number;
  durationSec: number;
  runs: number;
  trials: number;
  lsns: string | null;
  serveArgs: readonly string[];
  /** The fds every sleeper made holds (--fds, --ns-fd-every); NO_FDS: none. */
  fds?: FdScenario;
}

export interface ScalePoint {
  size: number;
  processes: number;
  list: ListFigures;
  cpu: CpuWindow | null;
  freshness: Freshness | null;
  /** What all sleepers made so far hold beyond stdio; null: none added. */
  fds: FdFigures | null;
}

/** `--scale 100,1000,5000,20000`: ascending sizes of 1..MAX_SLEEPERS. */
export function parseSizes(text: string): number[] {
  const sizes = text.split(',').map((s) => Number(s.trim()));
  if (sizes.length === 0 || sizes.some((n) => !Number.isInteger(n) || n < 1 || n > MAX_SLEEPERS)) throw new Error(`--scale takes sizes 1..${MAX_SLEEPERS}, comma-separated; got ${text}`);
  return [...new Set(sizes)].sort((a, b) => a - b);
}

/** The targets at each size: list above Node's start-up or against lsns; serve CPU and RSS. */
export function scaleTargets(p: ScalePoint): Array<{ figure: string; value: number | null; limit: number; met: boolean | null }> {
  const out: Array<{ figure: string; value: number | null; limit: number; met: boolean | null }> = [];
  const add = (figure: string, value: number | null | undefined, limit: number): void => {
    const v = value ?? null;
    out.push({ figure, value: v, limit, met: v === null ? null : v <= limit });
  };
  const n = p.processes;
  const overFloor = round(p.list.oursMs - p.list.nodeFloorMs, 1);
  if (n < 500) add('list ms above node -e 0', overFloor, 25);
  else if (n < 3000) add('list / lsns', p.list.ratio, 1.0);
  else if (n < 12000) add('list / lsns', p.list.ratio, 0.3);
  else add('list / lsns', p.list.ratio, 0.1);
  if (n >= 3000 && n < 12000) {
    add('serve CPU %', p.cpu?.cpuPercent, 2);
    add('serve RSS median MB', p.cpu?.rssMedianMb, 75);
  } else if (n >= 12000) {
    add('serve CPU %', p.cpu?.cpuPercent, 4);
    add('serve RSS median MB', p.cpu?.rssMedianMb, 90);
  }
  add('freshness appear max ms', p.freshness?.appearMaxMs, 1500);
  add('freshness gone max ms', p.freshness?.disappearMaxMs, 1500);
  return out;
}

export async function runScale(cli: string, o: ScaleOptions, log: (msg: string) => void, track: (c: ChildProcess) => void, sleepers: Sleepers[]): Promise<ScalePoint[]> {
  const points: ScalePoint[] = [];
  for (const size of o.sizes) {
    const toSpawn = Math.max(0, size - countProcesses());
    if (toSpawn > 0) {
      log(`scale ${size}: spawning ${toSpawn} sleepers`);
      // Long-lived: the whole scale run must fit in their lifetime; they are killed at the end anyway.
      sleepers.push(await spawnSleepers(toSpawn, 50, 7200, ['--net', '--uts'], o.fds ?? NO_FDS));
    }
    log(`scale ${size}: list vs lsns, ${o.runs} alternating runs`);
    const list = measureList(cli, o.lsns, o.runs);
    log(`scale ${size}: serve, ${o.warmupSec} s warm-up, ${o.durationSec} s window, ${o.trials} freshness trials`);
    const serve: Serve = await startServe(cli, o.serveArgs, 180_000, track);
    const client = new ProbeClient(serve.plugin, 10_000);
    try {
      const cpu: CpuWindow = await measureCpuWindow(client, serve.pid, o.warmupSec, o.durationSec);
      const freshness: Freshness = await measureFreshness(client, o.trials, 30_000, track);
      points.push({ size, processes: list.processes, list, cpu, freshness, fds: sumFdFigures(sleepers.map((s) => s.fds)) });
    } finally {
      client.close();
      await stopServe(serve);
    }
  }
  return points;
}

const n = (x: number | null | undefined, digits = 1): string => (x === null || x === undefined || Number.isNaN(x) ? 'n/a' : round(x, digits).toLocaleString('en-US'));

/** One Markdown row per size, then every target's verdict. */
export function renderScale(points: readonly ScalePoint[]): string {
  const head = [
    '| processes | serve CPU % | RSS median / peak (HWM) MB | report kB / entries | freshness appear / gone max s | list / lsns ms (ratio) | node -e 0 ms | list above it ms |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  const rows = points.map((p) => {
    const c = p.cpu;
    const rep = c?.report;
    const f = p.freshness;
    return `| ${p.processes.toLocaleString('en-US')} | ${n(c?.cpuPercent, 2)} | ${n(c?.rssMedianMb)} / ${n(c?.rssPeakMb)} (${n(c?.hwmMb)}) | ${n(rep === undefined || rep === null ? null : rep.jsonBytes / 1000, 0)} / ${n(rep?.latestEntries, 0)} | ${n(f === null ? null : f.appearMaxMs / 1000, 2)} / ${n(f === null ? null : f.disappearMaxMs / 1000, 2)} | ${n(p.list.oursMs, 0)} / ${n(p.list.lsnsMs, 0)} (${n(p.list.ratio, 3)}x) | ${n(p.list.nodeFloorMs)} | ${n(p.list.oursMs - p.list.nodeFloorMs)} |`;
  });
  const verdicts = points.flatMap((p) =>
    scaleTargets(p).map((t) => `- ${p.processes.toLocaleString('en-US')} processes: ${t.figure} ${n(t.value, 3)} (target <= ${t.limit}): ${t.met === null ? 'n/a' : t.met ? 'met' : 'NOT met'}`),
  );
  return [...head, ...rows, '', ...verdicts, ''].join('\n');
}
