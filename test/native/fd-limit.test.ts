import t from 'tap';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { nextFdLimit } from '../../src/native/fd-limit.js';
import { ensureBuilt, repoRoot } from './fixtures/procs.js';
import { SETPRIV, mortal } from '../support/tag.js';

t.test('the next RLIMIT_NOFILE to ask for', async (t) => {
  t.equal(nextFdLimit(1024, 1048576), 65536, 'at least 65,536');
  t.equal(nextFdLimit(20000, 1048576), 65536);
  t.equal(nextFdLimit(65536, 1048576), 131072, 'doubles');
  t.equal(nextFdLimit(800000, 1048576), 1048576, 'at most nr_open');
  t.equal(nextFdLimit(1048576, 1048576), null, 'nothing left to ask for');
});

// A child with 600 fds (512 of them kept in reserve) watches 100 processes: the watcher must raise the limit (root) or say why not.
const CHILD = `
import { spawn } from 'node:child_process';
import { closeSync, openSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { PidWatcher } from ${JSON.stringify(join(repoRoot, 'dist/lib/native/pid-watch.js'))};
const kids = [];
// --pdeathsig: they die with this child even when it fails before it kills them.
for (let i = 0; i < 100; i++) kids.push(spawn(${JSON.stringify(SETPRIV)}, ['--pdeathsig', 'KILL', '--', 'sleep', '60'], { stdio: 'ignore' }));
const w = PidWatcher.create();
// HOG_FDS: fds taken after the watcher sized itself, so pidfd_open meets EMFILE below its capacity.
const hog = [];
for (let i = 0; i < Number(process.env.HOG_FDS ?? 0); i++) hog.push(openSync('/dev/null', 'r'));
const results = kids.map((k) => { const r = w.watch(k.pid); return typeof r === 'string' ? r : r.code; });
const shed = w.takeShed().length;
for (const fd of hog) closeSync(fd);
// The kernel's count of pidfds this process holds, not the watcher's.
const pidfdsOpen = readdirSync('/proc/self/fd').filter((fd) => { try { return readlinkSync('/proc/self/fd/' + fd) === 'anon_inode:[pidfd]'; } catch { return false; } }).length;
w.close();
const limits = readFileSync('/proc/self/limits', 'latin1').split('\\n').find((l) => l.startsWith('Max open files'));
for (const k of kids) k.kill('SIGKILL');
console.log(JSON.stringify({ watching: results.filter((r) => r === 'watching').length, errors: [...new Set(results.filter((r) => r !== 'watching'))], notes: w.fdLimitNotes, limits, shed, pidfdsOpen }));
`;

interface ChildResult {
  watching: number;
  errors: string[];
  notes: string[];
  limits: string;
  shed: number;
  pidfdsOpen: number;
}

function runChild(prefix: readonly string[], env: NodeJS.ProcessEnv = {}): ChildResult {
  // Under setpriv: it dies with the test (its own setpriv only drops capabilities, which keeps that).
  const r = spawnSync(...mortal(prefix[0] ?? 'prlimit', [...prefix.slice(1), process.execPath, '--input-type=module', '-e', CHILD]), {
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, ...env },
  });
  if (r.status !== 0) throw new Error(`child exited ${r.status ?? r.signal}: ${r.stderr}`);
  return JSON.parse(r.stdout) as ChildResult;
}

const root = process.getuid?.() === 0;
const CAP_SYS_RESOURCE = 24n;
const capEff = BigInt(`0x${/^CapEff:\s*([0-9a-f]+)/m.exec(readFileSync('/proc/self/status', 'latin1'))?.[1] ?? '0'}`);
const canRaise = ((capEff >> CAP_SYS_RESOURCE) & 1n) === 1n;
const tools = ['prlimit', 'setpriv'].every((x) => spawnSync('sh', ['-c', `command -v ${x}`]).status === 0);

t.test('pidfds beyond RLIMIT_NOFILE', { skip: !root || !tools ? 'needs root, prlimit and setpriv' : false }, async (t) => {
  ensureBuilt();
  t.test('with CAP_SYS_RESOURCE the limit is raised and every process watched', { skip: canRaise ? false : 'this process lacks CAP_SYS_RESOURCE' }, async (t) => {
    const r = runChild(['prlimit', '--nofile=600:600', '--']);
    t.equal(r.watching, 100);
    t.same(r.errors, []);
    t.same(r.notes, ['600 -> 65536']);
    // The kernel's view of the child's limits, not the watcher's.
    t.match(r.limits, /^Max open files\s+65536\s+65536\s/);
  });
  t.test('without CAP_SYS_RESOURCE it says why once, keeps its reserve and the rest are full', async (t) => {
    const r = runChild(['prlimit', '--nofile=600:600', '--', 'setpriv', '--bounding-set=-sys_resource', '--inh-caps=-sys_resource', '--']);
    t.equal(r.watching, 88, '600 less the reserve of 512');
    t.same(r.errors, ['full']);
    t.same(r.notes, ['RLIMIT_NOFILE 600; raising it needs CAP_SYS_RESOURCE']);
    t.match(r.limits, /^Max open files\s+600\s+600\s/);
    t.equal(r.pidfdsOpen, 88, 'the kernel counts 88 pidfds');
    t.equal(r.shed, 0, 'none given back');
  });
  t.test('other fds taking the reserve: EMFILE gives every pidfd back to the reserve and says which', async (t) => {
    const noCap = ['prlimit', '--nofile=600:600', '--', 'setpriv', '--bounding-set=-sys_resource', '--inh-caps=-sys_resource', '--'];
    const r = runChild(noCap, { HOG_FDS: '540' });
    t.ok(r.watching > 0 && r.watching < 88, `watched ${r.watching} before EMFILE`);
    t.same(r.errors, ['full'], 'the rest are full, not errors');
    t.equal(r.shed, r.watching, 'every pidfd it had is handed back as a pid to look for');
    t.equal(r.pidfdsOpen, 0, 'the kernel counts no pidfds left open');
  });
});
