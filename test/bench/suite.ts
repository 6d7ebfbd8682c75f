/**
 * `npm run bench`: serve's and list's figures in one run, one table (each figure beside its target)
 * and the same figures as JSON.
 *
 *   node dist/bench/test/bench/suite.js [--procs N] [--duration S] [--warmup S] [--runs R] [--trials T]
 *     [--singles N] [--bursts B] [--json FILE] [--skip-lsns] [--lsns PATH] [--only list,cpu,singles,burst,freshness]
 *     [--serve-arg ARG]... [--containers C [--per-container P]] [--scale default | N,N,...] [--fds N [--ns-fd-every M]]
 *
 * `--scale` (scale.ts) instead grows the host through several sizes (default 100, 1,000, 5,000,
 * 20,000) and measures list, serve's CPU/RSS/report and freshness at each.
 *
 * Scenario: sleepers are added until the host has ~--procs processes (default 5,000; every 50th in
 * its own net+uts namespaces; with --fds N each holds N more open fds, 1 in --ns-fd-every M, default
 * 50, also an fd on the first isolated sleeper's net namespace: fds.ts). `serve` is a black box at its default settings (--serve-arg adds
 * options): spawned over a temporary plugins root, polled through its unix socket like the probe.
 *  - list: `list --json --list` vs `lsns --json --list`, --runs alternating runs, `node -e 0` floor
 *    (run before serve starts, so serve does not compete with it).
 *  - cpu: --warmup s of 1/s polls (default 120: the first memory-reducing GCs run in serve's first
 *    ~30 s, and V8 keeps compiling the code that runs only every 10-15 s (report, hostnames,
 *    representatives) for about two minutes: ~40 optimizing compiles between 48 s and 168 s, on
 *    its background threads; their CPU is shown apart), then --duration s (default 60, two
 *    full rescans) of 1/s polls: the steady state's CPU (utime+stime) and VmRSS of
 *    serve, single-poll latency, and the last answer's size and `latest` entries, with the probe's
 *    cost estimated from them (a real probe's measured ~6 µs per entry, ~90 ms per MB).
 *  - singles: --singles polls one at a time after random pauses of 100-300 ms (the p99 target).
 *  - burst: --bursts bursts of 50 concurrent polls, after one unmeasured burst against a
 *    throwaway trivial server (warms this process's client code, not serve).
 *    Singles and bursts are timed by lean-client.ts (the probe's request on kept-alive sockets,
 *    read to the last byte): Node's own http client costs more CPU per request than serve does,
 *    on the same cores. The bursts are also timed through Node's http client, for comparison.
 *  - floor (with singles or burst): the same polls against a trivial server answering as many
 *    prepared bytes (static-server.js): the latency this machine and client allow at all.
 *  - freshness: --trials new UTS namespaces appearing in and disappearing from the Host table,
 *    polled every 100 ms.
 * Every process started here is killed by pid; never part of `npm test`.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { measureFreshness, type Freshness } from './freshness.js';
import { measureList, type ListFigures } from './list-vs-lsns.js';
import { countProcesses } from './proc-sample.js';
import { LeanClient } from './lean-client.js';
import { discover, ProbeClient } from '../support/probe-client.js';
import { measureBursts, measureCpuWindow, measureSingles, type Bursts, type CpuWindow, type Latencies } from './serve-figures.js';
import { startServe, stopServe, type Serve } from './serve-process.js';
import { spawnContainers } from './containers.js';
import { killChildren, spawnSleepers, type Sleepers } from './spawn.js';
import { DEFAULT_SIZES, parseSizes, renderScale, runScale } from './scale.js';
import { describeFds, MAX_FDS, NO_FDS, sumFdFigures, type FdFigures } from './fds.js';
import { round } from './stats.js';

const SECTIONS = ['list', 'cpu', 'singles', 'burst', 'freshness'] as const;
type Section = (typeof SECTIONS)[number];

interface Args {
  procs: number;
  durationSec: number;
  warmupSec: number;
  runs: number;
  trials: number;
  singles: number;
  bursts: number;
  json: string | null;
  skipLsns: boolean;
  lsns: string;
  only: Set<Section>;
  serveArgs: string[];
  /** The container-host scenario: this many containers of `perContainer` processes; 0: sleepers. */
  containers: number;
  perContainer: number;
  /** The scale table's sizes (--scale); null: one scenario. */
  scale: number[] | null;
  /** More open fds per process made (--fds); 0: none. */
  fds: number;
  /** 1 in this many of them also hold an fd on a namespace (--ns-fd-every; only with --fds). */
  nsFdEvery: number;
}

