/**
 * `npm run bench`: issue 8's benchmark suite, one table and the same figures as JSON.
 *
 *   node dist/bench/suite.js [--procs N] [--runs R] [--duration S] [--json FILE] [--skip-lsns]
 *                            [--small N] [--lsns PATH]
 *
 * - P1: `list --json --list` against `lsns --json --list` as whole processes, alternating, medians
 *   and their ratio from the same run, at ~--small processes (default 100) and after spawning
 *   --procs extra sleepers (default 5,000; every 50th in new uts+ipc namespaces). `node -e 0` is
 *   measured as the floor of any Node command.
 * - P2: a refresh measured in-process the way the daemon's worker does it: takeSnapshot (with one
 *   long-lived UTS reader, metric history and Process node cache, as the worker keeps) plus
 *   serialiseReport (JSON and gzip). CPU is process.cpuUsage()
 *   (user+system of every thread, so the UTS worker counts) around it; scan-only (scanNamespaces)
 *   and full-snapshot figures; the first refresh of a fresh reader ("cold") and the median of the
 *   next --runs ("steady"). The daemon's own refresh durations (its debug log) are reported too.
 * - P3/P4: `serve --interval 5s` (the default) over a short temporary plugins root. Phase 1
 *   (--duration s): one poll a second, VmRSS sampled, CPU (utime+stime of /proc/<pid>/stat) over
 *   the phase as a percentage of one core. Phase 2 (--duration s): one poll a second plus a burst
 *   of 50 concurrent polls every 3 s; p50/p99 of every request's latency (connect to last byte).
 *
 * Every sleeper is killed by pid, and the daemon by pid (SIGTERM, then SIGKILL); never part of `npm test`.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { UtsHostnameReader } from '../native/uts.js';
import { loadUserNames, passwdCandidates } from '../procfs/passwd.js';
import { ProcReader } from '../procfs/reader.js';
import { scanNamespaces } from '../scan/namespaces.js';
import { MetricHistory, ProcessNodeCache } from '../scope/topologies.js';
import { serialiseReport, takeSnapshot } from '../server/snapshot.js';
import { spawnSleepers, type Sleepers } from './spawn.js';

interface Args {
  procs: number;
  small: number;
  runs: number;
  durationSec: number;
  json: string | null;
  skipLsns: boolean;
  lsns: string;
}

const USAGE = 'usage: [--procs N] [--small N] [--runs R] [--duration S] [--json FILE] [--skip-lsns] [--lsns PATH]';

function parseArgs(argv: string[]): Args {
  const a: Args = { procs: 5000, small: 100, runs: 7, durationSec: 30, json: null, skipLsns: false, lsns: '/usr/bin/lsns' };
  const num = (k: string, v: string | undefined, lo: number, hi: number): number => {
    const n = Number(v);
    if (v === undefined || !Number.isInteger(n) || n < lo || n > hi) throw new Error(`${k} must be an integer ${lo}..${hi}; ${USAGE}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i] ?? '';
    const v = argv[i + 1];
    if (k === '--procs') ((a.procs = num(k, v, 0, 20000)), i++);
    else if (k === '--small') ((a.small = num(k, v, 0, 1000)), i++);
    else if (k === '--runs') ((a.runs = num(k, v, 1, 100)), i++);
    else if (k === '--duration') ((a.durationSec = num(k, v, 5, 3600)), i++);
    else if (k === '--json' && v !== undefined) ((a.json = v), i++);
    else if (k === '--lsns' && v !== undefined) ((a.lsns = v), i++);
    else if (k === '--skip-lsns') a.skipLsns = true;
    else throw new Error(`unknown argument ${k}; ${USAGE}`);
  }
  return a;
}

/* ---------- statistics ---------- */

const median = (xs: readonly number[]): number => quantile(xs, 0.5);

/** Linear interpolation between order statistics (numpy's default). NaN for no samples. */
function quantile(xs: readonly number[], q: number): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return (s[lo] as number) + ((s[hi] as number) - (s[lo] as number)) * (pos - lo);
}

