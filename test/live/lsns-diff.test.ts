/**
 * Live comparison with the real lsns: start awkward namespaces (test/support/namespaces.ts), run
 * /usr/bin/lsns and `node dist/cli/main.js list` with the same arguments (LANG=C.UTF-8, stdout a
 * pipe) and require the same bytes. Both tools count their own process in the initial
 * namespaces, so the outputs are identical. Other activity on the host races with both tools: each
 * comparison runs lsns before and after ours. When those two agree, ours must equal them; when they
 * differ line by line, each line of ours must be one of theirs, or differ from them only in the
 * NPROCS cell that differs between theirs, with a count between theirs (a loaded host starts and
 * ends kernel workers all the time: the initial namespaces' counts move between any two runs);
 * else (rows came or went, lsns exited 1 because a process vanished mid-scan) the comparison is
 * retried (test/support/stable.ts).
 *
 * Columns NETNSID, NSFS, PNS, ONS and the owner/parent trees are compared here too (KERNEL_CASES);
 * bind mounts, netns ids, multi-line NSFS and `-W` are in native-columns.test.ts.
 * Not compared:
 *   - truncation on a terminal (needs a pty; here stdout is always a pipe).
 *   - bind-mount-only namespaces: we list them unless --no-persistent (2.38.1 never does); the
 *     comparison always passes --no-persistent to our CLI.
 *   - positional `<namespace>` (process mode) output.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { NS_TYPES } from '../../src/procfs/types.js';
import { nsInode, startAwkwardNamespaces, type AwkwardNamespaces } from '../support/namespaces.js';
import { mortal } from '../support/tag.js';
import { retryWhileRacing } from '../support/stable.js';

const LSNS = '/usr/bin/lsns';
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const OURS = path.join(ROOT, 'dist/cli/main.js');
const OUR_PROG = 'scope-namespaces list';
/** Comparisons bracketed by two agreeing lsns runs; more only while the host keeps changing. */
const ATTEMPTS = 12;

interface Run {
  status: number | null;
  /** Byte string (latin1). */
  stdout: string;
  stderr: string;
}

function toolEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, LANG: 'C.UTF-8', ...extra };
  for (const k of ['LC_ALL', 'LC_CTYPE', 'LC_MESSAGES', 'COLUMNS', 'LINES']) if (!(k in extra)) env[k] = undefined;
  return env;
}

function run(which: 'lsns' | 'ours', args: readonly string[], extraEnv: Record<string, string> = {}): Run {
  // --no-persistent: without it we also list bind-mount-only namespaces, which 2.38.1 does not.
  // argv0 'lsns': getopt prefixes its messages with argv[0] (`/usr/bin/lsns: invalid option`).
  // Under setpriv (mortal) so that a run of several seconds dies with a test that is stopped.
  const [cmd, argv] = which === 'lsns' ? mortal('bash', ['-c', 'exec -a lsns "$0" "$@"', LSNS, ...args]) : mortal(process.execPath, [OURS, 'list', '--no-persistent', ...args]);
  const r = spawnSync(cmd, argv, { env: toolEnv(extraEnv), stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20, timeout: 60000 });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout.toString('latin1'), stderr: r.stderr.toString('latin1') };
}

/** Rebuild the CLI bundle when a source file is newer than it (running one test by hand). */
function ensureBuilt(): void {
  const built = fs.existsSync(OURS) ? fs.statSync(OURS).mtimeMs : 0;
  const stale = (dir: string): boolean =>
    fs.readdirSync(dir, { withFileTypes: true }).some((e) => {
      const src = path.join(dir, e.name);
      if (e.isDirectory()) return stale(src);
      return e.name.endsWith('.ts') && fs.statSync(src).mtimeMs > built;
    });
  if (!stale(path.join(ROOT, 'src'))) return;
  const r = spawnSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit' });
  if (r.status !== 0) throw new Error('npm run build failed');
}

const initialInodes = (): Set<number> => new Set(NS_TYPES.map((ty) => nsInode(2, ty)).filter((n): n is number => n !== null));

