/**
 * The incremental scanner against a full scan (scanNamespaces, itself checked against lsns) on a
 * hand-made procfs tree mutated between ticks: every kind of change, pid reuse inside and outside
 * the allocator's range, a wrap, and the one staleness the design allows (a process's own
 * setns/unshare) until the sweep.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import t from 'tap';
import { userNamesFromText } from '../../src/procfs/passwd.js';
import { ProcReader } from '../../src/procfs/reader.js';
import { IncrementalScanner } from '../../src/scan/incremental.js';
import { drainTick as runTick } from '../support/drain-tick.js';
import { scanContainers } from '../../src/scan/containers.js';
import { initialNamespaces } from '../../src/scan/host-namespaces.js';
import { scanNamespaces, type NamespaceRow } from '../../src/scan/namespaces.js';
import { hostOnlyCount, isolatedProcess } from '../../src/scope/process-topology.js';
import { INITIAL_NS, smallHost, writeFakeProcfs, type FakeProcess } from '../support/fake-procfs.js';

const users = userNamesFromText('root:x:0:0::/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n', 'test');

interface Counters {
  lastPid: number;
  forks: number;
  tasks?: number;
  pidMax?: number;
}

function writeCounters(root: string, c: Counters): void {
  fs.mkdirSync(path.join(root, 'sys', 'kernel'), { recursive: true });
  fs.writeFileSync(path.join(root, 'sys', 'kernel', 'ns_last_pid'), `${c.lastPid}\n`);
  fs.writeFileSync(path.join(root, 'sys', 'kernel', 'pid_max'), `${c.pidMax ?? 32768}\n`);
  fs.writeFileSync(path.join(root, 'stat'), `cpu  1 2 3 4\nintr 5\nprocesses ${c.forks}\nprocs_running 1\n`);
  fs.writeFileSync(path.join(root, 'loadavg'), `0.00 0.00 0.00 1/${c.tasks ?? 100} ${c.lastPid}\n`);
}

function removeProc(root: string, pid: number): void {
  fs.rmSync(path.join(root, String(pid)), { recursive: true, force: true });
}

function tree(t: { teardown(fn: () => void): void }): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'incr-'));
  t.teardown(() => fs.rmSync(root, { recursive: true, force: true }));
  return root;
}

const full = (root: string): NamespaceRow[] => scanNamespaces(new ProcReader(root), users).rows;

/** detailsMaxAgeMs 0: representatives' owner and command line every tick (the default bound has its own test). */
function scanner(root: string, fullRescanMs: number, detailsMaxAgeMs = 0): IncrementalScanner {
  return new IncrementalScanner(new ProcReader(root), users, { fullRescanMs, cgroups: true, watcher: null, detailsMaxAgeMs });
}

const NO_SWEEP = 3_600_000;