const USAGE =
  'usage: [--procs N] [--duration S] [--warmup S] [--runs R] [--trials T] [--singles N] [--bursts B] [--json FILE] [--skip-lsns] [--lsns PATH] [--only list,cpu,singles,burst,freshness] [--serve-arg ARG]... [--containers C [--per-container P]] [--scale N,N,...] [--fds N [--ns-fd-every M]]';

export function parseArgs(argv: readonly string[]): Args {
  const a: Args = {
    procs: 5000,
    durationSec: 60,
    warmupSec: 120,
    runs: 7,
    trials: 6,
    singles: 300,
    bursts: 6,
    json: null,
    skipLsns: false,
    lsns: '/usr/bin/lsns',
    only: new Set(SECTIONS),
    serveArgs: [],
    containers: 0,
    perContainer: 50,
    scale: null,
    fds: NO_FDS.fds,
    nsFdEvery: NO_FDS.nsFdEvery,
  };
  let nsFdEveryGiven = false;
  const num = (k: string, v: string | undefined, lo: number, hi: number): number => {
    const n = Number(v);
    if (v === undefined || !Number.isInteger(n) || n < lo || n > hi) throw new Error(`${k} must be an integer ${lo}..${hi}; ${USAGE}`);
    return n;
  };
  const str = (k: string, v: string | undefined): string => {
    if (v === undefined) throw new Error(`${k} needs a value; ${USAGE}`);
    return v;
  };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i] ?? '';
    const v = argv[i + 1];
    if (k === '--procs') ((a.procs = num(k, v, 0, 20000)), i++);
    else if (k === '--duration') ((a.durationSec = num(k, v, 5, 3600)), i++);
    else if (k === '--warmup') ((a.warmupSec = num(k, v, 0, 600)), i++);
    else if (k === '--runs') ((a.runs = num(k, v, 1, 100)), i++);
    else if (k === '--trials') ((a.trials = num(k, v, 1, 100)), i++);
    else if (k === '--bursts') ((a.bursts = num(k, v, 1, 100)), i++);
    else if (k === '--singles') ((a.singles = num(k, v, 10, 10000)), i++);
    else if (k === '--json') ((a.json = str(k, v)), i++);
    else if (k === '--lsns') ((a.lsns = str(k, v)), i++);
    else if (k === '--serve-arg') (a.serveArgs.push(str(k, v)), i++);
    else if (k === '--containers') ((a.containers = num(k, v, 1, 2000)), i++);
    else if (k === '--per-container') ((a.perContainer = num(k, v, 1, 1000)), i++);
    else if (k === '--scale') ((a.scale = str(k, v) === 'default' ? [...DEFAULT_SIZES] : parseSizes(str(k, v))), i++);
    else if (k === '--fds') ((a.fds = num(k, v, 0, MAX_FDS)), i++);
    else if (k === '--ns-fd-every') ((a.nsFdEvery = num(k, v, 0, 20000)), (nsFdEveryGiven = true), i++);
    else if (k === '--skip-lsns') a.skipLsns = true;
    else if (k === '--only') {
      const parts = str(k, v).split(',');
      const bad = parts.filter((p) => !(SECTIONS as readonly string[]).includes(p));
      if (bad.length > 0 || parts.length === 0) throw new Error(`--only takes any of ${SECTIONS.join(',')}; got ${bad.join(',')}`);
      a.only = new Set(parts as Section[]);
      i++;
    } else throw new Error(`unknown argument ${k}; ${USAGE}`);
  }
  if (nsFdEveryGiven && a.fds === 0) throw new Error(`--ns-fd-every needs --fds N (N > 0); ${USAGE}`);
  return a;
}