const sameRun = (a: Run, b: Run): boolean => a.status === b.status && a.stdout === b.stdout && a.stderr === b.stderr;

/** null when equal, else a short description of the first difference. */
function difference(lsns: Run, ours: Run): string | null {
  if (ours.status !== lsns.status) return `exit ${ours.status} (stderr ${JSON.stringify(ours.stderr)})`;
  if (ours.stderr !== lsns.stderr) return `stderr ${JSON.stringify(ours.stderr)} vs ${JSON.stringify(lsns.stderr)}`;
  if (ours.stdout === lsns.stdout) return null;
  const la = lsns.stdout.split('\n');
  const lb = ours.stdout.split('\n');
  let i = 0;
  while (la[i] === lb[i]) i++;
  return `first difference at line ${i + 1} (of ${la.length} / ${lb.length})\n  lsns: ${JSON.stringify(la[i])}\n  ours: ${JSON.stringify(lb[i])}`;
}

/** Columns whose cells are one word each: the words before NPROCS can be counted. */
const ONE_WORD = new Set(['NS', 'TYPE', 'PID', 'PPID', 'UID', 'NETNSID', 'PNS', 'ONS']);

/**
 * Where a line's NPROCS cell is, as [start, end) or null: the `"nprocs": N` value of a JSON line,
 * or the NPROCS word of a table or raw line (found by counting words, so only where the columns
 * before it are one word each; a tree's branch characters are part of the NS word).
 */
function nprocsCell(line: string, columns: Case['columns']): [number, number] | null {
  if (columns === 'json') {
    const m = /^(\s*"nprocs": )\d+,?$/.exec(line);
    return m?.[1] === undefined ? null : [m[1].length, m[1].length + (/\d+/.exec(line.slice(m[1].length))?.[0].length ?? 0)];
  }
  const k = columns.indexOf('NPROCS');
  if (k < 0 || !columns.slice(0, k).every((c) => ONE_WORD.has(c))) return null;
  const words = [...line.matchAll(/\S+/g)];
  const w = words[k];
  return w === undefined || !/^\d+$/.test(w[0]) ? null : [w.index, w.index + w[0].length];
}

/**
 * Whether `ours` is the line lsns printed before and after but for the NPROCS cell, which alone
 * differs between the two and of which ours lies between theirs: the count of a namespace every
 * process starting or exiting on the host changes (the initial ones: kernel workers come and go
 * with the load), read by our run at a moment between lsns's two.
 */
function countBetween(before: string, after: string, ours: string, columns: Case['columns']): boolean {
  const cells = [before, after, ours].map((l) => nprocsCell(l, columns));
  const [b, a, o] = cells;
  if (b === null || b === undefined || a === null || a === undefined || o === null || o === undefined) return false;
  const masked = [before, after, ours].map((l, i) => {
    const [s, e] = cells[i] as [number, number];
    return `${l.slice(0, s)}${'#'.repeat(e - s)}${l.slice(e)}`;
  });
  if (masked[0] !== masked[1] || masked[2] !== masked[1]) return false;
  const n = [before.slice(...b), after.slice(...a), ours.slice(...o)].map(Number) as [number, number, number];
  return n[2] >= Math.min(n[0], n[1]) && n[2] <= Math.max(n[0], n[1]);
}

/**
 * When the host changed between the two lsns runs (a busy host always starts and ends processes):
 * with the same number of lines, every line of ours must be the line lsns printed at one of the two
 * moments — what our run saw in between — or, where the two differ only in a count, that line with
 * a count between theirs (countBetween). A different line count means rows came or went: retry.
 */
