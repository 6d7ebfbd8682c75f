/**
 * Live kernel cases for the columns that need more than readlink: network namespaces made with
 * `ip netns add` (one with a process and an assigned id, one pinned only by its bind mount), a
 * second bind mount of one netns (multi-line NSFS, -W), a bind-mounted UTS namespace whose
 * hostname is set, and both tools run inside `unshare -Ur` where ioctl_ns answers EPERM outside
 * the caller's scope. Every row lsns lists must be equal; our extras (NPROCS-0 rows, HOSTNAME) are
 * checked against the kernel facts we set up.
 */
import t, { type Test } from 'tap';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { mortal, onAbort, taggedName, taggedTempDir } from '../support/tag.js';

const LSNS = '/usr/bin/lsns';
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const OURS = path.join(ROOT, 'dist/cli/main.js');
// The run's tag: the netns files, the mount points and the hostname are found by it if left.
const TAG = taggedName(String(process.pid));

function have(tool: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;
}

function skipReason(): string | null {
  if (!fs.existsSync(LSNS)) return `${LSNS} is absent: nothing to compare with`;
  if (process.getuid?.() !== 0) return 'not root: cannot add network namespaces or bind mounts';
  for (const tool of ['ip', 'unshare', 'mount', 'umount']) if (!have(tool)) return `${tool} is not installed`;
  if (!fs.existsSync(OURS)) return 'dist/ is not built (npm run build)';
  return null;
}

interface Out {
  status: number | null;
  stdout: string;
  stderr: string;
}

function sh(cmd: string, args: string[]): Out {
  const r = spawnSync(cmd, args, { env: { ...process.env, LANG: 'C.UTF-8' }, maxBuffer: 64 << 20, timeout: 60000 });
  return { status: r.status, stdout: r.stdout?.toString('latin1') ?? '', stderr: r.stderr?.toString('latin1') ?? '' };
}

const lsns = (args: string[]): Out => sh(LSNS, args);
const ours = (args: string[]): Out => sh(process.execPath, [OURS, 'list', ...args]);

interface JsonRow {
  ns: number;
  type: string;
  nprocs: number;
  pid: number | null;
  netnsid?: string | null;
  nsfs?: string | null;
  pns?: number;
  ons?: number;
  hostname?: string | null;
  user?: string | null;
  path?: string | null;
}
const rowsOf = (o: Out): JsonRow[] => (JSON.parse(o.stdout) as { namespaces: JsonRow[] }).namespaces;

function inode(p: string): number {
  return fs.statSync(p).ino;
}

