/**
 * Each discovery phase of the incremental scanner alone (src/scan/incremental/phases/), on a
 * hand-made procfs tree and a hand-made ScanState: what it reads, what it changes, and what it
 * must leave alone. Expected values are counted by hand from the trees below. The phases in order
 * (the driver) are tested against a full scan in incremental.test.ts.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import t from 'tap';
import type { NativeErr } from '../../src/native/result.js';
import type { PidWatcher, WatchResult } from '../../src/native/pid-watch.js';
import { userNamesFromText } from '../../src/procfs/passwd.js';
import { ProcReader } from '../../src/procfs/reader.js';
import type { NsType } from '../../src/procfs/types.js';
import { beginTick } from '../../src/scan/incremental/driver.js';
import { allocWindow, MAX_PROBED_RANGE } from '../../src/scan/incremental/phases/alloc-window.js';
import { exits } from '../../src/scan/incremental/phases/exits.js';
import { newPids } from '../../src/scan/incremental/phases/new-pids.js';
import { polledExits } from '../../src/scan/incremental/phases/polled-exits.js';
import { rebuild } from '../../src/scan/incremental/phases/rebuild.js';
import { representatives } from '../../src/scan/incremental/phases/representatives.js';
import { sweep } from '../../src/scan/incremental/phases/sweep.js';
import { young } from '../../src/scan/incremental/phases/young.js';
import { readProcess } from '../../src/scan/incremental/process-index.js';
import { createScanState, type Phase, type ScanState, type TickContext } from '../../src/scan/incremental/state.js';
import { createWatchState, type WatchState } from '../../src/scan/incremental/watch-policy.js';
import { drainTick } from '../support/drain-tick.js';
import { INITIAL_NS, writeFakeProcfs, type FakeProcess } from '../support/fake-procfs.js';

const users = userNamesFromText('root:x:0:0::/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n', 'test');
const renamed = userNamesFromText('admin:x:0:0::/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n', 'test');

const OWN_NET = 4026539001;
const OWN_UTS = 4026539002;

function tree(tt: { teardown(fn: () => void): void }, procs: readonly FakeProcess[], lastPid = 400, forks = 1000): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'phases-'));
  tt.teardown(() => fs.rmSync(root, { recursive: true, force: true }));
  writeFakeProcfs(root, procs);
  counters(root, lastPid, forks);
  return root;
}

function counters(root: string, lastPid: number, forks: number): void {
  fs.mkdirSync(path.join(root, 'sys', 'kernel'), { recursive: true });
  fs.writeFileSync(path.join(root, 'sys', 'kernel', 'ns_last_pid'), `${lastPid}\n`);
  fs.writeFileSync(path.join(root, 'sys', 'kernel', 'pid_max'), '32768\n');
  fs.writeFileSync(path.join(root, 'stat'), `cpu  1 2 3 4\nprocesses ${forks}\n`);
  fs.writeFileSync(path.join(root, 'loadavg'), `0.00 0.00 0.00 1/100 ${lastPid}\n`);
}

const proc = (pid: number, ns: Record<NsType, number> = INITIAL_NS, extra: Partial<FakeProcess> = {}): FakeProcess => ({ pid, ppid: 1, uid: 0, comm: `p${pid}`, argv: [`/bin/p${pid}`], ns, ...extra });
const gone = (root: string, pid: number): void => fs.rmSync(path.join(root, String(pid)), { recursive: true, force: true });

/** A pidfd watcher stand-in: which pids it holds, what it reports, and how many it may hold. */
class FakeWatcher {
  readonly held = new Set<number>();
  report: number[] | NativeErr = [];
  capacity = Infinity;
  threads = new Set<number>();
  constructor(private readonly root: string) {}
  has(pid: number): boolean {
    return this.held.has(pid);
  }
  get hasRoom(): boolean {
    return this.held.size < this.capacity;
  }
  watch(pid: number): WatchResult {
    if (this.held.has(pid)) return 'watching';
    if (!fs.existsSync(path.join(this.root, String(pid)))) return 'no-process';
    if (this.threads.has(pid)) return 'thread';
    if (!this.hasRoom) return 'full';
    this.held.add(pid);
    return 'watching';
  }
  unwatch(pid: number): void {
    this.held.delete(pid);
  }
  exited(): number[] | NativeErr {
    const r = this.report;
    this.report = [];
    return r;
  }
  takeShed(): number[] {
    return [];
  }
  close(): void {}
  get fdLimitNotes(): readonly string[] {
    return [];
  }
}