function betweenRuns(before: Run, after: Run, ours: Run, columns: Case['columns']): string | null {
  if (ours.status !== after.status || ours.stderr !== after.stderr) return difference(after, ours);
  const lb = before.stdout.split('\n');
  const la = after.stdout.split('\n');
  const lo = ours.stdout.split('\n');
  if (lb.length !== la.length) return `lsns printed ${lb.length} then ${la.length} lines: the host changed meanwhile`;
  if (lo.length !== la.length) return `ours printed ${lo.length} lines, lsns ${la.length} before and after`;
  for (let i = 0; i < lo.length; i++) {
    const [o, b, a] = [lo[i] ?? '', lb[i] ?? '', la[i] ?? ''];
    if (o !== a && o !== b && !countBetween(b, a, o, columns)) {
      return `line ${i + 1} is neither lsns's before nor after\n  lsns: ${JSON.stringify(b)}\n  lsns: ${JSON.stringify(a)}\n  ours: ${JSON.stringify(o)}`;
    }
  }
  return null;
}

const DEFAULT = ['NS', 'TYPE', 'NPROCS', 'PID', 'USER', 'COMMAND'];

interface Case {
  args: string[];
  /** Output columns in order, or 'json' (documents what the case shows). */
  columns: string[] | 'json';
  env?: Record<string, string>;
  /** Extra check on lsns's output, to be sure the case shows what it is meant to. */
  expect?: (lsnsOut: string) => string | null;
}

function skipReason(): string | null {
  if (!fs.existsSync(LSNS)) return `${LSNS} is absent: nothing to compare with`;
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return 'not root: cannot create the test namespaces or read every process';
  for (const tool of ['unshare', 'nsenter', 'setpriv', 'bash']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) return `${tool} is not installed`;
  }
  return null;
}

const reason = skipReason();
if (reason !== null) {
  t.plan(0, `skip: ${reason}`);
} else {
  await liveTests();
}