/* ---------- the table ---------- */

type Row = [figure: string, value: string, target: string, verdict: string, detail: string];

function table(rows: readonly Row[]): string {
  const widths = [0, 1, 2, 3].map((i) => Math.max(...rows.map((r) => r[i]?.length ?? 0)));
  return (
    rows
      .map((r) =>
        r
          .map((c, i) => (i === 1 ? c.padStart(widths[i] ?? 0) : i < 4 ? c.padEnd(widths[i] ?? 0) : c))
          .join('  ')
          .trimEnd(),
      )
      .join('\n') + '\n'
  );
}

const verdict = (ok: boolean | null): string => (ok === null ? '' : ok ? 'met' : 'NOT met');
const fmt = (x: number | null | undefined, unit: string): string => (x === null || x === undefined || Number.isNaN(x) ? 'n/a' : `${x.toLocaleString('en-US')}${unit}`);
const le = (x: number | null | undefined, limit: number): boolean | null => (x === null || x === undefined || Number.isNaN(x) ? null : x <= limit);

interface Results {
  machine: Record<string, unknown>;
  options: Record<string, unknown>;
  processes: { before: number; withSleepers: number; atEnd: number };
  list: ListFigures | null;
  cpu: CpuWindow | null;
  singles: Latencies | null;
  bursts: Bursts | null;
  /** The same bursts through Node's http client (probe-client.ts): its own cost included. */
  burstsHttp: Bursts | null;
  /** The same client against a trivial server of the same answer size: what this machine allows. */
  floor: { singles: Latencies | null; bursts: Bursts | null } | null;
  freshness: Freshness | null;
  /** What the processes made hold beyond stdio (--fds, --ns-fd-every); null: none added. */
  fds: FdFigures | null;
  targets: Record<string, { value: number | null; limit: number; met: boolean | null }>;
}

const containerHost = (r: Results): boolean => Number(r.options['containers'] ?? 0) > 0;

function targets(r: Results): Results['targets'] {
  const t = (value: number | null | undefined, limit: number): { value: number | null; limit: number; met: boolean | null } => ({
    value: value === undefined || (value !== null && Number.isNaN(value)) ? null : value,
    limit,
    met: le(value, limit),
  });
  return {
    pluginCpuPercent: t(r.cpu?.cpuPercent, 2),
    reportJsonBytes: t(r.cpu?.report?.jsonBytes, containerHost(r) ? 400_000 : 300_000),
    reportLatestEntries: t(r.cpu?.report?.latestEntries, containerHost(r) ? 4500 : 3000),
    freshnessAppearMaxMs: t(r.freshness?.appearMaxMs, 1500),
    freshnessDisappearMaxMs: t(r.freshness?.disappearMaxMs, 1500),
    rssMedianMb: t(r.cpu?.rssMedianMb, 80),
    rssPeakMb: t(r.cpu?.rssPeakMb, 80),
    singleP99Ms: t(r.singles?.p99Ms, 5),
    burstP99Ms: t(r.bursts?.p99Ms, 25),
    listRatio: t(r.list?.ratio, 0.3),
  };
}