function state(root: string, opts: { watcher?: FakeWatcher; fullRescanMs?: number; detailsMaxAgeMs?: number; youngTicks?: number } = {}): ScanState {
  const reader = new ProcReader(root);
  const watch: WatchState = opts.watcher ? { watcher: opts.watcher as unknown as PidWatcher, noWatcher: null, unwatched: new Set() } : createWatchState(reader, null);
  return createScanState(
    reader,
    users,
    { fullRescanMs: opts.fullRescanMs ?? 3_600_000, cgroups: false, detailsMaxAgeMs: opts.detailsMaxAgeMs ?? 3_600_000, ...(opts.youngTicks !== undefined ? { youngTicks: opts.youngTicks } : {}) },
    watch,
  );
}

function run(phase: Phase, s: ScanState, tc: TickContext): number {
  let yields = 0;
  const gen = phase.run(s, tc);
  while (!gen.next().done) yields++;
  return yields;
}

/** A tick whose earlier phases are given by hand: every known pid read, as the first tick would. */
function known(s: ScanState, pids: readonly number[]): TickContext {
  const tc = beginTick(s);
  for (const pid of pids) readProcess(s, pid, tc.now, 'new');
  return tc;
}

const safe = (from: number, to: number): TickContext['verdict'] => ({ safe: true, from, to });

t.test('alloc-window', async (t) => {
  const root = tree(t, [proc(1)], 400, 1000);
  const s = state(root);
  let tc = beginTick(s);
  run(allocWindow, s, tc);
  t.same(tc.verdict, { safe: false, why: 'pid allocator counters unreadable' }, 'first tick: nothing to compare with');
  t.equal(tc.probeable, false);
  t.equal(tc.stats.full, true, 'the first tick reads everything');
  t.same(s.prevAlloc, { lastPid: 400, pidMax: 32768, forks: 1000, tasks: 100 }, 'counters kept for the next tick');

  counters(root, 405, 1005);
  tc = beginTick(s);
  run(allocWindow, s, tc);
  t.same(tc.verdict, safe(400, 405), 'the window: pids handed out since');
  t.equal(tc.probeable, true);
  t.equal(tc.stats.full, false);

  counters(root, 405 + MAX_PROBED_RANGE + 1, 1005 + MAX_PROBED_RANGE + 1);
  tc = beginTick(s);
  run(allocWindow, s, tc);
  t.equal(tc.verdict.safe, true);
  t.equal(tc.probeable, false, 'a window wider than MAX_PROBED_RANGE is listed, not probed');

  counters(root, 350, 9000);
  tc = beginTick(s);
  run(allocWindow, s, tc);
  t.same(tc.verdict, { safe: false, why: 'pid allocator wrapped' });
  t.equal(tc.probeable, false);
});

t.test('exits: by listing /proc (no watcher)', async (t) => {
  const root = tree(t, [proc(1), proc(10), proc(20, { ...INITIAL_NS, net: OWN_NET })]);
  const s = state(root);
  known(s, [1, 10, 20]);
  gone(root, 20);
  const tc = beginTick(s);
  tc.verdict = safe(400, 400);
  tc.probeable = true;
  run(exits, s, tc);
  t.equal(tc.probe, false, 'no watcher: never probing');
  t.same(tc.listed, [1, 10]);
  t.match(tc.stats, { listedProc: true, listed: 2, gone: 1, full: false });
  t.same([...s.procs.keys()].sort(), [1, 10], 'the unlisted pid is dropped');
  t.ok(s.exitedNow.has(20), 'its children count as reparented');
  t.notOk(s.members.byNs.has(OWN_NET), 'its namespace had no other member');
  t.equal(s.members.byNs.get(INITIAL_NS.mnt)?.count, 2);

  const wrap = beginTick(s);
  wrap.verdict = { safe: false, why: 'pid allocator wrapped' };
  run(exits, s, wrap);
  t.match(wrap.stats, { full: true, why: 'pid allocator wrapped', listedProc: true }, 'without pidfds a wrap makes every pid suspect');
});

