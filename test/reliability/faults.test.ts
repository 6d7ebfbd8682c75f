/**
 * Fault injection: a small fake procfs (test/support/fake-procfs.ts) broken in one way per case
 * (truncated and binary files, missing files and directories, symlink loops, huge sparse files,
 * FIFOs and devices where files should be, odd directory names, ns entries that are not links).
 * `list` (table, -J, --output-all -J) and `report` run on each, with an empty PATH and
 * LOG_LEVEL=debug: exit 0, valid output, a debug-level note where something was skipped, no stack
 * trace, no hang (each run has a deadline), and no huge file read past its cap (the bytes the
 * kernel counted the run reading: test/support/read-bytes.ts). A `--proc` that does not exist or is not a
 * directory: one line on stderr, non-zero exit.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import t, { type Test } from 'tap';
import { reportProblems } from '../../src/scope/schema.js';
import { cli } from '../support/daemon.js';
import { INITIAL_NS, smallHost, writeFakeProcfs } from '../support/fake-procfs.js';
import { spawnCounted } from '../support/read-bytes.js';

/**
 * Only a hang reaches it (say, a read blocked on a FIFO with no writer): a slow run on a busy
 * machine must not, so it is far above any run's time.
 */
const DEADLINE_MS = 120_000;
const tmp = fs.mkdtempSync('/tmp/snf-');
t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
  /** Bytes the CLI read (all its threads), counted by the kernel; null if the count never came. */
  rchar: number | null;
}

function run(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve) => {
    const started = Date.now();
    const { child, pid, rchar } = spawnCounted([process.execPath, cli, ...args], { PATH: '', LANG: 'C.UTF-8', LOG_LEVEL: 'debug', ...env });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString('latin1')));
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    // A hang is a deadline passed, not a slow run: the program and its wrapper are killed.
    const timer = setTimeout(() => {
      void pid.then((p) => {
        if (p !== null) process.kill(p, 'SIGKILL');
      });
      child.kill('SIGKILL');
    }, DEADLINE_MS);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      void rchar.then((bytes) => resolve({ code, signal, stdout, stderr, ms: Date.now() - started, rchar: bytes }));
    });
  });
}