t.test('each kind of change is seen by the next tick, without waiting for the sweep', async (t) => {
  const root = tree(t);
  const { procs } = smallHost();
  writeFakeProcfs(root, procs);
  writeCounters(root, { lastPid: 400, forks: 1000 });
  const s = scanner(root, NO_SWEEP);
  runTick(s);
  t.same(s.rows, full(root), 'first tick = full scan');

  // A new process in new namespaces (pid above the last one).
  const newNs = { ...INITIAL_NS, net: 4026533001, uts: 4026533002 };
  writeFakeProcfs(root, [{ pid: 401, ppid: 40, uid: 1000, comm: 'sleep', argv: ['sleep', '100'], ns: newNs }]);
  writeCounters(root, { lastPid: 401, forks: 1001 });
  const st = runTick(s);
  t.equal(st.full, false);
  t.same(s.rows, full(root), 'process start');
  t.ok(s.rows.some((r) => r.ns === 4026533001 && r.pid === 401));

  // Exit of that process: its namespaces go.
  removeProc(root, 401);
  runTick(s);
  t.same(s.rows, full(root), 'process exit');
  t.notOk(s.rows.some((r) => r.ns === 4026533001));

  // exec: a representative's command line changes (pid 301 is the container's lowest pid).
  fs.writeFileSync(path.join(root, '301', 'cmdline'), 'nginx\0-g\0daemon off;\0');
  fs.writeFileSync(path.join(root, '301', 'stat'), '301 (nginx-new) S 300 1 1 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 401 0 0\n');
  runTick(s);
  t.same(s.rows, full(root), 'exec');
  t.match(
    s.rows.find((r) => r.pid === 301),
    { command: 'nginx -g daemon off;' },
  );

  // setuid of a representative.
  fs.writeFileSync(path.join(root, '301', 'status'), 'Name:\tnginx\nUid:\t1000\t1000\t1000\t1000\n');
  runTick(s);
  t.same(s.rows, full(root), 'setuid');
  t.match(
    s.rows.find((r) => r.pid === 301),
    { uid: 1000, user: 'alice' },
  );

  // Reparenting: the parent dies, the child is adopted by init.
  removeProc(root, 300);
  fs.writeFileSync(path.join(root, '301', 'stat'), '301 (nginx-new) S 1 1 1 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 401 0 0\n');
  runTick(s);
  t.same(s.rows, full(root), 'reparenting');
  t.match(
    s.rows.find((r) => r.pid === 301),
    { ppid: 1 },
  );

  // The lowest pid of a namespace exits: the next one represents it.
  removeProc(root, 301);
  runTick(s);
  t.same(s.rows, full(root), 'representative exit');
  t.match(
    s.rows.find((r) => r.ns === 4026532204),
    { pid: 302, nprocs: 1 },
  );

  // Garbage stat of a representative: left out of every count, as a full scan does.
  fs.writeFileSync(path.join(root, '302', 'stat'), 'garbage');
  runTick(s);
  t.same(s.rows, full(root), 'garbage stat');
});

t.test('pid reuse: inside the allocator range it is seen at once; a wrap makes a full re-read', async (t) => {
  const root = tree(t);
  const base: FakeProcess[] = [
    { pid: 1, ppid: 0, uid: 0, comm: 'init', argv: ['/sbin/init'], ns: INITIAL_NS },
    { pid: 50, ppid: 1, uid: 0, comm: 'a', argv: ['a'], ns: INITIAL_NS },
    { pid: 110, ppid: 1, uid: 0, comm: 'b', argv: ['b'], ns: INITIAL_NS },
  ];
  writeFakeProcfs(root, base);
  writeCounters(root, { lastPid: 110, forks: 500 });
  const s = scanner(root, NO_SWEEP);
  runTick(s);

  // 110 exits and the allocator, going on from 110... cannot hand 110 out again without wrapping;
  // simulate a process that came and went, then pid 120 reused by a new process in its own net ns,
  // all between two ticks: 120 is new anyway. The interesting one: a pid known at the last tick and
  // inside (last, now] — possible only if it exited and was handed out again.
  writeCounters(root, { lastPid: 120, forks: 520 });
  removeProc(root, 110);
  writeFakeProcfs(root, [{ pid: 110, ppid: 1, uid: 0, comm: 'c', argv: ['c'], ns: { ...INITIAL_NS, net: 4026534001 } }]);
  // Counters that put 110 outside the range: the tick trusts it is the same process (stale).
  writeCounters(root, { lastPid: 120, forks: 520 });
  runTick(s);
  t.notOk(
    s.rows.some((r) => r.ns === 4026534001),
    'outside the range and no wrap: taken for the same process until the sweep',
  );

  // Now a reuse inside the range: counters say pids 121..130 were handed out and 125 is known.
  writeFakeProcfs(root, [{ pid: 125, ppid: 1, uid: 0, comm: 'd', argv: ['d'], ns: INITIAL_NS }]);
  writeCounters(root, { lastPid: 125, forks: 525 });
  runTick(s);
  removeProc(root, 125);
  writeFakeProcfs(root, [{ pid: 125, ppid: 1, uid: 0, comm: 'e', argv: ['e'], ns: { ...INITIAL_NS, uts: 4026534002 } }]);
  writeCounters(root, { lastPid: 130, forks: 530 });
  runTick(s);
  t.ok(
    s.rows.some((r) => r.ns === 4026534002 && r.pid === 125),
    'a known pid inside (last, now] is read again',
  );

  // A wrap: last pid goes back. Every known pid is read again, so pid 110's new namespace shows.
  writeCounters(root, { lastPid: 60, forks: 40000 });
  const st = runTick(s);
  t.equal(st.full, true);
  t.match(st.why, /wrapped|too many forks/);
  t.same(s.rows, full(root), 'after a possible wrap, equal to a full scan');
  t.ok(s.rows.some((r) => r.ns === 4026534001));
});