function render(r: Results): string {
  const m = r.machine;
  const T = r.targets;
  const v = (k: string): string => verdict(T[k]?.met ?? null);
  const rows: Row[] = [['figure', 'value', 'target', 'verdict', 'detail']];
  const { cpu, bursts: b, freshness: f, list } = r;
  if (cpu) {
    const rep = cpu.report;
    rows.push(
      [
        'report JSON',
        fmt(rep?.jsonBytes, ' B'),
        containerHost(r) ? '<= 400 kB' : '<= 300 kB',
        v('reportJsonBytes'),
        `gzip ${fmt(rep?.gzipBytes, ' B')}; probe's verdict: ${rep?.status ?? 'no answer'}`,
      ],
      [
        'report latest entries',
        fmt(rep?.latestEntries, ''),
        containerHost(r) ? '<= 4,500' : '<= 3,000',
        v('reportLatestEntries'),
        `by topology: ${Object.entries(rep?.entriesByTopology ?? {})
          .map(([k, n]) => `${k} ${n}`)
          .join(', ')}`,
      ],
      ['probe cost est. (entries)', fmt(rep?.probeCostEntriesPercent, ' %'), '(3,000: 1.8 %)', '', 'ESTIMATE: entries x 6 us per poll, 1 poll/s, % of one core'],
      ['probe cost est. (bytes)', fmt(rep?.probeCostBytesPercent, ' %'), '(300 kB: 2.7 %)', '', 'ESTIMATE: JSON bytes x 90 ms/MB, 1 poll/s'],
      ['plugin CPU', fmt(cpu.cpuPercent, ' %'), '<= 2 %', v('pluginCpuPercent'), `of one core, utime+stime over ${cpu.windowSec} s after ${cpu.warmupSec} s warm-up, polled 1/s`],
      ['plugin CPU, warm-up', fmt(cpu.warmupCpuPercent, ' %'), '', '', `the ${cpu.warmupSec} s of warm-up (after the first full scan): V8 compiling, first GCs`],
      ['plugin + probe est.', fmt(rep ? round(cpu.cpuPercent + rep.probeCostEntriesPercent, 2) : null, ' %'), '(0.10x probe)', '', "info: 0.10x of the probe's own 33-51 % (measured) = 3.3-5.1 %"],
      ['serve RSS median', fmt(cpu.rssMedianMb, ' MB'), '<= 80 MB', v('rssMedianMb'), 'VmRSS every 250 ms over the window'],
      ['serve RSS peak', fmt(cpu.rssPeakMb, ' MB'), '<= 80 MB', v('rssPeakMb'), `VmHWM (peak since start) ${fmt(cpu.hwmMb, ' MB')}`],
      [
        '/report polls 1/s',
        fmt(cpu.singles.p99Ms, ' ms'),
        '',
        '',
        `p99 of the ${cpu.singles.requests} polls of the CPU window (p50 ${fmt(cpu.singles.p50Ms, ' ms')}, max ${fmt(cpu.singles.maxMs, ' ms')}, ${cpu.singles.failures} failed); the target is judged on the singles below`,
      ],
    );
  }
  const sg = r.singles;
  if (sg)
    rows.push([
      '/report single p99',
      fmt(sg.p99Ms, ' ms'),
      '<= 5 ms',
      v('singleP99Ms'),
      `p50 ${fmt(sg.p50Ms, ' ms')}, max ${fmt(sg.maxMs, ' ms')}, ${sg.requests} polls one at a time after random 100-300 ms pauses, ${sg.failures} failed, ${sg.overProbeDeadline} > 500 ms`,
    ]);
  if (b)
    rows.push([
      `/report burst of ${b.size} p99`,
      fmt(b.p99Ms, ' ms'),
      '<= 25 ms',
      v('burstP99Ms'),
      `p50 ${fmt(b.p50Ms, ' ms')}, max ${fmt(b.maxMs, ' ms')}, ${b.bursts} bursts (p99s ${b.perBurstP99Ms.join(', ')}), ${b.failures} failed, ${b.overProbeDeadline} > 500 ms`,
    ]);
  const bh = r.burstsHttp;
  if (bh)
    rows.push([
      `burst of ${bh.size} p99, Node http client`,
      fmt(bh.p99Ms, ' ms'),
      '',
      '',
      `the same bursts timed through Node's http client, whose own CPU on these cores is included (p50 ${fmt(bh.p50Ms, ' ms')}, max ${fmt(bh.maxMs, ' ms')}, p99s ${bh.perBurstP99Ms.join(', ')})`,
    ]);
  const fl = r.floor;
  if (fl?.singles)
    rows.push([
      'floor: single p99',
      fmt(fl.singles.p99Ms, ' ms'),
      '',
      '',
      `a trivial Node server answering the same number of bytes, same client, same run (p50 ${fmt(fl.singles.p50Ms, ' ms')}, max ${fmt(fl.singles.maxMs, ' ms')})`,
    ]);
  if (fl?.bursts)
    rows.push([
      'floor: burst of 50 p99',
      fmt(fl.bursts.p99Ms, ' ms'),
      '',
      '',
      `the same against the trivial server (p50 ${fmt(fl.bursts.p50Ms, ' ms')}, max ${fmt(fl.bursts.maxMs, ' ms')}, p99s ${fl.bursts.perBurstP99Ms.join(', ')})`,
    ]);
  if (f) {
    const per = (xs: Array<number | null>): string => xs.map((x) => (x === null ? 'timeout' : String(x))).join(', ');
    rows.push(
      ['freshness appear median', fmt(f.appearMedianMs, ' ms'), '', '', `${f.trials} trials, polled every ${f.pollMs} ms: ${per(f.appearMs)}; inode reused by another namespace: ${f.reusedInodes}x`],
      ['freshness appear max', fmt(f.appearMaxMs, ' ms'), '<= 1,500 ms', v('freshnessAppearMaxMs'), 'from spawn of unshare --uts --ipc sleep to the first answer with its row'],
      ['freshness disappear median', fmt(f.disappearMedianMs, ' ms'), '', '', per(f.disappearMs)],
      [
        'freshness disappear max',
        fmt(f.disappearMaxMs, ' ms'),
        '<= 1,500 ms',
        v('freshnessDisappearMaxMs'),
        `from SIGKILL to the first answer without its row (a timeout counts as ${f.timeoutMs} ms)`,
      ],
    );
  }
  if (list) {
    rows.push(
      [
        'list vs lsns (wall)',
        list.ratio === null ? 'n/a' : `${list.ratio.toFixed(3)}x`,
        '<= 0.30x',
        v('listRatio'),
        `list --json --list ${fmt(list.oursMs, ' ms')} vs lsns ${fmt(list.lsnsMs, ' ms')}, medians of ${list.runs} alternating runs @${list.processes} processes; rows ${list.oursRows}/${list.lsnsRows ?? 'n/a'}; with --holders ${fmt(list.holdersMs, ' ms')} (${list.holdersRatio ?? 'n/a'}x lsns)`,
      ],
      ['node -e 0 (floor)', fmt(list.nodeFloorMs, ' ms'), '', '', 'start-up floor of any Node command'],
    );
  }
  const head = [
    `machine: nproc ${String(m['nproc'])}, ${String(m['model'])}, kernel ${String(m['kernel'])}, Node ${String(m['node'])}, ${typeof m['lsns'] === 'string' ? m['lsns'] : 'lsns skipped'}`,
    `date ${String(m['date'])}; load average before ${String(m['loadBefore'])}, after ${String(m['loadAfter'])} (shared machine)`,
    `processes: ${r.processes.before} before, ${r.processes.withSleepers} with sleepers, ${r.processes.atEnd} at the end; serve: default settings${(r.options['serveArgs'] as string[]).length ? ' + ' + (r.options['serveArgs'] as string[]).join(' ') : ''}`,
    describeFds(r.fds),
  ];
  return head.join('\n') + '\n\n' + table(rows);
}