async function liveTests(): Promise<void> {
  ensureBuilt();
  let ns: AwkwardNamespaces | null = null;
  t.teardown(async () => {
    if (!ns) return;
    const report = await ns.cleanup();
    // Double check: none of the pids we started is alive any more.
    const stillThere = ns.pids();
    if (report.survivors.length > 0 || stillThere.length > 0) {
      throw new Error(`processes survived the cleanup: ${[...report.survivors, ...stillThere.map(String)].join(', ')}`);
    }
  });
  ns = await startAwkwardNamespaces();
  const n = ns;
  t.comment(
    `namespaces up: all8 ${n.all8.parent}/${n.all8.child}, nested ${n.nested.outer}/${n.nested.inner}/${n.nested.leaf}, ` +
      `zombie ${n.zombie.zombie} (parent ${n.zombie.parent}), tree ${n.tree.root}, oldNs child ${n.oldNs.child} ` +
      `(net ${n.oldNs.netIno}, ordered ${n.oldNs.ordered}), odd ${n.odd.map((o) => o.pid).join(',')}, uids ${n.otherUid.pid},${n.unknownUid.pid}`,
  );
  if (!n.oldNs.ordered) t.comment('warning: could not get the old net namespace a smaller inode than its parent rows; §2.2 case not exercised');

  const initial = initialInodes();
  t.ok(initial.size >= 6, 'the initial namespaces (of pid 2) are readable');

  const listCols = ['NS', 'TYPE', 'NPROCS', 'PID', 'PPID', 'UID', 'USER', 'COMMAND', 'PATH'];
  const cases: Case[] = [
    {
      args: ['--json', '--list', '-o', listCols.join(',')],
      columns: 'json',
      expect: (out) => {
        const rows = (JSON.parse(out) as { namespaces: Array<{ pid: number; type: string; uid: number; user: string; command: string }> }).namespaces;
        const missing: string[] = [];
        const need = (what: string, ok: boolean): void => {
          if (!ok) missing.push(what);
        };
        need(
          'zombie user row',
          rows.some((r) => r.pid === n.zombie.zombie && r.type === 'user' && r.command === n.zombie.comm),
        );
        need('all8 pid+time rows', rows.some((r) => r.pid === n.all8.child && r.type === 'time') && rows.some((r) => r.pid === n.all8.child && r.type === 'pid'));
        need(
          'nested leaf pid row',
          rows.some((r) => r.pid === n.nested.leaf && r.type === 'pid'),
        );
        need(
          'nested inner user row',
          rows.some((r) => r.pid === n.nested.inner && r.type === 'user'),
        );
        need(
          'nobody row',
          rows.some((r) => r.pid === n.otherUid.pid && r.uid === 65534 && r.user === 'nobody'),
        );
        need(
          'uid 4000000 row',
          rows.some((r) => r.pid === n.unknownUid.pid && r.user === '4000000'),
        );
        for (const o of n.odd)
          need(
            `odd "${o.label}" row`,
            rows.some((r) => r.pid === o.pid && r.type === 'uts'),
          );
        need(
          'old net ns row',
          rows.some((r) => r.pid === n.oldNs.child && r.type === 'net'),
        );
        return missing.length === 0 ? null : `missing in lsns output: ${missing.join('; ')}`;
      },
    },
    {
      args: ['--json'],
      columns: 'json',
      expect: (out) => {
        // The §2.2 case: the child in the old netns is a root although its parent has rows.
        if (!n.oldNs.ordered) return null;
        const top = (JSON.parse(out) as { namespaces: Array<{ pid: number; type: string }> }).namespaces;
        return top.some((r) => r.pid === n.oldNs.child && r.type === 'net') ? null : 'old-netns child is not a root in lsns --json';
      },
    },
    { args: [], columns: DEFAULT },
    { args: ['-l'], columns: DEFAULT },
    { args: ['-r'], columns: DEFAULT },
    { args: ['-n'], columns: DEFAULT },
    { args: ['-u'], columns: DEFAULT },
    { args: ['-r', '-n', '-l'], columns: DEFAULT },
    { args: ['-t', 'pid'], columns: DEFAULT },
    { args: ['-t', 'user', '-t', 'uts'], columns: DEFAULT },
    { args: ['-t', 'ipc', '-t', 'cgroup'], columns: DEFAULT },
    { args: ['-t', 'mnt', '-t', 'time', '-t', 'mnt'], columns: DEFAULT },
    { args: ['--type=user', '--json'], columns: 'json' },
    { args: ['-p', String(n.tree.cgroup)], columns: DEFAULT },
    { args: ['-p', String(n.tree.mntTime), '--json'], columns: 'json' },
    { args: ['-p', String(n.zombie.zombie)], columns: DEFAULT },
    { args: ['-p', String(n.nested.leaf), '-o', 'NS,TYPE,NPROCS,PID,PPID,COMMAND'], columns: ['NS', 'TYPE', 'NPROCS', 'PID', 'PPID', 'COMMAND'] },
    { args: ['-p', String(n.oldNs.child)], columns: DEFAULT },
    { args: ['-p', String(n.all8.child), '-r'], columns: DEFAULT },
    { args: ['-o', '+PATH'], columns: [...DEFAULT, 'PATH'] },
    { args: ['-o', 'NS,PID,PPID,UID'], columns: ['NS', 'PID', 'PPID', 'UID'] },
    { args: ['-o', 'ns,type,pid,ppid,uid,user'], columns: ['NS', 'TYPE', 'PID', 'PPID', 'UID', 'USER'] },
    { args: ['-l', '-o', 'NS,TYPE,NPROCS,PID,PPID,COMMAND,UID,USER,PATH'], columns: ['NS', 'TYPE', 'NPROCS', 'PID', 'PPID', 'COMMAND', 'UID', 'USER', 'PATH'] },
    { args: ['-r', '-o', 'NS,TYPE,PID,PPID,COMMAND,PATH'], columns: ['NS', 'TYPE', 'PID', 'PPID', 'COMMAND', 'PATH'] },
    { args: ['-o', 'NS', '-o', '+PID'], columns: [...DEFAULT, 'PID'] },
    { args: ['--output-all', '-o', 'NS,TYPE,COMMAND'], columns: ['NS', 'TYPE', 'COMMAND'] },
    { args: ['--output-all', '--tree=process', '-o', 'NS,TYPE,COMMAND'], columns: ['NS', 'TYPE', 'COMMAND'] },
    { args: ['--json', '-o', 'NS,COMMAND', '--output-all'], columns: 'json' },
    { args: ['-l', '--tree=process'], columns: DEFAULT },
    { args: ['-Jl', '-t', 'pid'], columns: 'json' },
    { args: ['-p', '0'], columns: DEFAULT },
    { args: ['-p', '99999999'], columns: DEFAULT, expect: (out) => (out === '' ? null : 'lsns -p 99999999 printed something') },
    { args: ['--json', '-p', '99999999'], columns: 'json', expect: (out) => (out === '{\n   "namespaces": [\n\n   ]\n}\n' ? null : 'unexpected empty JSON shape') },
    { args: ['-t', 'time', '-p', String(n.odd[0]?.pid ?? 1), '-o', 'NS'], columns: ['NS'] },
    { args: [], columns: DEFAULT, env: { LC_ALL: 'C' } },
    { args: ['-r', '-t', 'uts'], columns: DEFAULT, env: { LC_ALL: 'C' } },
    { args: ['-J', '-t', 'uts'], columns: 'json', env: { LC_ALL: 'C' } },
  ];

  // Columns and trees that need ioctl_ns / rtnetlink / mountinfo.
  // Process mode on a namespace none of the two tools is in (their own rows would differ).
  const treeNs = String(nsInode(n.tree.root, 'uts') ?? 0);
  const KERNEL_CASES: Case[] = [
    { args: ['-r', '-Tparent', '-o', 'PNS'], columns: ['PNS'] },
    { args: ['-Towner', '-o', 'TYPE,PID,ONS', '-p', String(n.nested.leaf)], columns: ['TYPE', 'PID', 'ONS'] },
    { args: ['--output-all', '-o', '+UID', '-l'], columns: ['NS', 'TYPE', 'PATH', 'NPROCS'] },
    { args: ['-o', '+PNS,UID,PPID,PATH', '-t', 'mnt', '-t', 'uts', '-Tparent'], columns: ['NS', 'TYPE', 'NPROCS'] },
    { args: [treeNs], columns: ['PID', 'PPID', 'USER', 'COMMAND'] },
    { args: [treeNs, '-T', '-o', 'NS,PID,PPID,COMMAND'], columns: ['NS', 'PID'] },
    { args: [treeNs, '--output-all', '-J'], columns: 'json' },
    { args: ['-t', 'net'], columns: ['NS', 'TYPE', 'NPROCS', 'PID', 'USER', 'NETNSID', 'NSFS', 'COMMAND'] },
    { args: ['--json', '-t', 'net', '-t', 'pid'], columns: 'json' },
    { args: ['-o', 'NS,TYPE,PNS,ONS', '-t', 'user', '-t', 'pid'], columns: ['NS', 'TYPE', 'PNS', 'ONS'] },
    { args: ['--output-all', '-l'], columns: ['NS', 'TYPE', 'PATH', 'NPROCS', 'PID', 'PPID'] },
    { args: ['--tree=owner'], columns: ['NS', 'TYPE', 'NPROCS'] },
    { args: ['--tree=parent', '-o', 'NS,TYPE,NPROCS,PID,PNS,ONS'], columns: ['NS', 'TYPE', 'NPROCS'] },
    { args: ['-Towner', '-t', 'pid', '--json'], columns: 'json' },
    { args: ['-T'], columns: ['NS', 'TYPE', 'NPROCS'] },
    { args: ['-Towner', '-t', 'uts', '-o', 'NS,TYPE,NPROCS,PID,USER,ONS'], columns: ['NS', 'TYPE', 'NPROCS'] },
    { args: ['-Tparent', '-t', 'pid', '-p', String(n.nested.leaf), '-o', 'NS,TYPE,NPROCS,PID,PNS'], columns: ['NS', 'TYPE', 'NPROCS'] },
    { args: ['--tree=parent', '-t', 'user', '--json'], columns: 'json' },
    { args: ['--tree=owner', '-o', 'TYPE,PID', '-t', 'uts'], columns: ['TYPE', 'PID'] },
    { args: ['-J', '--output-all'], columns: 'json' },
    { args: ['-r', '-t', 'net'], columns: ['NS', 'TYPE', 'NPROCS', 'PID', 'USER', 'NETNSID', 'NSFS', 'COMMAND'] },
  ];

  for (const c of [...cases, ...KERNEL_CASES]) {
    const name = `${
      c.env
        ? Object.entries(c.env)
            .map(([k, v]) => `${k}=${v} `)
            .join('')
        : ''
    }lsns ${c.args.map((a) => JSON.stringify(a)).join(' ')}`;
    t.test(name, async (t) => {
      // lsns, ours, lsns again: when the two lsns runs agree, nothing relevant changed on the host
      // during ours, and ours must equal them byte for byte. When they differ (a process started or
      // exited; lsns exits 1 when a process vanishes between its readdir of /proc and its reads), try again.
      const stable: Array<{ lsns: Run; ours: Run }> = [];
      const retried: string[] = [];
      const { problem, attempts } = await retryWhileRacing(
        async () => {
          const p = await attempt();
          if (p !== null) retried.push(p.split('\n').join(' | '));
          return p;
        },
        { attempts: ATTEMPTS, withinMs: 60_000, pauseMs: 250 },
      );
      // Why each attempt was retried: a race shows what changed on the host between the runs.
      for (const [i, why] of retried.entries()) t.comment(`attempt ${i + 1}: ${why}`);
      async function attempt(): Promise<string | null> {
        const before = run('lsns', c.args, c.env);
        const ours = run('ours', c.args, c.env);
        const after = run('lsns', c.args, c.env);
        if (sameRun(before, after)) {
          stable[0] = { lsns: after, ours };
          // A stable lsns failure is asserted below, not retried.
          return after.status === 0 ? difference(after, ours) : null;
        }
        if (before.status !== 0 || after.status !== 0) return `lsns exited ${before.status}/${after.status} (a process vanished during its scan?)`;
        stable[0] = { lsns: after, ours };
        return betweenRuns(before, after, ours, c.columns);
      }
      const seen = stable[0];
      if (seen === undefined) {
        t.fail(`lsns never agreed with itself in ${attempts} attempts: ${problem ?? ''}`);
        return;
      }
      t.equal(seen.lsns.status, 0, `lsns exits 0${seen.lsns.status !== 0 ? ` (twice in a row: ${JSON.stringify(seen.lsns.stderr)})` : ''}`);
      if (seen.lsns.status !== 0) return;
      t.equal(problem, null, attempts === 1 ? 'same output' : `same output (attempt ${attempts})`, { lsnsLines: seen.lsns.stdout.split('\n').length });
      if (problem === null && c.expect) t.equal(c.expect(seen.lsns.stdout), null, 'the case shows what it is meant to');
    });
  }

  const errorCases: string[][] = [
    ['-p', '2', '0'],
    ['-p', '2', '4026531836'],
    ['-o', 'FOO'],
    ['-o', 'NS,FOO'],
    ['-o', 'NS,'],
    ['-o', 'NS,TYPE,'],
    ['-o', 'NS,FOO,,TYPE'],
    ['-o', 'NS,,TYPE'],
    ['-o', ',NS'],
    ['-o', '+,'],
    ['-o', 'NS,,'],
    ['-o', ' NS'],
    ['-o', ''],
    ['-o', '+'],
    ['--bogus'],
    ['-x'],
    ['-t', 'bogus'],
    ['-t', 'PID'],
    ['-t'],
    ['-p', 'abc'],
    ['-p', ''],
    ['-p', '12abc'],
    ['-J', '-r'],
    ['--tree=bogus'],
    ['abc'],
  ];
  for (const args of errorCases) {
    t.test(`error: lsns ${args.map((a) => JSON.stringify(a)).join(' ')}`, async (t) => {
      const a = run('lsns', args);
      const b = run('ours', args);
      t.not(a.status, 0, 'lsns fails');
      t.equal(b.status, a.status, 'same exit code');
      t.equal(b.stdout, a.stdout, 'same stdout');
      t.equal(b.stderr.split(OUR_PROG).join('lsns'), a.stderr, 'same stderr after the program name');
    });
  }
}