async function waitFor(cond: () => boolean, what: string, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const reason = skipReason();
if (reason !== null) {
  t.plan(0, `skip: ${reason}`);
} else {
  // One parent subtest: the root test must not end (and run its teardown) while setup awaits.
  t.test('native columns on a live kernel', liveTests);
}

async function liveTests(t: Test): Promise<void> {
  const children: ChildProcess[] = [];
  const netns = [`${TAG}a`, `${TAG}b`];
  const tmp = taggedTempDir('native-columns', os.tmpdir());
  const mounts: string[] = [];
  // Synchronous, so that it also runs when the test is stopped by a signal.
  const undo = (): void => {
    for (const c of children) if (c.pid !== undefined && c.exitCode === null) c.kill('SIGKILL');
    for (const m of mounts.reverse()) sh('umount', ['-l', m]);
    for (const n of netns) sh('ip', ['netns', 'del', n]);
    fs.rmSync(tmp, { recursive: true, force: true });
  };
  const abort = onAbort(undo);
  t.teardown(() => {
    abort.cancel();
    undo();
    const left = children.filter((c) => c.pid !== undefined && fs.existsSync(`/proc/${c.pid}`) && !/^\S+ \(.*\) Z/.test(fs.readFileSync(`/proc/${c.pid}/stat`, 'latin1')));
    if (left.length > 0) throw new Error(`processes survived: ${left.map((c) => c.pid).join(',')}`);
  });

  // netns A: a process in it and an assigned id; netns B: nothing but its bind mount.
  for (const n of netns) t.equal(sh('ip', ['netns', 'add', n]).status, 0, `ip netns add ${n}`);
  t.equal(sh('ip', ['netns', 'set', netns[0] as string, 'auto']).status, 0, 'assign an id to A');
  const inA = spawn(...mortal('ip', ['netns', 'exec', netns[0] as string, 'sleep', String(6000 + (process.pid % 1000))]), { stdio: ['ignore', 'ignore', 'pipe'] });
  let inAErr = '';
  inA.stderr?.on('data', (d: Buffer) => (inAErr += d.toString()));
  children.push(inA);
  const inoA = inode(`/run/netns/${netns[0]}`);
  const inoB = inode(`/run/netns/${netns[1]}`);
  await waitFor(() => {
    try {
      return fs.readlinkSync(`/proc/${inA.pid}/ns/net`) === `net:[${inoA}]` && fs.readFileSync(`/proc/${inA.pid}/comm`, 'latin1').startsWith('sleep');
    } catch {
      return false;
    }
  }, 'the sleeper in netns A').catch((e: unknown) => {
    let seen: string;
    try {
      seen = `${fs.readlinkSync(`/proc/${inA.pid}/ns/net`)} vs net:[${inoA}], comm ${fs.readFileSync(`/proc/${inA.pid}/comm`, 'latin1')}`;
    } catch (err) {
      seen = String(err);
    }
    throw new Error(`${String(e)}: ${seen}; ip said: ${inAErr}; exit ${inA.exitCode} ${inA.signalCode}`);
  });
  // A second bind mount of A: two NSFS lines.
  const second = path.join(tmp, 'second mount');
  fs.writeFileSync(second, '');
  t.equal(sh('mount', ['--bind', `/run/netns/${netns[0]}`, second]).status, 0, 'second bind mount of A');
  mounts.push(second);

  // A UTS namespace with its own hostname, also pinned by a bind mount.
  const uts = spawn(...mortal('unshare', ['--uts', 'sh', '-c', `hostname ${TAG}-host && exec sleep ${7000 + (process.pid % 1000)}`]), { stdio: 'ignore' });
  children.push(uts);
  await waitFor(() => {
    try {
      return fs.readFileSync(`/proc/${uts.pid}/comm`, 'latin1').startsWith('sleep');
    } catch {
      return false;
    }
  }, 'the UTS sleeper');
  const utsIno = inode(`/proc/${uts.pid}/ns/uts`);
  const utsFile = path.join(tmp, 'uts');
  fs.writeFileSync(utsFile, '');
  t.equal(sh('mount', ['--bind', `/proc/${uts.pid}/ns/uts`, utsFile]).status, 0, 'bind mount of the UTS namespace');
  mounts.push(utsFile);

  const cols = 'NS,TYPE,NPROCS,PID,USER,NETNSID,NSFS,PNS,ONS,PATH';
  t.test('every row lsns lists is equal, NETNSID and multi-line NSFS included', async (t) => {
    const theirs = rowsOf(lsns(['-J', '-l', '-o', cols]));
    const mine = rowsOf(ours(['-J', '-l', '-o', cols]));
    const a = theirs.find((r) => r.ns === inoA);
    t.ok(a, 'lsns lists netns A');
    t.match(a?.netnsid ?? '', /^[0-9]+$/, 'lsns shows A with an assigned id');
    t.equal(a?.nsfs, `/run/netns/${netns[0]}\n${second}`, 'lsns shows both mount points of A');
    const initial = new Set(['mnt', 'net', 'pid', 'uts', 'ipc', 'user', 'cgroup', 'time'].map((ty) => inode(`/proc/2/ns/${ty}`)));
    const byIno = new Map(mine.map((r) => [r.ns, r]));
    for (const r of theirs) {
      const m = byIno.get(r.ns);
      // NPROCS of the initial namespaces differs by the two tools' own processes at most.
      const norm = (x: JsonRow): JsonRow => (initial.has(x.ns) ? { ...x, nprocs: 0 } : x);
      t.same(m === undefined ? undefined : norm(m), norm(r), `row ${r.ns} ${r.type}`);
    }
    t.notOk(
      theirs.some((r) => r.ns === inoB),
      'lsns 2.38.1 does not list B (no process)',
    );
  });

  t.test('table, raw and -W renderings of NSFS and NETNSID equal lsns', async (t) => {
    for (const args of [
      ['-t', 'net'],
      ['-t', 'net', '-W'],
      ['-t', 'net', '-r'],
      ['-t', 'net', '-n', '-o', 'NS,NSFS,NETNSID'],
      ['-t', 'uts', '-o', 'NS,NSFS,NPROCS'],
    ]) {
      // Mask NPROCS of the initial net/uts rows, the only field the tools may disagree on; other
      // tests' processes come and go, so retry a few times before calling it a difference.
      const mask = (s: string): string => s.replace(/^(\s*4026531[0-9]{3} (?:net|uts)\s+)[0-9]+/gm, '$1N');
      let a = lsns(args);
      let b = ours(['--no-persistent', ...args]);
      for (let i = 0; i < 5 && mask(a.stdout) !== mask(b.stdout); i++) {
        await new Promise((r) => setTimeout(r, 200));
        a = lsns(args);
        b = ours(['--no-persistent', ...args]);
      }
      t.equal(mask(b.stdout), mask(a.stdout), `lsns ${args.join(' ')}`);
    }
  });

  t.test('a namespace pinned only by a bind mount is listed with NPROCS 0 (-P lists only those)', async (t) => {
    const all = rowsOf(ours(['-J', '-l', '-t', 'net', '-o', 'NS,TYPE,NPROCS,PID,NSFS,PATH,USER,ONS']));
    const b = all.find((r) => r.ns === inoB);
    t.ok(b, 'B is listed');
    t.equal(b?.nprocs, 0);
    t.equal(b?.pid, null);
    t.equal(b?.nsfs, `/run/netns/${netns[1]}`);
    t.equal(b?.path, `/run/netns/${netns[1]}`);
    t.equal(b?.user, 'root', 'owner of its user namespace');
    t.equal(b?.ons, inode('/proc/2/ns/user'), 'owned by the initial user namespace');
    const only = rowsOf(ours(['-J', '-P', '-o', 'NS,NPROCS']));
    t.ok(
      only.some((r) => r.ns === inoB),
      '-P lists B',
    );
    t.ok(
      only.every((r) => r.nprocs === 0),
      '-P lists only NPROCS-0 rows',
    );
    const none = rowsOf(ours(['-J', '--no-persistent', '-t', 'net', '-o', 'NS']));
    t.notOk(
      none.some((r) => r.ns === inoB),
      '--no-persistent leaves it out',
    );
  });

  t.test('HOSTNAME shows the hostname inside each UTS namespace', async (t) => {
    const rows = rowsOf(ours(['-J', '-t', 'uts', '-o', 'NS,HOSTNAME']));
    t.equal(rows.find((r) => r.ns === utsIno)?.hostname, `${TAG}-host`);
    t.equal(rows.find((r) => r.ns === inode('/proc/2/ns/uts'))?.hostname, os.hostname(), 'the host UTS namespace');
    const text = ours(['-t', 'uts', '-o', 'NS,HOSTNAME']).stdout;
    t.match(text, new RegExp(`^${utsIno} ${TAG}-host$`, 'm'));
  });

  t.test('inside unshare -Ur (EPERM outside the caller scope) both tools agree', async (t) => {
    // Both tools in ONE new user namespace (each `unshare -Ur` would make its own).
    const SEP = '\n--- scope-namespaces ---\n';
    for (const args of [
      ['-J', '-l', '-o', 'NS,TYPE,PNS,ONS,NETNSID'],
      ['--tree=owner', '-o', 'NS,TYPE,ONS'],
      ['--tree=parent', '-o', 'NS,TYPE,PNS'],
    ]) {
      const quoted = args.map((x) => `'${x}'`).join(' ');
      const both = sh('unshare', [
        '-Ur',
        'sh',
        '-c',
        `${LSNS} ${quoted}; echo "rc=$?"; printf '${SEP.replace(/\n/g, '\\n')}'; '${process.execPath}' '${OURS}' list --no-persistent ${quoted}; echo "rc=$?"`,
      ]);
      const [a, b] = both.stdout.split(SEP);
      t.ok(a !== undefined && b !== undefined, 'both tools ran');
      t.match(a ?? '', /rc=0\n$/, 'lsns exit 0');
      t.equal(b, a, `lsns ${args.join(' ')} inside unshare -Ur`);
      t.notMatch(both.stderr, /Error|at .*\.js/, 'no stack trace');
    }
  });
}