t.test("a representative's details: at once when its parent exits or it is replaced, else within detailsMaxAgeMs", async (t) => {
  const root = tree(t);
  const { procs } = smallHost();
  writeFakeProcfs(root, procs);
  writeCounters(root, { lastPid: 400, forks: 1000 });
  const s = scanner(root, NO_SWEEP, 400);
  // Taken before the tick that reads the details: their age at a later tick is at most now - started.
  const started = performance.now();
  runTick(s);
  t.same(s.rows, full(root), 'first tick = full scan');

  // setuid and an argv rewrite (setproctitle): stale until the age is reached.
  fs.writeFileSync(path.join(root, '301', 'status'), 'Name:\tnginx\nUid:\t1000\t1000\t1000\t1000\n');
  fs.writeFileSync(path.join(root, '301', 'cmdline'), 'nginx: master process\0');
  runTick(s);
  if (performance.now() - started < 400) {
    t.match(
      s.rows.find((r) => r.pid === 301),
      { uid: 101 },
      'setuid not seen before the age (the documented bound)',
    );
    t.not(s.rows.find((r) => r.pid === 301)?.command, 'nginx: master process');
  }
  // Reparenting (the parent exits): seen at once, with everything else the details say now.
  removeProc(root, 300);
  fs.writeFileSync(path.join(root, '301', 'stat'), '301 (nginx) S 1 1 1 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 300 0 0\n');
  runTick(s);
  t.match(
    s.rows.find((r) => r.pid === 301),
    { ppid: 1 },
    'reparenting is seen by the next tick',
  );
  await new Promise((r) => setTimeout(r, 450));
  const readAt = performance.now();
  runTick(s);
  t.same(s.rows, full(root), 'equal to a full scan once the details are older than the age');
  t.match(
    s.rows.find((r) => r.pid === 301),
    { uid: 1000, command: 'nginx: master process' },
  );

  // An exec that renames the process: its details are stale until the age too, then all seen.
  fs.writeFileSync(path.join(root, '301', 'cmdline'), 'caddy\0run\0');
  fs.writeFileSync(path.join(root, '301', 'status'), 'Name:\tcaddy\nUid:\t0\t0\t0\t0\n');
  fs.writeFileSync(path.join(root, '301', 'stat'), '301 (caddy) S 1 1 1 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 300 0 0\n');
  runTick(s);
  if (performance.now() - readAt < 400) {
    t.match(
      s.rows.find((r) => r.pid === 301),
      { uid: 1000, command: 'nginx: master process' },
      'an exec: not seen before the age',
    );
  }
  await new Promise((r) => setTimeout(r, 450));
  runTick(s);
  t.same(s.rows, full(root), 'an exec: equal to a full scan once the details are older than the age');
  t.match(
    s.rows.find((r) => r.pid === 301),
    { uid: 0, command: 'caddy run' },
  );

  // A new representative (the old one exits) is read at once, whatever the age.
  removeProc(root, 301);
  runTick(s);
  t.same(s.rows, full(root), 'a new representative: equal to a full scan at the next tick');
});