t.test('exits: pidfd reports', async (t) => {
  const root = tree(t, [proc(1), proc(10), proc(11), proc(12)]);
  const w = new FakeWatcher(root);
  const s = state(root, { watcher: w });
  known(s, [1, 10, 11, 12]);
  for (const pid of [1, 10, 11, 12]) w.watch(pid);
  gone(root, 10);
  w.report = [10, 11];
  const tc = beginTick(s);
  tc.verdict = safe(400, 400);
  tc.probeable = true;
  run(exits, s, tc);
  t.equal(tc.probe, true, 'watcher and a probeable window: probing');
  t.equal(tc.listed, null, '/proc not listed');
  t.equal(tc.stats.listedProc, false);
  t.equal(tc.stats.gone, 1);
  t.notOk(s.procs.has(10), 'reported and not listed: dropped');
  t.ok(s.procs.has(11), 'reported but still there: a zombie, kept');
  t.same([...s.zombies], [11]);
  t.same([...s.exitedNow].sort(), [10, 11]);
  t.notOk(w.has(11), "the zombie's pidfd is given back");

  w.report = { ok: false, code: 'EBADF', errno: 9, reason: 'bad fd' };
  const broken = beginTick(s);
  broken.verdict = safe(400, 400);
  broken.probeable = true;
  run(exits, s, broken);
  t.equal(s.watch.watcher, null, 'epoll_wait failing turns pidfds off');
  t.equal(s.watch.noWatcher, 'epoll_wait failed (EBADF)');
  t.equal(broken.probe, false);
  t.same(broken.listed, [1, 11, 12], 'and /proc is listed in the same tick');
});

t.test('new-pids: listed pids without a watcher', async (t) => {
  const root = tree(t, [proc(1), proc(10), proc(300)]);
  const s = state(root);
  known(s, [1, 10, 300]);
  t.equal(s.young.size, 0, 'first tick: processes that were there before us are not young');
  t.equal(s.procs.get(10)?.bornTick, -Infinity);

  writeFakeProcfs(root, [proc(401, { ...INITIAL_NS, uts: OWN_UTS })]);
  fs.rmSync(path.join(root, '10', 'ns', 'net'));
  fs.symlinkSync(`net:[${OWN_NET}]`, path.join(root, '10', 'ns', 'net'));
  let tc = beginTick(s);
  tc.verdict = safe(290, 401);
  tc.listed = [1, 10, 300, 401];
  run(newPids, s, tc);
  t.equal(tc.stats.read, 2, 'the new pid 401 and pid 300 (inside the window) are read');
  t.equal(s.procs.get(401)?.bornTick, s.tickNo);
  t.ok(s.young.has(401), 'a new process is young');
  t.equal(s.procs.get(300)?.bornTick, s.tickNo, 'a pid in the window may be another process: young again');
  t.notOk(s.members.byNs.has(OWN_NET), 'pid 10 (outside the window, no wrap) is not read: its change waits for the sweep');
  t.equal(s.members.byNs.get(OWN_UTS)?.min, 401);

  tc = beginTick(s);
  tc.verdict = { safe: false, why: 'pid allocator wrapped' };
  tc.listed = [1, 10, 300, 401];
  run(newPids, s, tc);
  t.equal(tc.stats.read, 4, 'a possible wrap: every listed pid read');
  t.equal(s.members.byNs.get(OWN_NET)?.min, 10);
});

t.test('new-pids: probing the window with a watcher', async (t) => {
  const root = tree(t, [proc(1), proc(401), proc(402), proc(403), proc(404)]);
  const w = new FakeWatcher(root);
  const s = state(root, { watcher: w });
  known(s, [1]);
  w.watch(1);
  w.watch(402);
  w.threads.add(403);
  w.capacity = 3;
  const tc = beginTick(s);
  tc.verdict = safe(400, 405);
  tc.probe = true;
  const yields = run(newPids, s, tc);
  t.equal(yields, 4, 'one unit per admitted pid (401, 403, 404, 405)');
  t.same([...s.procs.keys()].sort(), [1, 401, 404], '401 watched and read, 402 watched already, 403 a thread, 405 none');
  t.ok(w.has(401));
  t.same([...s.watch.unwatched], [404], 'no pidfd to spare: looked for one by one');
  t.equal(tc.stats.read, 2);
  t.equal(tc.stats.listed, 0);
});

