/**
 * `scope-namespaces list --json --list` against `lsns --json --list` as whole processes: warm each
 * once, then alternate R runs of each; medians and their ratio come from the same run. `node -e 0`
 * is the floor of any Node command.
 */
import { spawnSync } from 'node:child_process';
import { countProcesses } from './proc-sample.js';
import { median, round } from './stats.js';

const CHILD_ENV = { ...process.env, LANG: 'C.UTF-8' };

/** Wall time of one run, ms; throws when the command fails. */
export function timeOnce(cmd: string, args: readonly string[]): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'ignore', 'ignore'], env: CHILD_ENV });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status ?? r.signal}`);
  return ms;
}

/** Rows of a `--json --list` output (a sanity check beside the timing, not the differential test). */
function rowCount(cmd: string, args: readonly string[]): number {
  // lsns exits 1 with no output when a process vanishes while it reads it: run it again.
  for (let attempt = 1; ; attempt++) {
    const r = spawnSync(cmd, args, { encoding: 'latin1', env: CHILD_ENV, maxBuffer: 256 * 1024 * 1024 });
    if (r.status === 0) {
      const parsed = JSON.parse(r.stdout) as { namespaces?: unknown[] };
      return parsed.namespaces?.length ?? 0;
    }
    if (attempt === 5) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status ?? r.signal} five times: ${r.stderr.slice(0, 200)}`);
  }
}

export interface ListFigures {
  processes: number;
  runs: number;
  nodeFloorMs: number;
  oursMs: number;
  lsnsMs: number | null;
  ratio: number | null;
  /** `list --json --list --holders` (threads, fds and the hierarchy read too), same runs. */
  holdersMs: number;
  holdersRatio: number | null;
  oursRows: number;
  lsnsRows: number | null;
}

/** `lsns` null: our side and the floor only. */
export function measureList(cli: string, lsns: string | null, runs: number): ListFigures {
  const floorArgs = ['-e', '0'];
  const oursArgs = [cli, 'list', '--json', '--list'];
  const holdersArgs = [...oursArgs, '--holders'];
  const lsnsArgs = ['--json', '--list'];
  // Warm the page cache and the compile caches once each, then alternate.
  timeOnce(process.execPath, floorArgs);
  timeOnce(process.execPath, oursArgs);
  timeOnce(process.execPath, holdersArgs);
  if (lsns !== null) timeOnce(lsns, lsnsArgs);
  const processes = countProcesses();
  const floor: number[] = [];
  const ours: number[] = [];
  const theirs: number[] = [];
  const holders: number[] = [];
  for (let i = 0; i < runs; i++) {
    floor.push(timeOnce(process.execPath, floorArgs));
    ours.push(timeOnce(process.execPath, oursArgs));
    holders.push(timeOnce(process.execPath, holdersArgs));
    if (lsns !== null) theirs.push(timeOnce(lsns, lsnsArgs));
  }
  const lsnsMs = lsns === null ? null : median(theirs);
  return {
    processes,
    runs,
    nodeFloorMs: round(median(floor), 1),
    oursMs: round(median(ours), 1),
    lsnsMs: lsnsMs === null ? null : round(lsnsMs, 1),
    ratio: lsnsMs === null ? null : round(median(ours) / lsnsMs, 3),
    holdersMs: round(median(holders), 1),
    holdersRatio: lsnsMs === null ? null : round(median(holders) / lsnsMs, 3),
    oursRows: rowCount(process.execPath, oursArgs),
    lsnsRows: lsns === null ? null : rowCount(lsns, lsnsArgs),
  };
}
