/**
 * Live: namespaces that no process is in but something else keeps alive, made for real, each with
 * what made it removed so that only its holder remains:
 *  1. a net namespace held only by an open fd of a process in the host's namespaces (python3
 *     opens /proc/<x>/ns/net of an `unshare --net sleep`, which is then killed and reaped);
 *  2. the same for an ipc namespace;
 *  3. a net namespace only one non-leader thread of a process is in (python3: a second thread
 *     setns()es into it and closes the fd; the main thread stays in the host's net namespace);
 *  4. a user namespace no process is in, the parent of one a process is in: `unshare -U -r
 *     unshare -U sleep`, where the outer unshare execs the inner (its inode from NS_GET_PARENT on
 *     the sleep's user namespace, asked by python3, not by the code under test);
 *  5. a uts namespace held only by a bind mount in another mount namespace (its own, private
 *     propagation), so that the host's mountinfo does not show it.
 * Inodes come from stat and ioctl, holders (pids, tids, fds, mount points) from /proc and from
 * the processes started here (test/support/holders.ts). Checked: `list --holders` rows and their
 * HOLDER texts, the default rows without `--holders`, the report's Host table `holder` cells and
 * `hns-host-held` summary, and `list <ns>`. Only the rows of these namespaces are asserted on:
 * the host may hold namespaces of its own.
 */
import t, { type Test } from 'tap';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { type ScopeReport } from '../../src/scope/report.js';
import { hostNodeId } from '../../src/scope/host.js';
import { cli } from '../support/daemon.js';
import { HolderLab, PYTHON, holdersInProc, linkInode, procStat, stable, statInode, type ProcHolder, type Started } from '../support/holders.js';
import { tableRows } from '../support/report.js';

const LSNS = '/usr/bin/lsns';
const HOST = 'live-holders-host';
const HELD_KEY = 'hns-host-held';
const CLONE_NEWNET = '0x40000000';

function have(tool: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;
}

function skipReason(): string | null {
  if (process.getuid?.() !== 0) return 'not root: cannot create namespaces, enter them or bind-mount them';
  for (const tool of ['unshare', 'mount', 'sh', 'sleep', PYTHON]) if (!have(tool)) return `${tool} is not installed`;
  if (!fs.existsSync(cli)) return 'dist/ is not built (npm run build)';
  return null;
}