t.test('the sweep keeps a known pid link (it never changes) and still equals a full scan as links vanish', async (t) => {
  const root = tree(t);
  const { procs } = smallHost();
  writeFakeProcfs(root, procs);
  writeCounters(root, { lastPid: 400, forks: 1000 });
  const s = scanner(root, 1);
  runTick(s);
  t.same(s.rows, full(root), 'first tick = full scan');
  // A zombie keeps only its pid and user links.
  for (const type of ['mnt', 'net', 'uts', 'ipc', 'cgroup', 'time']) fs.rmSync(path.join(root, '301', 'ns', type), { force: true });
  await new Promise((r) => setTimeout(r, 5));
  runTick(s);
  t.same(s.rows, full(root), 'only pid and user left: equal to a full scan');
  // No link readable at all: the pid link is not kept either (the process is left out).
  fs.rmSync(path.join(root, '301', 'ns', 'user'), { force: true });
  fs.rmSync(path.join(root, '301', 'ns', 'pid'), { force: true });
  await new Promise((r) => setTimeout(r, 5));
  runTick(s);
  t.same(s.rows, full(root), 'no link left: equal to a full scan');
});

t.test('a process that unshares or setns without exec is seen after the sweep, not before', async (t) => {
  const root = tree(t);
  const { procs } = smallHost();
  writeFakeProcfs(root, procs);
  writeCounters(root, { lastPid: 400, forks: 1000 });
  const noSweep = scanner(root, NO_SWEEP);
  const sweep = scanner(root, 5_000);
  runTick(noSweep);
  runTick(sweep);
  // pid 40 (an old process) moves into a new uts namespace: nothing else changes.
  fs.rmSync(path.join(root, '40', 'ns', 'uts'));
  fs.symlinkSync('uts:[4026535001]', path.join(root, '40', 'ns', 'uts'));
  runTick(noSweep);
  t.notOk(
    noSweep.rows.some((r) => r.ns === 4026535001),
    'stale without a sweep (the documented bound)',
  );
  t.not(noSweep.rows, full(root));
  // The sweep covers every process within fullRescanMs: wait that long in ticks.
  await new Promise((r) => setTimeout(r, 5_100));
  runTick(sweep);
  t.same(sweep.rows, full(root), 'equal to a full scan once swept');
  t.ok(sweep.rows.some((r) => r.ns === 4026535001 && r.pid === 40));
});

t.test('a tree mutated at random between ticks equals a full scan once swept', async (t) => {
  const root = tree(t);
  const procs: FakeProcess[] = [];
  for (let i = 0; i < 60; i++) {
    const pid = 10 + i * 3;
    procs.push({ pid, ppid: 1, uid: i % 3 === 0 ? 0 : 1000, comm: `p${i}`, argv: [`/bin/p${i}`], ns: i % 5 === 0 ? { ...INITIAL_NS, net: 4026536000 + i } : INITIAL_NS });
  }
  writeFakeProcfs(root, procs);
  let last = 400;
  let forks = 1000;
  writeCounters(root, { lastPid: last, forks });
  const s = scanner(root, 5_000);
  runTick(s);
  let seed = 7;
  const rnd = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  for (let round = 0; round < 25; round++) {
    const alive = fs
      .readdirSync(root)
      .filter((n) => /^\d+$/.test(n))
      .map(Number);
    const victim = alive[rnd(alive.length)] as number;
    switch (rnd(4)) {
      case 0:
        removeProc(root, victim);
        break;
      case 1: {
        last += 1 + rnd(5);
        forks += 6;
        writeFakeProcfs(root, [{ pid: last, ppid: victim, uid: rnd(2) ? 0 : 1000, comm: 'n', argv: ['new', String(round)], ns: rnd(2) ? INITIAL_NS : { ...INITIAL_NS, ipc: 4026537000 + round } }]);
        break;
      }
      case 2:
        fs.writeFileSync(path.join(root, String(victim), 'cmdline'), `exec${round}\0`);
        break;
      default:
        fs.writeFileSync(path.join(root, String(victim), 'status'), `Name:\tx\nUid:\t${rnd(3)}\t0\t0\t0\n`);
    }
    writeCounters(root, { lastPid: last, forks });
    runTick(s);
    t.same(s.rows, full(root), `round ${round}`);
  }
});