t.test('polled-exits: unwatched pids and zombies', async (t) => {
  const root = tree(t, [proc(1), proc(10), proc(11), proc(12), proc(13)]);
  const w = new FakeWatcher(root);
  const s = state(root, { watcher: w });
  known(s, [1, 10, 11, 12, 13]);
  w.watch(1);
  s.watch.unwatched.add(10).add(11);
  s.zombies.add(12).add(13);
  w.watch(13);
  gone(root, 10);
  gone(root, 12);

  const listing = beginTick(s);
  listing.probe = false;
  run(polledExits, s, listing);
  t.ok(s.procs.has(10), 'when /proc was listed, unwatched pids are not looked at here');
  t.notOk(s.procs.has(12), 'a reaped zombie is dropped');
  t.same([...s.zombies], [], 'a zombie with a pidfd again is the watcher’s');
  t.ok(s.procs.has(13));

  const probing = beginTick(s);
  probing.probe = true;
  run(polledExits, s, probing);
  t.notOk(s.procs.has(10), 'a gone unwatched pid is dropped');
  t.ok(w.has(11), 'one still there gets a pidfd once there is room');
  t.same([...s.watch.unwatched], []);
  t.equal(probing.stats.gone, 1);

  s.watch.unwatched.add(13);
  w.unwatch(13);
  w.capacity = w.held.size;
  const full = beginTick(s);
  full.probe = true;
  run(polledExits, s, full);
  t.same([...s.watch.unwatched], [13], 'no room: stays unwatched');
});

t.test('young', async (t) => {
  const root = tree(t, [proc(1)]);
  const s = state(root, { youngTicks: 2 });
  known(s, [1]);
  let tc = beginTick(s);
  writeFakeProcfs(root, [proc(50)]);
  readProcess(s, 50, tc.now, 'new');
  run(young, s, tc);
  t.equal(tc.stats.read, 0, 'not in the tick it was born');

  fs.rmSync(path.join(root, '50', 'ns', 'uts'));
  fs.symlinkSync(`uts:[${OWN_UTS}]`, path.join(root, '50', 'ns', 'uts'));
  tc = beginTick(s);
  run(young, s, tc);
  t.equal(tc.stats.read, 1, 'read again the next tick');
  t.equal(s.members.byNs.get(OWN_UTS)?.min, 50, 'its unshare right after the fork is seen');

  tc = beginTick(s);
  tc.stats.full = true;
  run(young, s, tc);
  t.equal(tc.stats.read, 0, 'not in a full tick');

  tc = beginTick(s);
  run(young, s, tc);
  t.equal(tc.stats.read, 0, 'older than youngTicks');
  t.notOk(s.young.has(50), 'and no longer young');
});

t.test('sweep', async (t) => {
  const pids = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  const root = tree(
    t,
    pids.map((p) => proc(p)),
  );
  const s = state(root, { fullRescanMs: 1000 });
  const first = known(s, pids);
  run(sweep, s, first);
  t.equal(first.stats.swept, 0, 'the first sweep has no elapsed time');
  t.equal(s.sweep.lastAt, first.now);

  let tc = beginTick(s, first.now + 500);
  readProcess(s, 3, tc.now, 'verify');
  run(sweep, s, tc);
  t.equal(tc.stats.swept, 4, 'half the period: half the processes, but pid 3 was read this tick already');
  t.equal(tc.stats.read, 4);
  t.equal(s.sweep.cursor, 5);
  t.same(
    pids.filter((p) => s.procs.get(p)?.verifiedAt === tc.now),
    [1, 2, 3, 4, 5],
    'in pid order',
  );

  tc = beginTick(s, first.now + 1000);
  run(sweep, s, tc);
  t.equal(tc.stats.swept, 5, 'the next five, and nothing is older than the period');
  t.equal(s.sweep.cursor, 10);

  s.sweep.lastAt = 0;
  (s.procs.get(7) as { verifiedAt: number }).verifiedAt = tc.now - 5000;
  tc = beginTick(s, tc.now + 1);
  run(sweep, s, tc);
  t.equal(tc.stats.swept, 1, 'no quota, but a process not verified for a period is read');

  tc = beginTick(s, tc.now + 10_000);
  tc.stats.full = true;
  run(sweep, s, tc);
  t.equal(tc.stats.swept, 0, 'a full tick just read everything');
  t.equal(s.sweep.lastAt, tc.now);
});

