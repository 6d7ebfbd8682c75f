/**
 * Figures of a running `serve`, measured from outside: CPU (utime+stime of /proc/<pid>/stat) and
 * VmRSS over a window while it is polled once a second like the probe; the report of the last poll
 * (size, `latest` entries, the probe's verdict on it); bursts of concurrent polls. Latency is the
 * probe client's: connect to the last byte of the gzip body.
 */
import { cpuTicks, clockTicksPerSec, memoryKb } from './proc-sample.js';
import { PROBE_DEADLINE_MS, plainBody, type ProbeClient, type RawAnswer } from '../support/probe-client.js';
import { countLatestEntries, probeCostFromBytes, probeCostFromEntries } from './report-figures.js';
import { maxOf, median, p99, round } from './stats.js';

/** What the latency figures need of a client: one poll, timed to its last byte. */
export interface Fetcher {
  fetch(): Promise<RawAnswer>;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface Latencies {
  requests: number;
  /** Errors (no 200 answer within the bench's deadline). */
  failures: number;
  /** Answers slower than the probe's own 500 ms deadline: the probe would have dropped them. */
  overProbeDeadline: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

function latencies(answers: readonly RawAnswer[]): Latencies {
  const ok = answers.filter((a) => a.error === null && a.statusCode === 200).map((a) => a.ms);
  return {
    requests: answers.length,
    failures: answers.length - ok.length,
    overProbeDeadline: ok.filter((ms) => ms > PROBE_DEADLINE_MS).length,
    p50Ms: round(median(ok), 2),
    p99Ms: round(p99(ok), 2),
    maxMs: round(maxOf(ok), 2),
  };
}

export interface ReportFigures {
  /** The probe client's verdict on the answer (`ok` or `error: ...`). */
  status: string;
  jsonBytes: number;
  gzipBytes: number | null;
  latestEntries: number;
  /** The same by topology (Host, Process, Container, Pod, ...). */
  entriesByTopology: Record<string, number>;
  /** Estimates from a real probe's measured figures, % of one core at 1 poll/s. */
  probeCostEntriesPercent: number;
  probeCostBytesPercent: number;
}

export function reportFigures(client: ProbeClient, answer: RawAnswer): ReportFigures {
  const json = plainBody(answer);
  const decoded = client.decode(answer);
  const parsed: unknown = decoded.report ?? (JSON.parse(json.toString('utf8')) as unknown);
  const entries = countLatestEntries(parsed);
  const entriesByTopology: Record<string, number> = {};
  if (typeof parsed === 'object' && parsed !== null) {
    for (const [name, topology] of Object.entries(parsed as Record<string, unknown>)) if (name !== 'Plugins') entriesByTopology[name] = countLatestEntries({ [name]: topology });
  }
  return {
    status: decoded.status,
    jsonBytes: json.length,
    gzipBytes: answer.gzip ? answer.body.length : null,
    latestEntries: entries,
    entriesByTopology,
    probeCostEntriesPercent: round(probeCostFromEntries(entries), 2),
    probeCostBytesPercent: round(probeCostFromBytes(json.length), 2),
  };
}

export interface CpuWindow {
  warmupSec: number;
  /** CPU during the warm-up (V8 still compiling, the first GCs after start-up), % of one core. */
  warmupCpuPercent: number | null;
  windowSec: number;
  cpuPercent: number;
  rssMedianMb: number;
  rssPeakMb: number;
  /** VmHWM at the end of the window: the kernel's peak since serve started. */
  hwmMb: number;
  singles: Latencies;
  report: ReportFigures | null;
}

/** Polls once a second for `seconds`, sampling VmRSS every 250 ms when `rss` is given. */
async function pollEverySecond(client: ProbeClient, seconds: number, answers: RawAnswer[], rss: (() => void) | null): Promise<number> {
  const t0 = performance.now();
  let polls = 0;
  while (performance.now() - t0 < seconds * 1000) {
    const next = t0 + (polls + 1) * 1000;
    answers.push(await client.fetch());
    polls++;
    while (performance.now() < next - 1) {
      rss?.();
      await sleep(Math.max(0, Math.min(250, next - performance.now())));
    }
  }
  return (performance.now() - t0) / 1000;
}

export async function measureCpuWindow(client: ProbeClient, pid: number, warmupSec: number, windowSec: number): Promise<CpuWindow> {
  const hz = clockTicksPerSec();
  const warmTicks0 = cpuTicks(pid);
  const warmElapsed = await pollEverySecond(client, warmupSec, [], null);
  const warmupCpuPercent = warmElapsed > 0 ? round((100 * (cpuTicks(pid) - warmTicks0)) / hz / warmElapsed, 2) : null;
  const rss: number[] = [];
  const answers: RawAnswer[] = [];
  const ticks0 = cpuTicks(pid);
  const elapsed = await pollEverySecond(client, windowSec, answers, () => rss.push(memoryKb(pid).rssKb));
  const cpuSec = (cpuTicks(pid) - ticks0) / hz;
  const { hwmKb } = memoryKb(pid);
  const last = [...answers].reverse().find((a) => a.error === null && a.statusCode === 200);
  return {
    warmupSec,
    warmupCpuPercent,
    windowSec: round(elapsed, 1),
    cpuPercent: round((100 * cpuSec) / elapsed, 2),
    rssMedianMb: round(median(rss) / 1024, 1),
    rssPeakMb: round(maxOf(rss) / 1024, 1),
    hwmMb: round(hwmKb / 1024, 1),
    singles: latencies(answers),
    report: last === undefined ? null : reportFigures(client, last),
  };
}

/**
 * `n` single polls, one at a time, each after a random pause of 100-300 ms: every phase of serve's
 * 1 s tick is sampled (polls 1 s apart, like the probe's, would keep hitting the same few phases),
 * and n of a few hundred makes the p99 an order statistic rather than the maximum of 45 polls.
 */
export async function measureSingles(client: Fetcher, n: number): Promise<Latencies> {
  const answers: RawAnswer[] = [];
  for (let i = 0; i < n; i++) {
    await sleep(100 + Math.random() * 200);
    answers.push(await client.fetch());
  }
  return latencies(answers);
}

export interface Bursts extends Latencies {
  bursts: number;
  size: number;
  /** p99 of each burst, to see whether one burst was unlucky. */
  perBurstP99Ms: number[];
}

/** `n` bursts of `size` concurrent polls, 2 s apart (the previous burst finished first). */
export async function measureBursts(client: Fetcher, n: number, size: number): Promise<Bursts> {
  const all: RawAnswer[] = [];
  const perBurst: number[] = [];
  for (let b = 0; b < n; b++) {
    await sleep(1500 + Math.floor(Math.random() * 1000));
    const answers = await Promise.all(Array.from({ length: size }, () => client.fetch()));
    all.push(...answers);
    perBurst.push(latencies(answers).p99Ms);
  }
  return { bursts: n, size, perBurstP99Ms: perBurst, ...latencies(all) };
}