/** A stack trace line (`    at fn (file:1:2)`) or an uncaught error's name. */
const STACK = /^\s+at .+[:(]|\bTypeError\b|\bRangeError\b|Uncaught|unhandled/im;

/** Node has no mkfifo and tests run no external program: call the C library through koffi. */
let mkfifoFn: ((p: string, mode: number) => number) | null = null;
async function loadMkfifo(): Promise<void> {
  const koffi = (await import('koffi')).default;
  const libc = koffi.load('libc.so.6');
  mkfifoFn = libc.func('int mkfifo(const char *path, uint32_t mode)') as (p: string, mode: number) => number;
}
function fifo(p: string): void {
  if (!mkfifoFn || mkfifoFn(p, 0o644) !== 0) throw new Error(`mkfifo ${p} failed`);
}

/** A sparse file of `size` bytes (zeros), optionally starting with `head`. */
function huge(p: string, size: number, head = ''): void {
  fs.rmSync(p, { force: true });
  fs.writeFileSync(p, head);
  fs.truncateSync(p, size);
}

const GiB = 1024 * 1024 * 1024;
/**
 * Most bytes one run may read: node's start-up and the bundle (about 2 MiB), the small tree, and
 * the capped reads of a huge file: 64 MiB of a mount table, which `list --output-all` reads twice
 * (NSFS and the bind-mount rows), 16 MiB of a passwd. Reading any 1 GiB file to its end is 4x this.
 */
const READ_BUDGET = GiB / 4;
const CONTAINER_PID = 301;

interface Fault {
  name: string;
  apply(root: string, pid: string): void;
  /** Expected in stderr with LOG_LEVEL=debug (list's per-file note); null: nothing was skipped. */
  note: RegExp | null;
}

const faults: Fault[] = [
  { name: 'truncated stat', apply: (_r, p) => fs.writeFileSync(`${p}/stat`, '301 (ngi'), note: /301\/stat: garbage/ },
  { name: 'stat cut after ppid', apply: (_r, p) => fs.writeFileSync(`${p}/stat`, '301 (nginx) S 300 1 1'), note: /301\/stat: garbage/ },
  { name: 'binary stat', apply: (_r, p) => fs.writeFileSync(`${p}/stat`, Buffer.from(Array.from({ length: 512 }, (_, i) => (i * 131 + 7) & 0xff))), note: /301\/stat: garbage/ },
  { name: 'empty stat', apply: (_r, p) => fs.writeFileSync(`${p}/stat`, ''), note: /301\/stat: garbage/ },
  { name: 'missing stat', apply: (_r, p) => fs.rmSync(`${p}/stat`), note: /301\/stat: vanished \(ENOENT\)/ },
  {
    name: 'stat is a directory',
    apply: (_r, p) => {
      fs.rmSync(`${p}/stat`);
      fs.mkdirSync(`${p}/stat`);
    },
    note: /301\/stat: garbage \(E(ISDIR|NOTREG)\)/,
  },
  { name: 'binary status', apply: (_r, p) => fs.writeFileSync(`${p}/status`, Buffer.from([0, 1, 2, 0xff, 0x55, 10, 0x55, 0x69, 0x64, 0x3a, 9, 0xff])), note: /301\/status: garbage/ },
  { name: 'missing status', apply: (_r, p) => fs.rmSync(`${p}/status`), note: /301\/status: vanished/ },
  { name: 'missing cmdline', apply: (_r, p) => fs.rmSync(`${p}/cmdline`), note: /301\/cmdline: vanished/ },
  { name: 'no ns directory', apply: (_r, p) => fs.rmSync(`${p}/ns`, { recursive: true }), note: /301\/ns: vanished/ },
  {
    name: 'ns is a file',
    apply: (_r, p) => {
      fs.rmSync(`${p}/ns`, { recursive: true });
      fs.writeFileSync(`${p}/ns`, 'x');
    },
    note: /301\/ns(\/\w+)?: vanished \(ENOTDIR\)/,
  },
  {
    name: 'ns entries are regular files',
    apply: (_r, p) => {
      for (const type of ['net', 'uts', 'mnt']) {
        fs.rmSync(`${p}/ns/${type}`);
        fs.writeFileSync(`${p}/ns/${type}`, `${type}:[4026532204]`);
      }
    },
    note: /301\/ns\/net: garbage \(EINVAL\)/,
  },
  {
    name: 'ns entry is a directory',
    apply: (_r, p) => {
      fs.rmSync(`${p}/ns/ipc`);
      fs.mkdirSync(`${p}/ns/ipc`);
    },
    note: /301\/ns\/ipc: garbage/,
  },
  {
    name: 'ns link with garbage target',
    apply: (_r, p) => {
      fs.rmSync(`${p}/ns/net`);
      fs.symlinkSync('net:[40265x2204]', `${p}/ns/net`);
    },
    note: /301\/ns\/net: garbage/,
  },
  {
    name: 'ns link of the wrong type',
    apply: (_r, p) => {
      fs.rmSync(`${p}/ns/net`);
      fs.symlinkSync('uts:[4026532202]', `${p}/ns/net`);
    },
    note: /301\/ns\/net: garbage/,
  },
  {
    name: 'ns link with a 30-digit inode',
    apply: (_r, p) => {
      fs.rmSync(`${p}/ns/net`);
      fs.symlinkSync(`net:[${'9'.repeat(30)}]`, `${p}/ns/net`);
    },
    note: /301\/ns\/net: garbage/,
  },
  {
    name: 'stat symlink loop',
    apply: (_r, p) => {
      fs.rmSync(`${p}/stat`);
      fs.symlinkSync('stat2', `${p}/stat`);
      fs.symlinkSync('stat', `${p}/stat2`);
    },
    note: /301\/stat: garbage \(ELOOP\)/,
  },
  {
    name: 'ns directory symlink loop',
    apply: (_r, p) => {
      fs.rmSync(`${p}/ns`, { recursive: true });
      fs.symlinkSync('ns', `${p}/ns`);
    },
    note: /301\/ns(\/\w+)?: garbage \(ELOOP\)/,
  },
  { name: 'pid directory symlink loop', apply: (r) => fs.symlinkSync('4000', `${r}/4000`), note: /4000\/ns(\/\w+)?: garbage \(ELOOP\)/ },
  {
    name: 'passwd symlink loop',
    apply: (r) => {
      fs.rmSync(`${r}/1/root`, { recursive: true });
      fs.symlinkSync('root', `${r}/1/root`);
    },
    note: null,
  },
  { name: 'huge stat (1 GiB, sparse)', apply: (_r, p) => huge(`${p}/stat`, GiB), note: /301\/stat: garbage/ },
  {
    name: 'huge stat with a valid start',
    apply: (_r, p) => huge(`${p}/stat`, GiB, `301 (${'n'.repeat(20000)}) S 300 1 1 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 401 0 0\n`),
    note: /301\/stat: garbage/,
  },
  { name: 'huge status', apply: (_r, p) => huge(`${p}/status`, GiB), note: /301\/status: garbage/ },
  { name: 'huge cmdline', apply: (_r, p) => huge(`${p}/cmdline`, GiB, 'x'.repeat(100_000)), note: null },
  { name: 'huge passwd', apply: (r) => huge(`${r}/1/root/etc/passwd`, GiB, 'root:x:0:0::/:/bin/sh\n'), note: null },
  {
    name: 'huge mountinfo',
    apply: (r) => {
      fs.mkdirSync(`${r}/self`);
      huge(`${r}/self/mountinfo`, GiB);
    },
    note: null,
  },
  {
    name: 'FIFO as stat',
    apply: (_r, p) => {
      fs.rmSync(`${p}/stat`);
      fifo(`${p}/stat`);
    },
    note: /301\/stat: garbage \(ENOTREG\)/,
  },
  {
    name: 'FIFO as status',
    apply: (_r, p) => {
      fs.rmSync(`${p}/status`);
      fifo(`${p}/status`);
    },
    note: /301\/status: garbage \(ENOTREG\)/,
  },
  {
    name: 'FIFO as cmdline',
    apply: (_r, p) => {
      fs.rmSync(`${p}/cmdline`);
      fifo(`${p}/cmdline`);
    },
    note: /301\/cmdline: garbage \(ENOTREG\)/,
  },
  {
    name: 'FIFO as passwd',
    apply: (r) => {
      fs.rmSync(`${r}/1/root/etc/passwd`);
      fifo(`${r}/1/root/etc/passwd`);
    },
    note: null,
  },
  {
    name: 'FIFO as mountinfo',
    apply: (r, p) => {
      fs.mkdirSync(`${r}/self`);
      fifo(`${r}/self/mountinfo`);
      fifo(`${p}/mountinfo`);
    },
    note: /mountinfo: garbage \(ENOTREG\)/,
  },
  {
    // The ns link target is relative: `uts:[N]` in the ns directory. A FIFO there is what the
    // hostname reader and the ioctl walk open (O_NONBLOCK, so they do not wait for a writer).
    name: 'FIFO where an ns link points',
    apply: (_r, p) => {
      for (const type of ['uts', 'net', 'user', 'pid']) fifo(`${p}/ns/${type}:[${type === 'uts' ? 4026532202 : type === 'net' ? 4026532204 : type === 'pid' ? 4026532203 : INITIAL_NS.user}]`);
    },
    note: null,
  },
  {
    // A bind-mount-only namespace whose mount point is a FIFO (what `report` opens for its hostname).
    name: 'nsfs mount on a FIFO',
    apply: (r, p) => {
      fs.mkdirSync(`${r}/self`);
      fifo(`${p}/fifo-mnt`);
      const mp = path.resolve(`${p}/fifo-mnt`);
      fs.writeFileSync(
        `${r}/self/mountinfo`,
        `30 1 0:4 uts:[4026599999] ${mp} rw - nsfs nsfs rw\n31 1 0:4 net:[4026599998] ${mp} rw - nsfs nsfs rw\n32 1 0:4 user:[4026599997] ${mp} rw - nsfs nsfs rw\n`,
      );
    },
    note: null,
  },
  {
    name: 'mountinfo garbage',
    apply: (r) => {
      fs.mkdirSync(`${r}/self`);
      fs.writeFileSync(`${r}/self/mountinfo`, '1 2 3\n- nsfs\n30 1 x uts:[1] /a rw - nsfs nsfs rw\n30 1 0:4 uts:[] /a rw - nsfs\n\0\0\xff\n');
    },
    note: null,
  },
  {
    name: 'stat is /dev/zero',
    apply: (_r, p) => {
      fs.rmSync(`${p}/stat`);
      fs.symlinkSync('/dev/zero', `${p}/stat`);
    },
    note: /301\/stat: garbage \(ENOTREG\)/,
  },
  {
    name: 'odd directory names',
    apply: (r) => {
      for (const name of ['007', '99999999999', '-3', 'abc', '12 ', '1\n2', '\u00e9', '1e3', ' 5']) fs.mkdirSync(path.join(r, name));
      fs.writeFileSync(`${r}/4242`, 'a file where a pid directory should be');
      fs.symlinkSync('/', `${r}/4243`);
    },
    note: /debug: 007: garbage[\s\S]*4242\/ns: vanished \(ENOTDIR\)/,
  },
];

t.before(loadMkfifo);

/** FAULTS=<substring> runs only the matching cases (debugging). */
const only = process.env['FAULTS'];
if (only) faults.splice(0, faults.length, ...faults.filter((f) => f.name.includes(only)));

/** One fresh broken tree per fault. */
function tree(f: Fault, i: number): string {
  const root = path.join(tmp, `f${i}`);
  const { procs, passwd } = smallHost();
  writeFakeProcfs(root, procs, passwd);
  f.apply(root, path.join(root, String(CONTAINER_PID)));
  return root;
}

function checkRun(t: Test, what: string, r: Run): void {
  t.equal(r.signal, null, `${what}: did not hang (${r.ms} ms)`);
  t.equal(r.code, 0, `${what}: exit 0`, { stderr: r.stderr.slice(0, 2000) });
  t.notMatch(r.stderr, STACK, `${what}: no stack trace`);
}

t.test('every fault: list and report exit 0 with valid output', async (t) => {
  // A few trees at a time: 150 node processes at once would make every run slow.
  // `list --output-all -J` (every column, so the native lookups open what the tree points at too)
  // and `report` per fault, a few trees at a time: on a small machine 150 node processes at once
  // would make every run slow. The table output gets its own run in the combined test below.
  const results: Array<{ f: Fault; all: Run; report: Run }> = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < faults.length; i = next++) {
      const f = faults[i] as Fault;
      const root = tree(f, i);
      const [all, report] = await Promise.all([run(['list', '--output-all', '-J', '--proc', root]), run(['report', '--proc', root, '--hostname', 'h'])]);
      results[i] = { f, all, report };
    }
  };
  await Promise.all([worker(), worker()]);
  for (const { f, all, report } of results) {
    t.test(f.name, async (t) => {
      const json = all;
      checkRun(t, 'list --output-all -J', all);
      let parsed: { namespaces?: Array<{ command?: string | null }> } = {};
      t.doesNotThrow(() => (parsed = JSON.parse(Buffer.from(json.stdout, 'latin1').toString('utf8')) as typeof parsed), 'list -J: valid JSON');
      t.ok(Array.isArray(parsed.namespaces) && parsed.namespaces.length >= 8, 'list -J: the host namespaces are there');
      t.ok(
        (parsed.namespaces ?? []).every((ns) => Buffer.byteLength(ns.command ?? '') <= 8191 * 3),
        'COMMAND is capped',
      );
      checkRun(t, 'report', report);
      let rep: unknown = null;
      t.doesNotThrow(() => {
        rep = JSON.parse(report.stdout) as unknown;
      }, 'report: JSON');
      t.same(reportProblems(rep, 'host-namespaces'), [], 'report: what the probe accepts');
      if (f.note) {
        t.match(json.stderr, f.note, 'list: debug note');
        t.match(report.stderr, /report: debug: read problems: /, 'report: debug note');
      }
      for (const [what, r] of [['list --output-all -J', all] as const, ['report', report] as const]) {
        t.ok(r.rchar !== null && r.rchar < READ_BUDGET, `${what}: reads are capped: ${r.rchar} bytes read`);
      }
    });
  }
});