interface Out {
  status: number | null;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: readonly string[]): Out {
  const r = spawnSync(cmd, args, { env: { ...process.env, LANG: 'C.UTF-8' }, encoding: 'utf8', maxBuffer: 256 << 20, timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
const ours = (args: readonly string[]): Out => run(process.execPath, [cli, ...args]);

interface JsonRow {
  ns: number;
  type: string;
  nprocs: number;
  pid: number | null;
  ppid?: number | null;
  command?: string | null;
  uid?: number | null;
  user?: string | null;
  path?: string | null;
  nsfs?: string | null;
  holder?: string | null;
}

function rowsOf(o: Out, what: string): JsonRow[] {
  if (o.status !== 0) throw new Error(`${what}: exit ${o.status}: ${o.stderr.slice(0, 2000)}`);
  return (JSON.parse(o.stdout) as { namespaces: JsonRow[] }).namespaces;
}

/** uid -> name from /etc/passwd, as the CLI resolves USER on the host; the number when absent. */
function userName(uid: number): string {
  for (const line of fs.readFileSync('/etc/passwd', 'utf8').split('\n')) {
    const f = line.split(':');
    if (f[2] === String(uid) && f[0] !== undefined) return f[0];
  }
  return String(uid);
}

/** /proc/<pid>/cmdline as lsns's COMMAND: NULs as spaces, the trailing one dropped. */
function commandOf(pid: number): string {
  return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0$/, '').replaceAll('\0', ' ');
}

type Kind = 'thread' | 'fd' | 'bind mount' | 'hierarchy';
const KINDS: readonly Kind[] = ['thread', 'fd', 'bind mount', 'hierarchy'];

function kindOf(holderText: string): Kind | null {
  if (holderText.startsWith('thread ')) return 'thread';
  if (holderText.startsWith('fd ')) return 'fd';
  if (holderText.startsWith('bind mount ')) return 'bind mount';
  if (/^(parent|owner) of /.test(holderText)) return 'hierarchy';
  return null;
}

interface Case {
  label: string;
  ns: number;
  type: string;
  kind: Kind;
  /** The HOLDER text the spec gives for it (no `, +N more`: /proc shows one holder only). */
  holder: string;
  /** The row's cells with `-o NS,TYPE,NPROCS,PID,PPID,COMMAND,UID,USER,PATH,HOLDER`. */
  row: Required<Omit<JsonRow, 'nsfs'>>;
  nsfs?: string;
}

const reason = skipReason();
if (reason !== null) {
  t.plan(0, `skip: ${reason}`);
} else {
  // One parent subtest: the root test must not end (and run its teardown) while setup awaits.
  t.test('namespaces held only by a thread, an fd, the hierarchy or a bind mount in another mount namespace', liveTests);
}

async function liveTests(t: Test): Promise<void> {
  const lab = new HolderLab('holders');
  t.teardown(async () => {
    const left = await lab.cleanup();
    if (left.length > 0) throw new Error(`processes survived: ${left.join(', ')}`);
    if (fs.readFileSync('/proc/self/mountinfo', 'latin1').includes(lab.tmp)) throw new Error(`a mount under ${lab.tmp} is left in this mount namespace`);
  });
  const own = (type: string): number => linkInode(`/proc/self/ns/${type}`)?.ino ?? -1;
  // Distinct sleep lengths make every process of this test easy to pick out in ps.
  let nextSleep = 880000 + (process.pid % 1000) * 10;
  const sleepArg = (): string => String(nextSleep++);

  /** The inode of `type` of a `unshare --<type> sleep`, once it runs sleep in a namespace of its own. */
  const newNsOf = (s: Started, type: string): Promise<number> =>
    stable(
      `${type} namespace of pid ${s.pid}`,
      () => ({ comm: procStat(s.pid)?.comm ?? null, ino: statInode(`/proc/${s.pid}/ns/${type}`) }),
      (v) => v.comm === 'sleep' && v.ino !== null && v.ino !== own(type),
    ).then((v) => v.ino as number);
  /** The helper's first output line, once it printed one. */
  const firstLine = (s: Started, what: string): Promise<string> =>
    stable(
      what,
      () => ({ line: /^(.*)\n/.exec(s.stdout())?.[1] ?? null, alive: s.child.exitCode === null && s.child.signalCode === null }),
      (v) => v.line !== null || !v.alive,
    ).then((v) => {
      if (!v.alive || v.line === null) throw new Error(`${what}: the helper exited: ${s.stdout()}${s.stderr()}`);
      return v.line;
    });

  // 1 and 2: a net and an ipc namespace, each held by an fd of a python3 in the host's namespaces.
  const fdCase = async (type: 'net' | 'ipc'): Promise<{ ino: number; holder: Started; printedFd: number }> => {
    const original = lab.start('unshare', [`--${type}`, '--', 'sleep', sleepArg()]);
    const ino = await newNsOf(original, type);
    const holder = lab.python(['fd', `/proc/${original.pid}/ns/${type}`]);
    const printedFd = Number(await firstLine(holder, `python3 holding ${type} ${ino} by an fd`));
    await lab.kill(original);
    return { ino, holder, printedFd };
  };
  const fdNet = await fdCase('net');
  const fdIpc = await fdCase('ipc');

  // 3: a net namespace only a second thread of a python3 is in.
  const threadOriginal = lab.start('unshare', ['--net', '--', 'sleep', sleepArg()]);
  const threadIno = await newNsOf(threadOriginal, 'net');
  const threaded = lab.python(['thread', `/proc/${threadOriginal.pid}/ns/net`, CLONE_NEWNET]);
  const printedTid = Number(await firstLine(threaded, `python3 thread in net ${threadIno}`));
  await lab.kill(threadOriginal);

  // 4: `unshare -U -r` execs `unshare -U`, which execs sleep: no process is left in the outer.
  const hostUser = own('user');
  const nested = lab.start('unshare', ['-U', '-r', '--', 'unshare', '-U', '--', 'sleep', sleepArg()]);
  const users = await stable(
    'sleep in a user namespace inside another',
    () => {
      const inner = procStat(nested.pid)?.comm === 'sleep' ? statInode(`/proc/${nested.pid}/ns/user`) : null;
      if (inner === null || inner === hostUser) return null;
      const [outer, creator, grand] = lab.parentOf(`/proc/${nested.pid}/ns/user`);
      return { inner, outer, creator, grand };
    },
    (v) => v !== null && v.grand === hostUser && v.outer !== hostUser,
  );
  const { inner: innerUser, outer: outerUser, creator: outerCreator } = users as NonNullable<typeof users>;

  // 5: a uts namespace bind-mounted inside a mount namespace of its own (private propagation).
  const utsOriginal = lab.start('unshare', ['--uts', '--', 'sleep', sleepArg()]);
  const utsIno = await newNsOf(utsOriginal, 'uts');
  const point = path.join(lab.tmp, 'uts-bind');
  fs.writeFileSync(point, '');
  const mounter = lab.start('unshare', [
    '--mount',
    '--propagation',
    'private',
    '--',
    'sh',
    '-c',
    'mount --bind "$1" "$2" && exec sleep "$3"',
    'sh',
    `/proc/${utsOriginal.pid}/ns/uts`,
    point,
    sleepArg(),
  ]);
  const mntIno = await stable(
    `bind mount of uts ${utsIno} in a mount namespace of its own`,
    () => {
      if (procStat(mounter.pid)?.comm !== 'sleep') return null;
      let info: string;
      try {
        info = fs.readFileSync(`/proc/${mounter.pid}/mountinfo`, 'latin1');
      } catch {
        return null;
      }
      const mounted = info.split('\n').some((l) => l.split(' ')[3] === `uts:[${utsIno}]` && l.split(' ')[4] === point);
      return mounted ? statInode(`/proc/${mounter.pid}/ns/mnt`) : null;
    },
    (v) => v !== null && v !== own('mnt'),
  );
  t.notOk(fs.readFileSync('/proc/self/mountinfo', 'latin1').includes(point), 'setup: the bind mount is not in the host mount namespace');
  await lab.kill(utsOriginal);

  // What holds each of them now, from /proc; only the one holder each is meant to have.
  const ours5 = new Set([fdNet.ino, fdIpc.ino, threadIno, outerUser, utsIno]);
  const holdersNow = (): Map<number, ProcHolder[]> => holdersInProc(ours5);
  const shape = (m: Map<number, ProcHolder[]>): string => JSON.stringify([...m].map(([ino, hs]) => [ino, hs.map((h) => (h.kind === 'mount' ? { kind: h.kind, mnt: h.mnt, point: h.point } : h))]));
  const only = (m: Map<number, ProcHolder[]>, ino: number): ProcHolder | null => {
    const hs = m.get(ino) ?? [];
    return hs.length === 1 ? (hs[0] as ProcHolder) : null;
  };
  const settled = await stable(
    'holders in /proc',
    () => shape(holdersNow()),
    (s) => {
      const m = new Map(JSON.parse(s) as Array<[number, ProcHolder[]]>);
      const a = only(m, fdNet.ino);
      const b = only(m, fdIpc.ino);
      const c = only(m, threadIno);
      const e = only(m, utsIno);
      return (
        a?.kind === 'fd' &&
        a.pid === fdNet.holder.pid &&
        b?.kind === 'fd' &&
        b.pid === fdIpc.holder.pid &&
        c?.kind === 'thread' &&
        c.pid === threaded.pid &&
        !m.has(outerUser) &&
        e?.kind === 'mount' &&
        e.mnt === mntIno &&
        e.point === point
      );
    },
  );
  const held = new Map(JSON.parse(settled) as Array<[number, ProcHolder[]]>);
  const netFd = only(held, fdNet.ino) as Extract<ProcHolder, { kind: 'fd' }>;
  const ipcFd = only(held, fdIpc.ino) as Extract<ProcHolder, { kind: 'fd' }>;
  const thread = only(held, threadIno) as Extract<ProcHolder, { kind: 'thread' }>;
  t.equal(netFd.fd, fdNet.printedFd, 'setup: /proc shows the net fd python3 opened');
  t.equal(ipcFd.fd, fdIpc.printedFd, 'setup: /proc shows the ipc fd python3 opened');
  t.equal(thread.tid, printedTid, 'setup: /proc shows the thread that entered the net namespace');
  t.not(thread.tid, threaded.pid, 'setup: it is not the thread-group leader');
  t.equal(linkInode(`/proc/${threaded.pid}/ns/net`)?.ino, own('net'), 'setup: the main thread is in the host net namespace');
  t.equal(fs.statSync(`/proc/${threaded.pid}/task`).nlink - 2, 2, 'setup: python3 has two threads');
  // The host's namespaces are kthreadd's (pid 2).
  for (const s of [fdNet.holder, fdIpc.holder])
    t.same(
      ['mnt', 'net', 'pid', 'uts', 'ipc', 'user', 'cgroup', 'time'].filter((ty) => linkInode(`/proc/${s.pid}/ns/${ty}`)?.ino !== linkInode(`/proc/2/ns/${ty}`)?.ino),
      [],
      `setup: fd holder ${s.pid} is in the host's namespaces`,
    );
  t.comment(`net fd ${fdNet.ino}, ipc fd ${fdIpc.ino}, net thread ${threadIno}, outer user ${outerUser} (inner ${innerUser}), uts bind mount ${utsIno} (mnt ${mntIno})`);

  const processCells = (pid: number): Pick<Case['row'], 'pid' | 'ppid' | 'command' | 'uid' | 'user'> => {
    const uid = fs.statSync(`/proc/${pid}`).uid;
    return { pid, ppid: procStat(pid)?.ppid ?? -1, command: commandOf(pid), uid, user: userName(uid) };
  };
  const comm = (pid: number): string => procStat(pid)?.comm ?? '?';
  const fdHolder = (ino: number, type: string, h: { pid: number; fd: number }, label: string): Case => {
    const holder = `fd ${h.fd} of ${h.pid} (${comm(h.pid)})`;
    return { label, ns: ino, type, kind: 'fd', holder, row: { ns: ino, type, nprocs: 0, ...processCells(h.pid), path: `/proc/${h.pid}/fd/${h.fd}`, holder } };
  };
  const threadHolder = `thread ${thread.tid} of ${thread.pid} (${comm(thread.pid)})`;
  const hierarchyHolder = `parent of user ${innerUser}`;
  const bindHolder = `bind mount ${point} (mnt ${mntIno})`;
  const cases: Case[] = [
    fdHolder(fdNet.ino, 'net', netFd, 'net held by an fd'),
    fdHolder(fdIpc.ino, 'ipc', ipcFd, 'ipc held by an fd'),
    {
      label: 'net held by a thread',
      ns: threadIno,
      type: 'net',
      kind: 'thread',
      holder: threadHolder,
      row: { ns: threadIno, type: 'net', nprocs: 0, ...processCells(thread.pid), path: `/proc/${thread.pid}/task/${thread.tid}/ns/net`, holder: threadHolder },
    },
    {
      // One holder: the inner user namespace. Its parent and its owner (NS_GET_USERNS on a user
      // namespace answers its parent) are one and the same namespace, so no `, +1 more`.
      label: 'user held as a parent',
      ns: outerUser,
      type: 'user',
      kind: 'hierarchy',
      holder: hierarchyHolder,
      row: { ns: outerUser, type: 'user', nprocs: 0, pid: null, ppid: null, command: null, uid: outerCreator, user: userName(outerCreator), path: null, holder: hierarchyHolder },
    },
    {
      label: 'uts held by a bind mount in another mount namespace',
      ns: utsIno,
      type: 'uts',
      kind: 'bind mount',
      holder: bindHolder,
      // Owned by the initial user namespace, whose creator is root.
      row: { ns: utsIno, type: 'uts', nprocs: 0, pid: null, ppid: null, command: null, uid: 0, user: userName(0), path: point, holder: bindHolder },
      nsfs: point,
    },
  ];

  t.test('list --holders: a row for each, with NPROCS 0, PID and the HOLDER text', async (t) => {
    const rows = rowsOf(ours(['list', '-J', '-l', '--holders', '-o', 'NS,TYPE,NPROCS,PID,HOLDER']), 'list --holders');
    for (const c of cases) {
      const mine = rows.filter((r) => r.ns === c.ns);
      t.equal(mine.length, 1, `${c.label}: one row for ${c.ns}`);
      t.strictSame(mine[0], { ns: c.ns, type: c.type, nprocs: 0, pid: c.row.pid, holder: c.holder }, `${c.label}: ${c.holder}`);
    }
  });

  t.test('list --holders: PATH, PPID, COMMAND, UID, USER (and NSFS of the bind mount) of each row', async (t) => {
    const rows = rowsOf(ours(['list', '-J', '-l', '--holders', '-o', 'NS,TYPE,NPROCS,PID,PPID,COMMAND,UID,USER,PATH,HOLDER,NSFS']), 'list --holders -o ...');
    for (const c of cases) {
      const r = rows.find((x) => x.ns === c.ns);
      const { nsfs, ...rest } = r ?? { nsfs: undefined };
      t.strictSame(rest, c.row, `${c.label}: row cells`);
      if (c.nsfs !== undefined) t.equal(nsfs, c.nsfs, `${c.label}: NSFS is the mount point`);
    }
  });

  t.test('list --holders without -o: HOLDER follows the default columns', async (t) => {
    const rows = rowsOf(ours(['list', '-J', '-l', '--holders']), 'list --holders (default columns)');
    for (const c of cases) {
      const r = rows.find((x) => x.ns === c.ns);
      t.same(r === undefined ? undefined : Object.keys(r), ['ns', 'type', 'nprocs', 'pid', 'user', 'command', 'holder'], `${c.label}: columns`);
      t.equal(r?.holder, c.holder, `${c.label}: HOLDER`);
    }
  });

  t.test('without --holders: only the bind-mount-held row (as before); no thread, fd or hierarchy row', async (t) => {
    const rows = rowsOf(ours(['list', '-J', '-l', '-o', 'NS,TYPE,NPROCS,PID']), 'list');
    for (const c of cases) {
      const mine = rows.filter((r) => r.ns === c.ns);
      if (c.kind === 'bind mount') t.strictSame(mine, [{ ns: c.ns, type: c.type, nprocs: 0, pid: null }], `${c.label}: listed, NPROCS 0`);
      else t.same(mine, [], `${c.label}: not listed`);
    }
    if (!fs.existsSync(LSNS)) return;
    // lsns 2.38.1 lists none of them: no process is in any.
    // It exits 1 when a process on the host vanishes mid-scan: a few tries.
    let lsns = run(LSNS, ['-J', '-l', '-o', 'NS']);
    for (let i = 0; i < 5 && lsns.status !== 0; i++) lsns = run(LSNS, ['-J', '-l', '-o', 'NS']);
    const theirs = rowsOf(lsns, 'lsns');
    for (const c of cases)
      t.notOk(
        theirs.some((r) => r.ns === c.ns),
        `lsns does not list ${c.label}`,
      );
  });

  t.test('report: the Host table holder cells and the hns-host-held summary', async (t) => {
    const r = ours(['report', '--hostname', HOST]);
    t.equal(r.status, 0, `report exits 0 ${r.stderr.slice(0, 500)}`);
    const report = JSON.parse(r.stdout) as ScopeReport;
    const table = tableRows(report, HOST);
    for (const c of cases) {
      const row = table.get(String(c.ns));
      t.ok(row, `${c.label}: a Host table row for ${c.ns}`);
      t.equal(row?.['type'], c.type, `${c.label}: Type`);
      t.equal(row?.['nprocs'], '0', `${c.label}: # Procs`);
      t.equal(row?.['holder'], c.holder, `${c.label}: Held by ${c.holder}`);
    }
    const columns = Object.values(report.Host?.table_templates ?? {}).flatMap((tt) => tt.columns ?? []);
    t.same(
      columns.filter((c) => c.id === 'holder').map((c) => c.label),
      ['Held by'],
      'the table has a holder column labelled Held by',
    );
    t.equal(report.Host?.metadata_templates?.[HELD_KEY]?.label, 'Namespaces without a process', `${HELD_KEY} label`);

    // Every holder cell is on an NPROCS-0 row; the summary counts those cells by kind.
    const cells = [...table.values()].filter((row) => row['holder'] !== undefined);
    t.same(
      cells.filter((row) => row['nprocs'] !== '0').map((row) => row['ns']),
      [],
      'holder cells only on NPROCS-0 rows',
    );
    const inTable = new Map<Kind, number>();
    for (const row of cells) {
      const k = kindOf(row['holder'] ?? '');
      t.not(k, null, `holder cell of ${row['ns']} is of a known kind: ${row['holder']}`);
      if (k !== null) inTable.set(k, (inTable.get(k) ?? 0) + 1);
    }
    const value = report.Host?.nodes[hostNodeId(HOST)]?.latest[HELD_KEY]?.value ?? '';
    const m = /^([0-9]+): (.*)$/.exec(value);
    t.ok(m, `${HELD_KEY} is '<N>: <kind> <n>, ...': '${value}'`);
    const counts = new Map<Kind, number>();
    for (const part of m?.[2]?.split(', ') ?? []) {
      const p = /^(thread|fd|bind mount|hierarchy) ([0-9]+)$/.exec(part);
      t.ok(p, `${HELD_KEY}: part '${part}'`);
      if (p) counts.set(p[1] as Kind, Number(p[2]));
    }
    t.same(
      [...counts.keys()],
      KINDS.filter((k) => counts.has(k)),
      `${HELD_KEY}: kinds in the order thread, fd, bind mount, hierarchy`,
    );
    t.notOk([...counts.values()].includes(0), `${HELD_KEY}: no kind with 0`);
    t.equal(
      Number(m?.[1] ?? -1),
      [...counts.values()].reduce((a, b) => a + b, 0),
      `${HELD_KEY}: N is the sum of the kinds`,
    );
    const mine = new Map<Kind, number>();
    for (const c of cases) mine.set(c.kind, (mine.get(c.kind) ?? 0) + 1);
    for (const [k, n] of mine) t.ok((counts.get(k) ?? 0) >= n, `${HELD_KEY}: ${k} ${counts.get(k) ?? 0} counts our ${n}`);
    t.same(Object.fromEntries(counts), Object.fromEntries(KINDS.filter((k) => inTable.has(k)).map((k) => [k, inTable.get(k)])), `${HELD_KEY}: the same counts as the table's holder cells`);
  });

  t.test('list <ns>: no member, exit 0, and who holds it on stderr', async (t) => {
    for (const c of cases) {
      const r = ours(['list', String(c.ns)]);
      t.equal(r.status, 0, `${c.label}: exit 0`);
      t.equal(r.stdout, '', `${c.label}: no process listed`);
      // A process on the host that exits mid-scan may add a warning line; nothing else may.
      const lines = r.stderr.split('\n').filter((l) => l !== '' && !l.startsWith('scope-namespaces list: warning: '));
      t.strictSame(lines, [`scope-namespaces list: namespace ${c.ns} (${c.type}) has no process in it; held by ${c.holder}`], `${c.label}: stderr`);
      t.match(r.stderr, /\n$/, `${c.label}: stderr ends with a newline`);
    }
  });

  t.test('the holders did not change while the CLI ran', async (t) => {
    t.equal(shape(holdersNow()), settled);
  });
}
