/**
 * Freshness of `/report`: start `unshare --uts --ipc sleep` (a new UTS namespace whose inode we read
 * from /proc/<pid>/ns/uts), poll every 100 ms until the Host table has its row (with our pid); kill
 * it by pid and poll until that row is gone. Times run from just before the spawn / the kill to the end of the
 * first answer that shows the change (so they include up to one poll period and one poll).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import { parseNsLink } from '../../src/procfs/parse.js';
import { plainBody, type ProbeClient } from '../support/probe-client.js';
import { hostTableRowPid } from './report-figures.js';
import { waitForNs } from './spawn.js';
import { maxOf, median, round } from './stats.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export const FRESHNESS_POLL_MS = 100;

export interface Freshness {
  trials: number;
  pollMs: number;
  timeoutMs: number;
  /** Polls that showed a trial's inode as another namespace's row (another process got the number). */
  reusedInodes: number;
  /** Per trial, ms; null = not seen within timeoutMs. */
  appearMs: Array<number | null>;
  disappearMs: Array<number | null>;
  appearMedianMs: number;
  appearMaxMs: number;
  disappearMedianMs: number;
  disappearMaxMs: number;
}

/**
 * ms from `t0` until an answer shows namespace `ino`'s row with `pid` as its Pid (`want` true) or
 * no such row (false); null on timeout. `reused` is told when the row is there with another pid:
 * a later namespace got the same inode number.
 */
async function pollUntil(client: ProbeClient, ino: number, pid: number, want: boolean, t0: number, timeoutMs: number, reused: () => void): Promise<number | null> {
  let seenReuse = false;
  for (;;) {
    const tick = performance.now();
    const a = await client.fetch();
    const now = performance.now();
    if (a.error === null && a.statusCode === 200) {
      const rowPid = hostTableRowPid(plainBody(a).toString('utf8'), ino);
      if (typeof rowPid === 'number' && rowPid !== pid && !seenReuse) {
        seenReuse = true;
        reused();
      }
      if ((rowPid === pid) === want) return now - t0;
    }
    if (now - t0 > timeoutMs) return null;
    await sleep(Math.max(0, tick + FRESHNESS_POLL_MS - performance.now()));
  }
}

/** A timeout counts as the timeout itself in the median and max (a lower bound), and shows as null per trial. */
const summary = (xs: Array<number | null>, timeoutMs: number): { med: number; max: number } => {
  const v = xs.map((x) => x ?? timeoutMs);
  return { med: round(median(v), 0), max: round(maxOf(v), 0) };
};

/** The inode of a process's UTS namespace; NaN when its link cannot be read as one. */
const utsIno = (pid: number | 'self'): number => parseNsLink(fs.readlinkSync(`/proc/${pid}/ns/uts`), 'uts')?.ino ?? Number.NaN;

export async function measureFreshness(client: ProbeClient, trials: number, timeoutMs: number, track: (c: ChildProcess) => void): Promise<Freshness> {
  const appear: Array<number | null> = [];
  const disappear: Array<number | null> = [];
  let reusedInodes = 0;
  const ownUts = utsIno('self');
  for (let i = 0; i < trials; i++) {
    // Off any period the daemon may keep.
    await sleep(Math.floor(Math.random() * 1000));
    const t0 = performance.now();
    const child = spawn('unshare', ['--uts', '--ipc', 'sleep', '600'], { stdio: 'ignore' });
    child.on('error', () => {});
    track(child);
    const pid = child.pid;
    if (pid === undefined) throw new Error('could not start unshare');
    waitForNs(pid, Date.now() + 5000);
    const ino = utsIno(pid);
    if (!Number.isFinite(ino) || ino === ownUts) throw new Error(`unshare (pid ${pid}) is not in a new UTS namespace`);
    appear.push(await pollUntil(client, ino, pid, true, t0, timeoutMs, () => reusedInodes++));
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`unshare (pid ${pid}) exited early`);
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    const t1 = performance.now();
    process.kill(pid, 'SIGKILL');
    await exited;
    disappear.push(await pollUntil(client, ino, pid, false, t1, timeoutMs, () => reusedInodes++));
  }
  const a = summary(appear, timeoutMs);
  const d = summary(disappear, timeoutMs);
  const r = (xs: Array<number | null>): Array<number | null> => xs.map((x) => (x === null ? null : round(x, 0)));
  return {
    trials,
    pollMs: FRESHNESS_POLL_MS,
    timeoutMs,
    reusedInodes,
    appearMs: r(appear),
    disappearMs: r(disappear),
    appearMedianMs: a.med,
    appearMaxMs: a.max,
    disappearMedianMs: d.med,
    disappearMaxMs: d.max,
  };
}