t.test('representatives', async (t) => {
  const root = tree(t, [proc(1), proc(10, { ...INITIAL_NS, net: OWN_NET }, { ppid: 5 }), proc(11, { ...INITIAL_NS, net: OWN_NET }), proc(12, { ...INITIAL_NS, net: OWN_NET })]);
  const s = state(root);
  let tc = known(s, [1, 10, 11, 12]);
  run(representatives, s, tc);
  t.equal(tc.stats.reps, 2, 'pid 1 for the host namespaces, pid 10 for the net namespace');
  t.same([...s.repDetails.keys()].sort(), [1, 10]);
  t.equal(tc.detailsChanged, true);

  tc = beginTick(s);
  run(representatives, s, tc);
  t.equal(tc.stats.reps, 0, 'fresh details are not read again');
  t.equal(s.repDetails.get(10)?.repTick, s.tickNo, 'but marked as still representatives');
  t.equal(tc.detailsChanged, false);

  tc = beginTick(s);
  s.exitedNow.add(5);
  run(representatives, s, tc);
  t.equal(tc.stats.reps, 1, "pid 10's parent exited: reparented, read again");

  fs.writeFileSync(path.join(root, '10', 'stat'), 'garbage');
  s.repDetails.delete(10);
  tc = beginTick(s);
  run(representatives, s, tc);
  t.notOk(s.procs.has(10), 'an unreadable representative is dropped');
  t.equal(s.members.byNs.get(OWN_NET)?.min, 11, 'the next lowest pid represents the namespace');
  t.ok(s.repDetails.has(11));
  t.match(tc.stats, { reps: 2, gone: 1 });
});

t.test('rebuild', async (t) => {
  const root = tree(t, [proc(1), proc(10, { ...INITIAL_NS, net: OWN_NET }, { uid: 1000 }), proc(11, { ...INITIAL_NS, net: OWN_NET })]);
  const s = state(root);
  let tc = known(s, [1, 10, 11]);
  run(representatives, s, tc);
  run(rebuild, s, tc);
  t.equal(s.rows.length, 9, "the host's eight namespaces and the own net one");
  t.same(
    s.rows.find((r) => r.ns === OWN_NET),
    { ns: OWN_NET, type: 'net', path: '/proc/10/ns/net', nprocs: 2, pid: 10, ppid: 1, command: '/bin/p10', uid: 1000, user: 'alice' },
  );
  t.match(
    s.rows.find((r) => r.ns === INITIAL_NS.mnt),
    { pid: 1, nprocs: 3, user: 'root' },
  );
  t.same(
    s.rows.map((r) => r.ns),
    [...s.rows.map((r) => r.ns)].sort((a, b) => a - b),
    'by inode',
  );
  t.equal(tc.stats.changed, true);
  t.equal(s.structureChanged, false);

  const before = s.rows;
  tc = beginTick(s);
  run(representatives, s, tc);
  run(rebuild, s, tc);
  t.equal(s.rows, before, 'nothing changed: the same rows, not rebuilt');
  t.equal(tc.stats.changed, false);

  s.users = renamed;
  s.usersChanged = true;
  tc = beginTick(s);
  run(representatives, s, tc);
  run(rebuild, s, tc);
  t.equal(s.rows.find((r) => r.ns === INITIAL_NS.mnt)?.user, 'admin', 'new USER names are shown');
  t.equal(tc.stats.changed, true);
  t.equal(s.usersChanged, false);
});

t.test('drainTick runs the phases to the end', async (t) => {
  const root = tree(t, [proc(1), proc(10)]);
  const s = state(root);
  const st = drainTick({
    tick: () =>
      (function* () {
        const tc = beginTick(s);
        for (const phase of [allocWindow, exits, newPids, representatives, rebuild]) yield* phase.run(s, tc);
        return tc.stats;
      })(),
  });
  t.match(st, { full: true, listedProc: true, listed: 2, read: 2 });
  t.equal(s.rows.length, 8);
});
