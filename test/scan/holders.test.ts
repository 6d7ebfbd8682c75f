/**
 * Holders of namespaces no process is in (src/scan/holders/, the incremental holders phase), on
 * hand-made trees: threads in other namespaces than their process, fds on namespaces among fds
 * that are not, and which holder a row shows. Every expected inode, pid and text is read off the
 * trees below by hand.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import t from 'tap';
import { userNamesFromText } from '../../src/procfs/passwd.js';
import { ProcReader } from '../../src/procfs/reader.js';
import type { ProcDetails } from '../../src/procfs/types.js';
import { discoverHolders } from '../../src/scan/holders/discover.js';
import { heldRows } from '../../src/scan/holders/held-rows.js';
import { heldSummary, holderCell, type TaskHold } from '../../src/scan/holders/holder.js';
import { drain, FD_CHUNK, readFdHolds, readThreadHolds } from '../../src/scan/holders/process-holds.js';
import { Enricher } from '../../src/scan/enrich.js';
import { IncrementalScanner } from '../../src/scan/incremental.js';
import { scanNamespaces, type NamespaceRow } from '../../src/scan/namespaces.js';
import { drainTick } from '../support/drain-tick.js';
import { INITIAL_NS, writeFakeProcfs, type FakeProcess } from '../support/fake-procfs.js';

const users = userNamesFromText('root:x:0:0::/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n', 'test');

const LEAKED_NET = 4026532901; // only pid 10's fd 7 holds it
const LEAKED_IPC = 4026532902; // only pid 10's fd 9 holds it
const THREAD_NET = 4026532903; // only thread 21 of pid 20 is in it; pid 10's fd 12 holds it too
const SHARED_UTS = 4026532904; // pid 30 is in it; pid 10's fd 13 holds it as well (a process row)

function host(): FakeProcess[] {
  const p = (pid: number, extra: Partial<FakeProcess> = {}): FakeProcess => ({ pid, ppid: 1, uid: 0, comm: `p${pid}`, argv: [`/bin/p${pid}`], ns: INITIAL_NS, ...extra });
  return [
    p(1, { comm: 'init', argv: ['/sbin/init'] }),
    p(10, {
      comm: 'shim',
      argv: ['containerd-shim', '-id', 'x'],
      fds: {
        0: '/dev/null',
        1: 'pipe:[5001]',
        2: 'socket:[5002]',
        3: 'anon_inode:[eventfd]',
        4: '/var/log/x (deleted)',
        5: 'net:[abc]', // garbage: not an inode
        6: 'pidfd:[77]',
        7: `net:[${LEAKED_NET}]`,
        9: `ipc:[${LEAKED_IPC}]`,
        12: `net:[${THREAD_NET}]`,
        13: `uts:[${SHARED_UTS}]`,
      },
    }),
    p(20, { comm: 'cni', argv: ['/opt/cni/bin/bridge'], uid: 1000, threads: [{ tid: 21, ns: { net: THREAD_NET } }, { tid: 22 }] }),
    p(30, { ns: { ...INITIAL_NS, uts: SHARED_UTS } }),
  ];
}

function tree(tt: { teardown(fn: () => void): void }, procs: readonly FakeProcess[]): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'holders-'));
  tt.teardown(() => fs.rmSync(root, { recursive: true, force: true }));
  writeFakeProcfs(root, procs);
  return root;
}

for (const nativeLinks of [false, true]) {
  t.test(`reader (${nativeLinks ? 'koffi' : 'fs'}): fds that name a namespace, threads by the task directory`, (tt) => {
    const root = tree(tt, host());
    const reader = new ProcReader(root, { nativeLinks });
    const out: TaskHold[] = [];
    tt.equal(drain(readFdHolds(reader, 10, null, out)), 'read');
    tt.same(
      out.map((h) => [h.id, h.type, h.ino]).sort((a, b) => (a[0] as number) - (b[0] as number)),
      [
        [7, 'net', LEAKED_NET],
        [9, 'ipc', LEAKED_IPC],
        [12, 'net', THREAD_NET],
        [13, 'uts', SHARED_UTS],
      ].sort((a, b) => (a[0] as number) - (b[0] as number)),
      'the four namespace fds, nothing of the sockets, pipes, files or the garbage link',
    );
    const onlyIpc: TaskHold[] = [];
    drain(readFdHolds(reader, 10, new Set(['ipc']), onlyIpc));
    tt.same(
      onlyIpc.map((h) => h.ino),
      [LEAKED_IPC],
      'types filter',
    );
    tt.equal(drain(readFdHolds(reader, 30, null, [])), 'vanished', 'a tree without the fd directory: as if gone, no hold');
    tt.equal(drain(readFdHolds(reader, 99, null, [])), 'vanished', 'a pid that is not there');
    tt.equal(reader.threadCount(20), 3, 'task/ has the leader and two threads');
    tt.equal(reader.threadCount(30), 1, 'no task directory: one thread');
    const threads: TaskHold[] = [];
    tt.equal(readThreadHolds(reader, 20, reader.readNsLinks(20), ['mnt', 'net', 'pid', 'uts', 'ipc', 'user', 'cgroup', 'time'], threads), 2, 'both threads looked at');
    tt.same(threads, [{ kind: 'thread', pid: 20, id: 21, type: 'net', ino: THREAD_NET }], 'only the thread whose net differs');
    tt.end();
  });
}

t.test('an fd table is read in chunks, yielding between them', (tt) => {
  const fds: Record<number, string> = {};
  for (let i = 0; i < FD_CHUNK * 2 + 5; i++) fds[i] = i === FD_CHUNK + 3 ? `net:[${LEAKED_NET}]` : 'socket:[1]';
  const root = tree(tt, [{ pid: 5, ppid: 1, uid: 0, comm: 'many', argv: ['many'], ns: INITIAL_NS, fds }]);
  const g = readFdHolds(new ProcReader(root), 5, null, []);
  let yields = 0;
  let r = g.next();
  while (r.done !== true) {
    yields++;
    r = g.next();
  }
  tt.equal(yields, 2, 'three chunks, two pauses');
  tt.equal(r.value, 'read');
  tt.end();
});

const details = (pid: number, comm: string, uid = 0): ProcDetails => ({ pid, ppid: 1, uid, comm, cmdline: `/bin/${comm}`, startTime: 1 });

t.test('held rows: a thread before an fd, the lowest pid and fd first, the rest counted', (tt) => {
  const holds: TaskHold[] = [
    { kind: 'fd', pid: 10, id: 12, type: 'net', ino: THREAD_NET },
    { kind: 'thread', pid: 20, id: 21, type: 'net', ino: THREAD_NET },
    { kind: 'fd', pid: 12, id: 3, type: 'ipc', ino: LEAKED_IPC },
    { kind: 'fd', pid: 11, id: 8, type: 'ipc', ino: LEAKED_IPC },
    { kind: 'fd', pid: 11, id: 4, type: 'ipc', ino: LEAKED_IPC },
    { kind: 'fd', pid: 10, id: 13, type: 'uts', ino: SHARED_UTS },
    { kind: 'fd', pid: 40, id: 5, type: 'net', ino: LEAKED_NET },
    { kind: 'fd', pid: 41, id: 6, type: 'net', ino: LEAKED_NET },
  ];
  const mount: NamespaceRow = {
    ns: LEAKED_IPC,
    type: 'ipc',
    path: '/run/ipc/x',
    nprocs: 0,
    pid: null,
    ppid: null,
    command: null,
    uid: null,
    user: null,
    nsfs: ['/run/ipc/x'],
    holder: { kind: 'mount', text: 'bind mount /run/ipc/x (mnt 4026531841)', more: 0 },
  };
  const mountOnly: NamespaceRow = { ...mount, ns: 4026532950, path: '/run/netns/y', nsfs: ['/run/netns/y'], holder: { kind: 'mount', text: 'bind mount /run/netns/y (mnt 4026531841)', more: 0 } };
  const known: Record<number, ProcDetails> = { 10: details(10, 'shim'), 11: details(11, 'runc'), 12: details(12, 'x'), 20: details(20, 'cni', 1000), 41: details(41, 'late') };
  const { rows, access } = heldRows({
    hasProcesses: (ino) => ino === SHARED_UTS,
    holds,
    mountRows: [mount, mountOnly],
    details: (pid) => known[pid] ?? null,
    users,
  });
  tt.same(
    rows.map((r) => [r.ns, r.type, r.nprocs, r.pid, r.user, r.path, r.holder ? holderCell(r.holder) : null]),
    [
      [LEAKED_NET, 'net', 0, 41, 'root', '/proc/41/fd/6', 'fd 6 of 41 (late), +1 more'],
      [LEAKED_IPC, 'ipc', 0, 11, 'root', '/proc/11/fd/4', 'fd 4 of 11 (runc), +3 more'],
      [THREAD_NET, 'net', 0, 20, 'alice', '/proc/20/task/21/ns/net', 'thread 21 of 20 (cni), +1 more'],
      [4026532950, 'ipc', 0, null, null, '/run/netns/y', 'bind mount /run/netns/y (mnt 4026531841)'],
    ],
    'pid 40 is gone (no details): the next holder shows the row; the uts namespace has a process: no held row; the ipc one keeps its NSFS',
  );
  tt.same(rows[1]?.nsfs, ['/run/ipc/x']);
  tt.same(access.get(THREAD_NET), ['20', 'task', '21', 'ns', 'net']);
  tt.equal(heldSummary(rows), '4: thread 1, fd 2, bind mount 1');
  tt.equal(heldSummary([]), 'none');
  tt.end();
});

t.test('full scan and the daemon find the same held rows', async (tt) => {
  const root = tree(tt, host());
  const reader = new ProcReader(root, { uidSource: 'status' });
  const scan = scanNamespaces(reader, users);
  const enricher = new Enricher(reader, users, { nsfs: false, relations: false, netnsid: false, hostname: false }, () => {});
  const full = discoverHolders(reader, users, scan, [], enricher, { hierarchy: false });
  await enricher.close();
  tt.same(
    full.rows.map((r) => [r.ns, r.pid, r.holder ? holderCell(r.holder) : null]),
    [
      [LEAKED_NET, 10, 'fd 7 of 10 (shim)'],
      [LEAKED_IPC, 10, 'fd 9 of 10 (shim)'],
      [THREAD_NET, 20, 'thread 21 of 20 (cni), +1 more'],
    ],
  );
  const scanner = new IncrementalScanner(reader, users, { fullRescanMs: 30_000, cgroups: false, watcher: null });
  drainTick(scanner);
  const inc = heldRows({ hasProcesses: (ino) => scanner.hasProcesses(ino), holds: scanner.heldHolds(), mountRows: [], details: (pid) => reader.readDetails(pid), users });
  tt.same(
    inc.rows.map((r) => [r.ns, r.pid, r.holder ? holderCell(r.holder) : null]),
    full.rows.map((r) => [r.ns, r.pid, r.holder ? holderCell(r.holder) : null]),
    'first tick',
  );

  // The shim closes fd 7 and pid 20 exits. Its exit is seen at the next tick; the closed fd when
  // the slice reaches pid 10 (each tick reads at least one process: within four ticks, all three).
  fs.rmSync(path.join(root, '10', 'fd', '7'));
  fs.rmSync(path.join(root, '20'), { recursive: true });
  const cell = (ino: number): string | null => {
    const rows = heldRows({ hasProcesses: (i) => scanner.hasProcesses(i), holds: scanner.heldHolds(), mountRows: [], details: (pid) => reader.readDetails(pid), users }).rows;
    const r = rows.find((x) => x.ns === ino);
    return r?.holder ? holderCell(r.holder) : null;
  };
  tt.ok(drainTick(scanner).changed, 'a gone holder is a change');
  tt.equal(cell(THREAD_NET), 'fd 12 of 10 (shim)', 'the thread is gone with its process: the fd shows the row');
  tt.equal(cell(LEAKED_IPC), 'fd 9 of 10 (shim)');
  for (let i = 0; i < 4; i++) drainTick(scanner);
  tt.equal(cell(LEAKED_NET), null, 'the closed fd is gone within a slice round');
  tt.equal(cell(LEAKED_IPC), 'fd 9 of 10 (shim)', 'what is still held stays');
  scanner.close();
  tt.end();
});

t.test('the sweep reads again only what ran: links, threads and fds of a process whose run time did not move are kept', (tt) => {
  const root = tree(tt, host());
  // Pid allocator counters that do not move: no pid was handed out, so ticks are not full and the sweep runs.
  fs.mkdirSync(path.join(root, 'sys', 'kernel'), { recursive: true });
  fs.writeFileSync(path.join(root, 'sys', 'kernel', 'ns_last_pid'), '400\n');
  fs.writeFileSync(path.join(root, 'sys', 'kernel', 'pid_max'), '32768\n');
  fs.writeFileSync(path.join(root, 'stat'), 'cpu  1 2 3 4\nprocesses 1000\n');
  fs.writeFileSync(path.join(root, 'loadavg'), '0.00 0.00 0.00 1/100 400\n');
  // The tree stands in for procfs; run times are set by hand (a real one moves when the task runs).
  const runs = new Map<number, number>([
    [10, 1000],
    [30, 5000],
  ]);
  class RunClock extends ProcReader {
    override readRunTime(pid: number): number | null {
      return runs.get(pid) ?? null;
    }
  }
  const reader = new RunClock(root, { uidSource: 'status' });
  const scanner = new IncrementalScanner(reader, users, { fullRescanMs: 30_000, cgroups: false, watcher: null });
  const held = (): number[] =>
    scanner
      .heldHolds()
      .filter((h) => h.pid === 10)
      .map((h) => h.id)
      .sort((a, b) => a - b);
  const utsOf30 = (): number | undefined => scanner.rows.find((r) => r.type === 'uts' && r.pid === 30)?.ns;
  drainTick(scanner);
  tt.same(held(), [7, 9, 12], 'first tick: every fd read');
  // Each tick's slice is at least one of the four processes: five ticks visit each, recording its run time.
  for (let i = 0; i < 5; i++) drainTick(scanner);
  fs.rmSync(path.join(root, '10', 'fd', '7'));
  fs.rmSync(path.join(root, '30', 'ns', 'uts'));
  fs.symlinkSync('uts:[4026532999]', path.join(root, '30', 'ns', 'uts'));
  for (let i = 0; i < 5; i++) drainTick(scanner);
  tt.same(held(), [7, 9, 12], 'pid 10 did not run: its fds are taken as they were (it could not have closed one)');
  tt.equal(utsOf30(), SHARED_UTS, 'pid 30 did not run: its links are taken as they were (it could not have called setns)');
  runs.set(10, 2000);
  runs.set(30, 6000);
  for (let i = 0; i < 5; i++) drainTick(scanner);
  // fd 13 holds uts 4026532904, which pid 30 has just left: now a namespace only that fd holds.
  tt.same(held(), [9, 12, 13], 'pid 10 ran: its fds read again within a round');
  tt.equal(utsOf30(), 4026532999, 'pid 30 ran: its links read again within a round');
  scanner.close();
  tt.end();
});