t.test('all faults in one tree: the table and -J', async (t) => {
  const root = path.join(tmp, 'all');
  const { procs, passwd } = smallHost();
  // One more process per fault, in namespaces of its own (pid 1000 + i), each broken its way.
  const extra = faults.map((_f, i) => ({ pid: 1000 + i, ppid: 1, uid: 0, comm: `victim${i}`, argv: [`victim${i}`], ns: { ...INITIAL_NS, uts: 4026540000 + i, ipc: 4026541000 + i } }));
  writeFakeProcfs(root, [...procs, ...extra], passwd);
  faults.forEach((f, i) => {
    try {
      f.apply(root, path.join(root, String(1000 + i)));
    } catch {
      // a second root-level fault of the same file (passwd, self/mountinfo): one is enough
    }
  });
  const [table, json] = await Promise.all([run(['list', '--proc', root]), run(['list', '-J', '--proc', root])]);
  checkRun(t, 'list', table);
  t.match(table.stdout, /^ +NS TYPE +NPROCS +PID USER +COMMAND\n/, 'list: a table');
  t.match(table.stdout, /nginx: worker|victim\d+\n/, 'with the intact processes');
  checkRun(t, 'list -J', json);
  t.doesNotThrow(() => JSON.parse(Buffer.from(json.stdout, 'latin1').toString('utf8')) as unknown, 'list -J: valid JSON');
  t.match(table.stderr, /debug: .*garbage/);
});