/* ---------- the run ---------- */

/**
 * Runs `use` with a lean client on static-server.js answering `bytes` prepared bytes (a child
 * process on a temporary plugins root, killed by pid afterwards).
 */
async function withStaticServer<T>(bytes: number, onChild: (c: ChildProcess) => void, use: (client: LeanClient) => Promise<T>): Promise<T> {
  const root = fs.mkdtempSync('/tmp/snf-');
  const script = path.join(path.dirname(fileURLToPath(import.meta.url)), 'static-server.js');
  const child = spawn(process.execPath, [script, root, String(bytes)], { stdio: 'ignore' });
  onChild(child);
  try {
    let plugin = discover(root)[0];
    for (let i = 0; plugin === undefined && i < 200; i++) {
      await new Promise((r) => setTimeout(r, 50));
      plugin = discover(root)[0];
    }
    if (plugin === undefined) throw new Error('the static floor server made no socket');
    const client = new LeanClient(plugin.socketPath, 10_000);
    try {
      return await use(client);
    } finally {
      client.close();
    }
  } finally {
    killChildren([child]);
    fs.rmSync(root, { recursive: true, force: true });
  }
}

/** Singles and bursts against static-server.js: the latency floor of this machine and client. */
async function measureFloor(bytes: number, singles: number, bursts: number, onChild: (c: ChildProcess) => void): Promise<{ singles: Latencies | null; bursts: Bursts | null }> {
  return withStaticServer(bytes, onChild, async (client) => ({
    singles: singles > 0 ? await measureSingles(client, singles) : null,
    bursts: bursts > 0 ? await measureBursts(client, bursts, 50) : null,
  }));
}