const r1 = (x: number): number => Math.round(x * 10) / 10;
const r2 = (x: number): number => Math.round(x * 100) / 100;
const r3 = (x: number): number => Math.round(x * 1000) / 1000;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function countProcesses(): number {
  return fs.readdirSync('/proc').filter((n) => n.charCodeAt(0) >= 48 && n.charCodeAt(0) <= 57).length;
}

/* ---------- P1: whole processes ---------- */

const CHILD_ENV = { ...process.env, LANG: 'C.UTF-8' };

function timeOnce(cmd: string, args: string[]): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'ignore', 'ignore'], env: CHILD_ENV });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status ?? r.signal}`);
  return ms;
}

interface P1 {
  processes: number;
  runs: number;
  oursMs: number;
  lsnsMs: number | null;
  ratio: number | null;
  /** Rows of our output and of lsns's in the last run (a sanity check, not the differential test). */
  oursRows: number;
  lsnsRows: number | null;
}

function rowCount(cmd: string, args: string[]): number {
  const r = spawnSync(cmd, args, { encoding: 'latin1', env: CHILD_ENV, maxBuffer: 256 * 1024 * 1024 });
  const parsed = JSON.parse(r.stdout) as { namespaces?: unknown[] };
  return parsed.namespaces?.length ?? 0;
}

function measureP1(cli: string, a: Args): P1 {
  const ours: number[] = [];
  const theirs: number[] = [];
  const oursArgs = [cli, 'list', '--json', '--list'];
  const lsnsArgs = ['--json', '--list'];
  // Warm the page cache and the compile caches once each, then alternate.
  timeOnce(process.execPath, oursArgs);
  if (!a.skipLsns) timeOnce(a.lsns, lsnsArgs);
  const processes = countProcesses();
  for (let i = 0; i < a.runs; i++) {
    ours.push(timeOnce(process.execPath, oursArgs));
    if (!a.skipLsns) theirs.push(timeOnce(a.lsns, lsnsArgs));
  }
  const oursMs = median(ours);
  const lsnsMs = a.skipLsns ? null : median(theirs);
  return {
    processes,
    runs: a.runs,
    oursMs: r1(oursMs),
    lsnsMs: lsnsMs === null ? null : r1(lsnsMs),
    ratio: lsnsMs === null ? null : r3(oursMs / lsnsMs),
    oursRows: rowCount(process.execPath, oursArgs),
    lsnsRows: a.skipLsns ? null : rowCount(a.lsns, lsnsArgs),
  };
}

/* ---------- P2: a refresh, in-process ---------- */

interface Cost {
  cpuMs: number;
  wallMs: number;
}

async function cost(fn: () => unknown): Promise<Cost> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await fn();
  const wallMs = performance.now() - t0;
  const c = process.cpuUsage(c0);
  return { cpuMs: (c.user + c.system) / 1000, wallMs };
}

const medianCost = (xs: readonly Cost[]): Cost => ({ cpuMs: r1(median(xs.map((x) => x.cpuMs))), wallMs: r1(median(xs.map((x) => x.wallMs))) });

interface P2 {
  processes: number;
  runs: number;
  /** The first full refresh of a fresh UTS reader: starts its worker; JIT still cold for snapshot code. */
  coldFull: Cost;
  /** scanNamespaces only (listPids, 8 ns links per process, details of each namespace's lowest pid). */
  scanOnly: Cost;
  /** takeSnapshot + JSON + gzip, the worker's whole refresh, with the long-lived UTS reader. */
  steadyFull: Cost;
  /** JSON.stringify + gzip (level 6) of the report. */
  serialise: Cost;
  rows: number;
  reportBytes: number;
  gzipBytes: number;
}

async function measureP2(a: Args): Promise<P2> {
  const params = { proc: '/proc', hostname: os.hostname(), pluginId: 'host-namespaces' };
  const uts = new UtsHostnameReader();
  let json: Buffer = Buffer.alloc(0);
  let gz: Buffer = Buffer.alloc(0);
  let rows = 0;
  // As the daemon's worker keeps them: namespace-count history and the Process node cache.
  const history = new MetricHistory();
  const processNodes = new ProcessNodeCache();
  const refresh = async (): Promise<void> => {
    const snap = await takeSnapshot(params, { uts, history, processNodes });
    const ser = serialiseReport(snap.report);
    json = ser.json;
    gz = ser.gzip;
    rows = snap.stats.rows;
  };
  try {
    const processes = countProcesses();
    const coldFull = await cost(refresh);
    const scans: Cost[] = [];
    const fulls: Cost[] = [];
    const sers: Cost[] = [];
    for (let i = 0; i < a.runs; i++) {
      scans.push(
        await cost(() => {
          const reader = new ProcReader('/proc');
          scanNamespaces(reader, loadUserNames(passwdCandidates('/proc')));
        }),
      );
      fulls.push(await cost(refresh));
      const snap = await takeSnapshot(params, { uts, history, processNodes });
      sers.push(
        await cost(() => {
          serialiseReport(snap.report);
        }),
      );
    }
    return {
      processes,
      runs: a.runs,
      coldFull: { cpuMs: r1(coldFull.cpuMs), wallMs: r1(coldFull.wallMs) },
      scanOnly: medianCost(scans),
      steadyFull: medianCost(fulls),
      serialise: { cpuMs: r2(median(sers.map((x) => x.cpuMs))), wallMs: r2(median(sers.map((x) => x.wallMs))) },
      rows,
      reportBytes: json.length,
      gzipBytes: gz.length,
    };
  } finally {
    await uts.terminate();
  }
}

/* ---------- P3 / P4: the daemon ---------- */

interface DaemonFigures {
  pid: number;
  intervalMs: number;
  phaseSec: number;
  /** Phase 1: one poll a second. */
  polls: number;
  rssSteadyMb: number;
  rssPeakMb: number;
  /** VmHWM at the end of the run (the kernel's own peak). */
  hwmMb: number;
  cpuPercent: number;
  /** Phase 2: one poll a second plus bursts. */
  requests: number;
  bursts: number;
  burstSize: number;
  failures: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Singles only (phase 1 and 2), to tell bursts' queueing from a lone poll. */
  singleP50Ms: number;
  singleP99Ms: number;
  /** From the daemon's debug log: refreshes after the first, median wall time of each part. */
  refreshes: number;
  refreshScanMs: number | null;
  refreshSerialiseMs: number | null;
  refreshTotalMs: number | null;
  firstSnapshotMs: number | null;
}

function readStatus(pid: number): { rssKb: number; hwmKb: number } {
  const text = fs.readFileSync(`/proc/${pid}/status`, 'latin1');
  const field = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? Number.NaN);
  return { rssKb: field('VmRSS'), hwmKb: field('VmHWM') };
}

/** utime+stime of the whole thread group, in clock ticks. */
function cpuTicks(pid: number): number {
  const text = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // After "pid (comm) ": state is field 3; utime and stime are fields 14 and 15.
  return Number(rest[11]) + Number(rest[12]);
}

function clockTicks(): number {
  const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  const n = Number(r.stdout.trim());
  return Number.isInteger(n) && n > 0 ? n : 100;
}

class Poller {
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  constructor(private readonly socketPath: string) {}

  /** Latency of one GET /report as the probe sends it (gzip accepted), or null on failure. */
  get(): Promise<number | null> {
    const t0 = performance.now();
    return new Promise((resolve) => {
      const req = http.request(
        {
          agent: this.agent,
          socketPath: this.socketPath,
          path: '/report?api_version=1&probe_id=0123456789abcdef',
          headers: { Host: 'plugin', 'User-Agent': 'Go-http-client/1.1', 'Accept-Encoding': 'gzip' },
          timeout: 2000,
        },
        (res) => {
          res.on('data', () => {});
          res.on('end', () => resolve(res.statusCode === 200 ? performance.now() - t0 : null));
          res.on('error', () => resolve(null));
        },
      );
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', () => resolve(null));
      req.end();
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

interface RefreshLog {
  scanMs: number;
  serialiseMs: number;
  totalMs: number;
  first: boolean;
}

async function waitForSocket(file: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`serve exited early (${child.exitCode ?? child.signalCode})`);
    try {
      if (fs.statSync(file).isSocket()) return;
    } catch {
      /* not yet */
    }
    await sleep(50);
  }
  throw new Error(`serve did not create ${file} within ${timeoutMs} ms`);
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  try {
    process.kill(child.pid, 'SIGTERM');
  } catch {
    return;
  }
  const timer = setTimeout(() => {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  }, 3000);
  await exited;
  clearTimeout(timer);
}

async function measureDaemon(cli: string, a: Args, onChild: (c: ChildProcess) => void): Promise<DaemonFigures> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'snb-'));
  const pluginId = 'bench-namespaces';
  const socketPath = path.join(root, pluginId, `${pluginId}.sock`);
  const intervalMs = 5000;
  const started = performance.now();
  const child = spawn(process.execPath, [cli, 'serve', '--plugins-root', root, '--plugin-id', pluginId, '--interval', '5s', '--log-level', 'debug', '--log-format', 'json', '--hostname', 'bench'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  onChild(child);
  const refreshes: RefreshLog[] = [];
  let firstSnapshotMs: number | null = null;
  let pending = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    pending += chunk;
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      try {
        const rec = JSON.parse(line) as { msg?: string; scanMs?: number; serialiseMs?: number; totalMs?: number };
        if (rec.msg === 'first snapshot ready' || rec.msg === 'snapshot refreshed') {
          const first = rec.msg === 'first snapshot ready';
          if (first) firstSnapshotMs = performance.now() - started;
          refreshes.push({ scanMs: rec.scanMs ?? Number.NaN, serialiseMs: rec.serialiseMs ?? Number.NaN, totalMs: rec.totalMs ?? Number.NaN, first });
        }
      } catch {
        /* not JSON */
      }
    }
  });
  const poller = new Poller(socketPath);
  try {
    await waitForSocket(socketPath, child, 120_000);
    const pid = child.pid as number;
    const hz = clockTicks();
    const rss: number[] = [];
    const sampleRss = (): void => {
      try {
        rss.push(readStatus(pid).rssKb);
      } catch {
        /* exiting */
      }
    };
    // Let the first answers and a refresh settle before measuring the steady state.
    await poller.get();
    await sleep(2000);

    const singles: number[] = [];
    let failures = 0;
    const record = (ms: number | null, into: number[]): void => {
      if (ms === null) failures++;
      else into.push(ms);
    };

    // Phase 1 (P4): one poll a second.
    const phaseMs = a.durationSec * 1000;
    const ticks0 = cpuTicks(pid);
    const t0 = performance.now();
    let polls = 0;
    while (performance.now() - t0 < phaseMs) {
      const next = t0 + (polls + 1) * 1000;
      record(await poller.get(), singles);
      polls++;
      for (let s = 0; s < 4; s++) {
        sampleRss();
        await sleep(Math.max(0, Math.min(250, next - performance.now())));
      }
      await sleep(Math.max(0, next - performance.now()));
    }
    const cpuSec = (cpuTicks(pid) - ticks0) / hz;
    const cpuPercent = (100 * cpuSec) / ((performance.now() - t0) / 1000);

    // Phase 2 (P3): one poll a second plus a burst of 50 concurrent every 3 s, off the second.
    const all: number[] = [];
    const burstSize = 50;
    let bursts = 0;
    let requests = 0;
    const inflight: Array<Promise<void>> = [];
    const t1 = performance.now();
    let tick = 0;
    while (performance.now() - t1 < phaseMs) {
      const next = t1 + (tick + 1) * 1000;
      inflight.push(
        poller.get().then((ms) => {
          record(ms, all);
          if (ms !== null) singles.push(ms);
        }),
      );
      requests++;
      if (tick % 3 === 1) {
        await sleep(300 + Math.floor(Math.random() * 400));
        bursts++;
        for (let i = 0; i < burstSize; i++) {
          inflight.push(poller.get().then((ms) => record(ms, all)));
          requests++;
        }
      }
      tick++;
      sampleRss();
      await sleep(Math.max(0, next - performance.now()));
    }
    await Promise.all(inflight);
    sampleRss();
    const { hwmKb } = readStatus(pid);
    const later = refreshes.filter((r) => !r.first);
    const med = (f: (r: RefreshLog) => number): number | null => (later.length ? r1(median(later.map(f))) : null);
    return {
      pid,
      intervalMs,
      phaseSec: a.durationSec,
      polls,
      rssSteadyMb: r1(median(rss) / 1024),
      rssPeakMb: r1(Math.max(...rss) / 1024),
      hwmMb: r1(hwmKb / 1024),
      cpuPercent: r2(cpuPercent),
      requests,
      bursts,
      burstSize,
      failures,
      p50Ms: r2(quantile(all, 0.5)),
      p99Ms: r2(quantile(all, 0.99)),
      maxMs: r2(Math.max(...all)),
      singleP50Ms: r2(quantile(singles, 0.5)),
      singleP99Ms: r2(quantile(singles, 0.99)),
      refreshes: later.length,
      refreshScanMs: med((r) => r.scanMs),
      refreshSerialiseMs: med((r) => r.serialiseMs),
      refreshTotalMs: med((r) => r.totalMs),
      firstSnapshotMs: firstSnapshotMs === null ? null : Math.round(firstSnapshotMs),
    };
  } finally {
    poller.close();
    await stopChild(child);
    fs.rmSync(root, { recursive: true, force: true });
  }
}

/* ---------- the table ---------- */

function table(rows: Array<[string, string, string]>): string {
  const w0 = Math.max(...rows.map((r) => r[0].length));
  const w1 = Math.max(...rows.map((r) => r[1].length));
  return rows.map(([a, b, c]) => `${a.padEnd(w0)}  ${b.padStart(w1)}  ${c}`).join('\n') + '\n';
}

const ms = (x: number | null): string => (x === null || Number.isNaN(x) ? 'n/a' : `${x} ms`);
const verdict = (ok: boolean | null): string => (ok === null ? '' : ok ? 'met' : 'NOT met');

async function main(): Promise<void> {
  const a = parseArgs(process.argv.slice(2));
  if (!a.skipLsns && !fs.existsSync(a.lsns)) throw new Error(`${a.lsns} not found; the ratio needs lsns measured in the same run (or --skip-lsns)`);
  const here = path.dirname(fileURLToPath(import.meta.url));
  const cli = path.join(here, '..', 'cli', 'main.js');
  const groups: Sleepers[] = [];
  let daemon: ChildProcess | null = null;
  const cleanup = (): void => {
    if (daemon?.pid !== undefined && daemon.exitCode === null && daemon.signalCode === null) {
      try {
        process.kill(daemon.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    for (const g of groups) g.cleanup();
  };
  const onSignal = (sig: NodeJS.Signals): void => {
    cleanup();
    process.stderr.write(`bench: ${sig}, cleaned up\n`);
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const log = (m: string): void => void process.stderr.write(`bench: ${m}\n`);
  try {
    const cpus = os.cpus();
    const machine = {
      cpus: cpus.length,
      model: cpus[0]?.model ?? 'unknown',
      memGb: r1(os.totalmem() / 2 ** 30),
      kernel: os.release(),
      node: process.version,
      lsns: a.skipLsns ? null : spawnSync(a.lsns, ['--version'], { encoding: 'utf8' }).stdout.trim(),
      date: new Date().toISOString(),
      loadavg: os.loadavg().map(r2),
    };
    log(`floor: node -e 0 x${a.runs}`);
    timeOnce(process.execPath, ['-e', '0']);
    const floor: number[] = [];
    for (let i = 0; i < a.runs; i++) floor.push(timeOnce(process.execPath, ['-e', '0']));
    const nodeFloorMs = r1(median(floor));

    const base = countProcesses();
    const toSmall = Math.max(0, Math.min(a.procs, a.small - base));
    groups.push(await spawnSleepers(toSmall));
    log(`P1 at ${countProcesses()} processes`);
    const p1Small = measureP1(cli, a);

    log(`spawning ${a.procs - toSmall} more sleepers`);
    groups.push(await spawnSleepers(a.procs - toSmall));
    log(`P1 at ${countProcesses()} processes`);
    const p1Large = measureP1(cli, a);

    log('P2: refreshes in-process');
    const p2 = await measureP2(a);

    log(`P3/P4: serve, 2 x ${a.durationSec} s`);
    const d = await measureDaemon(cli, a, (c) => (daemon = c));
    const after = countProcesses();

    const p1Met = p1Large.ratio === null ? null : p1Large.ratio <= 0.25;
    const p1SmallMet = p1Small.ratio === null ? null : p1Small.ratio <= 1;
    const results = {
      machine,
      options: { procs: a.procs, runs: a.runs, durationSec: a.durationSec },
      processesAtEnd: after,
      nodeFloorMs,
      p1Small,
      p1Large,
      p2,
      daemon: d,
      targets: {
        p1Ratio: p1Met,
        p1NotSlowerSmall: p1SmallMet,
        p2CpuMs150: p2.steadyFull.cpuMs <= 150,
        p3P99Ms5: d.p99Ms <= 5,
        p4Rss80: d.rssPeakMb <= 80,
        p4Cpu3: d.cpuPercent <= 3,
      },
    };
    const ratio = (p: P1): string => (p.ratio === null ? 'n/a' : `${p.ratio.toFixed(3)}x`);
    const out = table([
      ['figure (medians)', 'value', 'detail / target'],
      ['machine', `${machine.cpus} cpus`, `${machine.model}, Node ${machine.node}, kernel ${machine.kernel}, load ${machine.loadavg.join(' ')}`],
      ['node -e 0 (start-up floor)', ms(nodeFloorMs), `${a.runs} runs`],
      [`P1 list vs lsns @${p1Small.processes}`, ratio(p1Small), `${ms(p1Small.oursMs)} vs ${ms(p1Small.lsnsMs)}; target <= 1x ${verdict(p1SmallMet)}`],
      [
        `P1 list vs lsns @${p1Large.processes}`,
        ratio(p1Large),
        `${ms(p1Large.oursMs)} vs ${ms(p1Large.lsnsMs)}; rows ${p1Large.oursRows}/${p1Large.lsnsRows ?? 'n/a'}; target <= 0.25x ${verdict(p1Met)}`,
      ],
      [`P2 refresh CPU, steady @${p2.processes}`, ms(p2.steadyFull.cpuMs), `wall ${ms(p2.steadyFull.wallMs)}; target <= 150 ms ${verdict(results.targets.p2CpuMs150)}`],
      ['P2 refresh CPU, cold (first)', ms(p2.coldFull.cpuMs), `wall ${ms(p2.coldFull.wallMs)} (starts the UTS worker, JIT cold)`],
      ['P2 scan only CPU', ms(p2.scanOnly.cpuMs), `wall ${ms(p2.scanOnly.wallMs)}`],
      ['P2 daemon refresh (log)', ms(d.refreshTotalMs), `scan ${ms(d.refreshScanMs)}, serialise ${ms(d.refreshSerialiseMs)}, ${d.refreshes} refreshes, wall`],
      ['report size', `${p2.reportBytes} B`, `gzip ${p2.gzipBytes} B, ${p2.rows} rows`],
      ['report serialisation', ms(p2.serialise.wallMs), `JSON+gzip, CPU ${ms(p2.serialise.cpuMs)}`],
      ['P3 /report p50', ms(d.p50Ms), `${d.requests} requests, ${d.bursts} bursts of ${d.burstSize}, ${d.failures} failed`],
      ['P3 /report p99', ms(d.p99Ms), `max ${ms(d.maxMs)}; singles p50 ${ms(d.singleP50Ms)} p99 ${ms(d.singleP99Ms)}; target <= 5 ms ${verdict(results.targets.p3P99Ms5)}`],
      ['P4 serve RSS steady', `${d.rssSteadyMb} MB`, `peak sampled ${d.rssPeakMb} MB, VmHWM ${d.hwmMb} MB; target <= 80 MB ${verdict(results.targets.p4Rss80)}`],
      ['P4 serve CPU', `${d.cpuPercent} %`, `of one core, ${d.phaseSec} s, interval ${d.intervalMs / 1000} s, ${d.polls} polls; target <= 3 % ${verdict(results.targets.p4Cpu3)}`],
    ]);
    process.stdout.write(out);
    if (a.json) fs.writeFileSync(a.json, JSON.stringify(results, null, 2) + '\n');
  } finally {
    cleanup();
  }
}

main().catch((err: unknown) => {
  console.error(`bench: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