t.test('notes only at debug level', async (t) => {
  const root = tree(faults[0] as Fault, 1000);
  const quiet = await run(['list', '--proc', root], { LOG_LEVEL: '' });
  t.equal(quiet.code, 0);
  t.equal(quiet.stderr, '', 'list: nothing on stderr without LOG_LEVEL=debug');
  const rq = await run(['report', '--proc', root, '--hostname', 'h'], { LOG_LEVEL: '' });
  t.equal(rq.code, 0);
  t.notMatch(rq.stderr, /debug/, 'report: no debug note');
});

t.test('an empty root', async (t) => {
  const root = path.join(tmp, 'empty');
  fs.mkdirSync(root);
  const r = await run(['list', '--proc', root]);
  checkRun(t, 'list', r);
  t.equal(r.stdout, '', 'nothing listed');
  t.match(r.stderr, /holds no processes/);
  const rep = await run(['report', '--proc', root, '--hostname', 'h']);
  checkRun(t, 'report', rep);
  t.same(reportProblems(JSON.parse(rep.stdout), 'host-namespaces'), []);
});

t.test('a --proc that does not exist, or is not a directory: one line, non-zero exit', async (t) => {
  const file = path.join(tmp, 'plain-file');
  fs.writeFileSync(file, 'x');
  for (const proc of [path.join(tmp, 'does-not-exist'), file]) {
    for (const args of [['list'], ['list', '-J'], ['report', '--hostname', 'h']]) {
      const r = await run([...args, '--proc', proc]);
      const what = `${args.join(' ')} --proc ${path.basename(proc)}`;
      t.not(r.code, 0, `${what}: non-zero exit`);
      t.equal(r.signal, null);
      t.equal(r.stdout, '', `${what}: nothing on stdout`);
      t.equal(r.stderr.split('\n').filter((l) => l !== '').length, 1, `${what}: one line: ${r.stderr.trim()}`);
      t.match(r.stderr, /cannot read .*: (ENOENT|ENOTDIR)/);
    }
  }
});