/**
 * One unmeasured burst of 50 against a throwaway static server: this process's own code for
 * opening 50 connections at once is then compiled before it times serve's first burst. Cold, it
 * added ~5 ms to that burst (fresh serves, alternating: median 19.8 against 15.2 ms), which the
 * floor server, timed later, never paid. Neither server sees the warm-up.
 */
async function warmUpBurstClient(bytes: number, onChild: (c: ChildProcess) => void): Promise<void> {
  await withStaticServer(bytes, onChild, (client) => measureBursts(client, 1, 50));
}

async function main(): Promise<void> {
  const a = parseArgs(process.argv.slice(2));
  const wantLsns = a.only.has('list') && !a.skipLsns;
  if (wantLsns && !fs.existsSync(a.lsns)) throw new Error(`${a.lsns} not found; the ratio needs lsns measured in the same run (or --skip-lsns)`);
  // The shipped CLI bundle; this file runs as dist/bench/test/bench/suite.js (tsconfig.bench.json).
  const cli = fileURLToPath(new URL('../../../cli/main.js', import.meta.url));
  const log = (msg: string): void => void process.stderr.write(`bench: ${new Date().toISOString().slice(11, 19)} ${msg}\n`);

  const sleepers: Sleepers[] = [];
  const children: ChildProcess[] = [];
  const killAll = (): void => {
    killChildren(children);
    for (const s of sleepers) s.cleanup();
  };
  const onSignal = (sig: NodeJS.Signals): void => {
    killAll();
    process.stderr.write(`bench: ${sig}, cleaned up\n`);
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const cpus = os.cpus();
  const machine: Record<string, unknown> = {
    nproc: os.availableParallelism(),
    model: cpus[0]?.model ?? 'unknown',
    memGb: round(os.totalmem() / 2 ** 30, 1),
    kernel: os.release(),
    node: process.version,
    lsns: wantLsns ? spawnSync(a.lsns, ['--version'], { encoding: 'utf8' }).stdout.trim() : null,
    date: new Date().toISOString(),
    loadBefore: os
      .loadavg()
      .map((x) => round(x, 2))
      .join(' '),
  };
  const results: Results = {
    machine,
    options: {
      containers: a.containers,
      perContainer: a.perContainer,
      procs: a.procs,
      durationSec: a.durationSec,
      warmupSec: a.warmupSec,
      runs: a.runs,
      trials: a.trials,
      singles: a.singles,
      bursts: a.bursts,
      only: [...a.only],
      serveArgs: a.serveArgs,
      fds: a.fds,
      nsFdEvery: a.fds > 0 ? a.nsFdEvery : null,
    },
    processes: { before: countProcesses(), withSleepers: 0, atEnd: 0 },
    list: null,
    cpu: null,
    singles: null,
    bursts: null,
    burstsHttp: null,
    floor: null,
    freshness: null,
    fds: null,
    targets: {},
  };
  const fdScenario = { fds: a.fds, nsFdEvery: a.nsFdEvery };
  if (a.scale !== null) {
    try {
      const points = await runScale(
        cli,
        { sizes: a.scale, warmupSec: a.warmupSec, durationSec: a.durationSec, runs: a.runs, trials: a.trials, lsns: wantLsns ? a.lsns : null, serveArgs: a.serveArgs, fds: fdScenario },
        log,
        (c) => children.push(c),
        sleepers,
      );
      machine['loadAfter'] = os
        .loadavg()
        .map((x) => round(x, 2))
        .join(' ');
      const fds = sumFdFigures(sleepers.map((s) => s.fds));
      process.stdout.write(`machine: ${JSON.stringify(machine)}\n${describeFds(fds)}\n\n${renderScale(points)}`);
      if (a.json) fs.writeFileSync(a.json, JSON.stringify({ machine, options: results.options, fds, scale: points }, null, 2) + '\n');
    } finally {
      killAll();
    }
    return;
  }
  let serve: Serve | null = null;
  let client: ProbeClient | null = null;
  const fdsLog = a.fds > 0 ? `, each with ${a.fds} more fds${a.nsFdEvery > 0 ? `, 1 in ${a.nsFdEvery} also one on a net namespace` : ''}` : '';
  try {
    if (a.containers > 0) {
      log(`making ${a.containers} containers of ${a.perContainer} processes (docker-shaped cgroups, own mnt/net/pid/uts/ipc)${fdsLog}`);
      const made = await spawnContainers(a.containers, a.perContainer, 900, fdScenario);
      sleepers.push({ pids: [...made.containers.values()].flat(), fds: made.fds, cleanup: () => made.cleanup() });
    } else {
      const toSpawn = Math.max(0, a.procs - results.processes.before);
      log(`spawning ${toSpawn} sleepers (every 50th in new net+uts namespaces)${fdsLog}`);
      sleepers.push(await spawnSleepers(toSpawn, 50, 900, ['--net', '--uts'], fdScenario));
    }
    results.processes.withSleepers = countProcesses();
    results.fds = sumFdFigures(sleepers.map((s) => s.fds));

    if (a.only.has('list')) {
      log(`list vs lsns: ${a.runs} alternating runs`);
      results.list = measureList(cli, wantLsns ? a.lsns : null, a.runs);
    }
    if (a.only.has('cpu') || a.only.has('singles') || a.only.has('burst') || a.only.has('freshness')) {
      log('starting serve');
      serve = await startServe(cli, a.serveArgs, 180_000, (c) => children.push(c));
      // A longer deadline than the probe's 500 ms so slow answers are measured, not lost (and counted).
      client = new ProbeClient(serve.plugin, 10_000);
      if (a.only.has('cpu')) {
        log(`cpu: ${a.warmupSec} s warm-up, then ${a.durationSec} s polled 1/s`);
        results.cpu = await measureCpuWindow(client, serve.pid, a.warmupSec, a.durationSec);
      }
      const lean = new LeanClient(serve.plugin.socketPath, 10_000);
      try {
        if (a.only.has('singles')) {
          log(`singles: ${a.singles} polls after random 100-300 ms pauses`);
          results.singles = await measureSingles(lean, a.singles);
        }
        if (a.only.has('burst')) {
          await warmUpBurstClient(results.cpu?.report?.gzipBytes ?? 10_000, (c) => children.push(c));
          log(`bursts: ${a.bursts} x 50 concurrent, then the same through Node's http client`);
          results.bursts = await measureBursts(lean, a.bursts, 50);
          results.burstsHttp = await measureBursts(client, a.bursts, 50);
        }
      } finally {
        lean.close();
      }
      if (a.only.has('singles') || a.only.has('burst')) {
        const bytes = results.cpu?.report?.gzipBytes ?? 10_000;
        log(`floor: the same polls against a trivial server answering ${bytes} prepared bytes`);
        results.floor = await measureFloor(bytes, a.only.has('singles') ? a.singles : 0, a.only.has('burst') ? a.bursts : 0, (c) => children.push(c));
      }
      if (a.only.has('freshness')) {
        log(`freshness: ${a.trials} trials`);
        results.freshness = await measureFreshness(client, a.trials, 30_000, (c) => children.push(c));
      }
    }
    results.processes.atEnd = countProcesses();
  } finally {
    client?.close();
    if (serve) await stopServe(serve);
    killAll();
  }
  machine['loadAfter'] = os
    .loadavg()
    .map((x) => round(x, 2))
    .join(' ');
  results.targets = targets(results);
  process.stdout.write(render(results));
  if (a.json) fs.writeFileSync(a.json, JSON.stringify(results, null, 2) + '\n');
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  main().catch((err: unknown) => {
    console.error(`bench: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  });
}