t.test("summary: the report's processes (isolated ones, pids 1 and 2), the host-only count and containers, equal to a full scan's", async (t) => {
  const root = tree(t);
  const docker = (n: number): string => `0::/system.slice/docker-${n.toString(16).padStart(64, 'a')}.scope\n`;
  const ownNet = { ...INITIAL_NS, net: 4026538001 };
  const procs: FakeProcess[] = [
    { pid: 1, ppid: 0, uid: 0, comm: 'init', argv: ['/sbin/init'], ns: INITIAL_NS, cgroup: '0::/init.scope\n' },
    { pid: 2, ppid: 0, uid: 0, comm: 'kthreadd', argv: [], ns: INITIAL_NS, cgroup: '0::/\n' },
    // Host-only: host namespaces, no container (one without a cgroup file: unreadable, still host-only).
    { pid: 10, ppid: 1, uid: 0, comm: 'a', argv: ['a'], ns: INITIAL_NS, cgroup: '0::/system.slice/a.service\n' },
    { pid: 11, ppid: 1, uid: 0, comm: 'b', argv: ['b'], ns: INITIAL_NS },
    { pid: 12, ppid: 1, uid: 0, comm: 'c', argv: ['c'], ns: INITIAL_NS, cgroup: '0::/user.slice\n' },
    // Isolated: own net namespace, no container; a --net=host container (host namespaces); a container in its own net ns.
    { pid: 20, ppid: 1, uid: 0, comm: 'd', argv: ['d'], ns: ownNet, cgroup: '0::/user.slice\n' },
    { pid: 30, ppid: 1, uid: 0, comm: 'e', argv: ['e'], ns: INITIAL_NS, cgroup: docker(1) },
    { pid: 31, ppid: 30, uid: 0, comm: 'f', argv: ['f'], ns: ownNet, cgroup: docker(2) },
  ];
  writeFakeProcfs(root, procs);
  writeCounters(root, { lastPid: 40, forks: 100 });
  const reader = new ProcReader(root);
  const s = new IncrementalScanner(reader, users, { fullRescanMs: NO_SWEEP, cgroups: true, watcher: null });
  runTick(s);
  const got = s.summary(false);
  t.same([...got.memberships.keys()], [1, 2, 20, 30, 31], 'isolated processes and pids 1, 2 (hand-counted)');
  t.equal(got.processes, 8);
  t.equal(got.hostOnly, 5, 'pids 1, 2, 10, 11, 12 (hand-counted)');
  t.same([...got.containers.byPid.keys()], [30, 31]);
  t.equal(got.containers.unreadable, 1, "pid 11's cgroup file is missing");

  // The same from a full scan, through the report's own definitions.
  const scan = scanNamespaces(new ProcReader(root), users);
  const initial = initialNamespaces(scan.memberships);
  const c = scanContainers(new ProcReader(root), scan.memberships, initial);
  const view = { memberships: scan.memberships, initial, containerOf: c.byPid };
  t.equal(got.hostOnly, hostOnlyCount(view), "host-only count = the full view's");
  t.same(
    [...got.memberships.keys()],
    [...scan.memberships.keys()].filter((pid) => pid <= 2 || isolatedProcess(view, pid, scan.memberships.get(pid) ?? [])),
    "isolated = the report's isolatedProcess over a full scan",
  );
  t.same(s.summary(true).memberships, scan.memberships, 'all: every process');
  t.same(got.containers.byPid, c.byPid);
});
