/**
 * `npm run bench`: `scope-namespaces list --json --list` against `lsns --json --list`, as whole
 * processes, alternating runs, medians and their ratio, measured in the same run. Optionally with
 * N extra processes (some in new namespaces) so the numbers speak of a busy host.
 *
 *   node dist/bench/list-vs-lsns.js [--procs N] [--runs R] [--json FILE]
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSleepers } from './spawn.js';

interface Args {
  procs: number;
  runs: number;
  json: string | null;
  lsns: string;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { procs: 0, runs: 7, json: null, lsns: '/usr/bin/lsns' };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const v = argv[i + 1];
    if (k === '--procs' && v !== undefined) ((a.procs = Number(v)), i++);
    else if (k === '--runs' && v !== undefined) ((a.runs = Number(v)), i++);
    else if (k === '--json' && v !== undefined) ((a.json = v), i++);
    else if (k === '--lsns' && v !== undefined) ((a.lsns = v), i++);
    else throw new Error(`unknown argument ${k}; usage: [--procs N] [--runs R] [--json FILE] [--lsns PATH]`);
  }
  if (!Number.isInteger(a.runs) || a.runs < 1 || a.runs > 100) throw new Error('--runs must be 1..100');
  return a;
}

function timeOnce(cmd: string, args: string[]): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'ignore', 'ignore'], env: { ...process.env, LANG: 'C.UTF-8' } });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status ?? r.signal}`);
  return ms;
}

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (!fs.existsSync(args.lsns)) {
    console.error(`bench: ${args.lsns} not found; the ratio needs lsns measured in the same run`);
    process.exitCode = 2;
    return;
  }
  const cli = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'cli', 'main.js');
  const sleepers = await spawnSleepers(args.procs);
  try {
    const nprocs = fs.readdirSync('/proc').filter((n) => /^[0-9]+$/.test(n)).length;
    const ours: number[] = [];
    const theirs: number[] = [];
    // Warm the page cache and Node's compile cache once each, then alternate.
    timeOnce(process.execPath, [cli, 'list', '--json', '--list']);
    timeOnce(args.lsns, ['--json', '--list']);
    for (let i = 0; i < args.runs; i++) {
      ours.push(timeOnce(process.execPath, [cli, 'list', '--json', '--list']));
      theirs.push(timeOnce(args.lsns, ['--json', '--list']));
    }
    const result = {
      machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model ?? 'unknown', kernel: os.release(), node: process.version },
      processes: nprocs,
      runs: args.runs,
      oursMedianMs: Math.round(median(ours) * 10) / 10,
      lsnsMedianMs: Math.round(median(theirs) * 10) / 10,
      ratio: Math.round((median(ours) / median(theirs)) * 1000) / 1000,
    };
    console.log(`processes  runs  list --json --list (ms)  lsns --json --list (ms)  ratio`);
    console.log(
      `${String(result.processes).padStart(9)}  ${String(result.runs).padStart(4)}  ${String(result.oursMedianMs).padStart(23)}  ${String(result.lsnsMedianMs).padStart(23)}  ${result.ratio.toFixed(3)}`,
    );
    if (args.json) fs.writeFileSync(args.json, JSON.stringify(result, null, 2) + '\n');
  } finally {
    sleepers.cleanup();
  }
}

main().catch((err: unknown) => {
  console.error(`bench: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
