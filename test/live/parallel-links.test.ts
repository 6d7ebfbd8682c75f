/**
 * The link table read by the main thread and a worker (src/scan/parallel-links.ts) gives the same
 * scan as the classic one-thread readNsLinks loop: on captured fixture trees, on the live /proc
 * (retried until two consecutive reads agree: processes come and go), and when the worker cannot
 * start, throws, or koffi is unavailable. Needs `npm run build` first (the worker is compiled JS).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import t from 'tap';
import { ProcReader, type ReadIssue } from '../../src/procfs/reader.js';
import { loadUserNames, passwdCandidates } from '../../src/procfs/passwd.js';
import { NS_TYPES } from '../../src/procfs/types.js';
import { scanNamespaces, type ScanResult } from '../../src/scan/namespaces.js';
import { readLinkTable } from '../../src/scan/link-table.js';
import { readLinkTableParallel, resolveLinkWorkerUrl, type ParallelLinkOptions } from '../../src/scan/parallel-links.js';
import { prestartLinkWorkers, takePrestartedWorkers } from '../../src/scan/link-worker-pool.js';
import { resetNativeForTests } from '../../src/native/loader.js';
import type { TaskHold } from '../../src/scan/holders/holder.js';
import { drain, readFdHolds, readThreadHolds } from '../../src/scan/holders/process-holds.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const fixtures = ['at-rest', 'busy', 'awkward'].map((n) => path.join(repo, 'fixtures', n, 'proc'));
const forced: ParallelLinkOptions = { workers: 1, minPids: 1, anyRoot: true };

function plain(s: ScanResult): unknown {
  return { rows: s.rows, memberships: [...s.memberships], members: [...s.members], details: [...s.details] };
}

function scanWith(root: string, opts: ParallelLinkOptions | 'classic', issues: ReadIssue[] = []): { scan: ScanResult; workerChunks: number } {
  const reader = new ProcReader(root, { onIssue: (i) => issues.push(i) });
  const users = loadUserNames(passwdCandidates(root));
  if (opts === 'classic') return { scan: scanNamespaces(reader, users), workerChunks: 0 };
  const links = readLinkTableParallel(reader, reader.listPids(), NS_TYPES, opts);
  return { scan: scanNamespaces(reader, users, { links }), workerChunks: links.workerChunks };
}

t.ok(fs.existsSync(fileURLToPath(resolveLinkWorkerUrl())), 'the compiled worker exists (npm run build)');

for (const root of fixtures) {
  t.test(`fixture ${path.basename(path.dirname(root))}: worker + main == one thread == classic loop`, async (t) => {
    const classicIssues: ReadIssue[] = [];
    const classic = scanWith(root, 'classic', classicIssues);
    const single = scanWith(root, { workers: 0 });
    const parallel = scanWith(root, { ...forced, waitForWorker: true });
    t.ok(parallel.workerChunks > 0, `the worker read ${parallel.workerChunks} chunk(s)`);
    t.same(plain(single.scan), plain(classic.scan), 'link table on one thread == readNsLinks loop');
    t.same(plain(parallel.scan), plain(classic.scan), 'with a worker == readNsLinks loop');
  });
}

t.test('the bundled worker beside the shipped CLI (dist/cli/link-worker-thread.js) reads chunks too', async (t) => {
  const bundled = pathToFileURL(path.join(repo, 'dist', 'cli', 'link-worker-thread.js'));
  t.ok(fs.existsSync(fileURLToPath(bundled)), 'the bundle has its link worker (npm run build)');
  const root = fixtures[0] as string;
  const classic = scanWith(root, 'classic');
  const parallel = scanWith(root, { ...forced, waitForWorker: true, workerUrl: bundled });
  t.ok(parallel.workerChunks > 0, `the bundled worker read ${parallel.workerChunks} chunk(s)`);
  t.same(plain(parallel.scan), plain(classic.scan), 'with the bundled worker == readNsLinks loop');
});

t.test('busy fixture: every issue comes out once, whoever read the pid', async (t) => {
  const root = fixtures[1] as string;
  const single: ReadIssue[] = [];
  const parallel: ReadIssue[] = [];
  scanWith(root, { workers: 0 }, single);
  scanWith(root, { ...forced, waitForWorker: true }, parallel);
  t.ok(single.length > 0, 'the busy capture has unreadable links (a process exited while it was captured)');
  // On a fixture tree the main thread's readNsLinks notes go out at once (parallel-links.ts);
  // per pid they are in link order either way.
  const byPid = (xs: ReadIssue[]): ReadIssue[] => [...xs].sort((a, b) => (a.pid ?? 0) - (b.pid ?? 0));
  t.same(byPid(parallel), byPid(single));
});

t.test('fallback: a worker that cannot start or throws leaves everything to the main thread', async (t) => {
  const root = fixtures[1] as string;
  const expected = plain(scanWith(root, { workers: 0 }).scan);
  const missing = scanWith(root, { ...forced, workerUrl: pathToFileURL(path.join(os.tmpdir(), 'no-such-link-worker.js')) });
  t.equal(missing.workerChunks, 0, 'missing worker file: no chunk from a worker');
  t.same(plain(missing.scan), expected, 'missing worker file: same scan');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'links-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const thrower = path.join(dir, 'throws.mjs');
  fs.writeFileSync(thrower, "throw new Error('worker broken on purpose');\n");
  const broken = scanWith(root, { ...forced, workerUrl: pathToFileURL(thrower) });
  t.equal(broken.workerChunks, 0, 'throwing worker: no chunk from a worker');
  t.same(plain(broken.scan), expected, 'throwing worker: same scan');
});

t.test('fallback: koffi unavailable gives the same table', async (t) => {
  const root = fixtures[1] as string;
  const reader = new ProcReader(root);
  const pids = reader.listPids();
  const withKoffi = readLinkTable(reader, pids, NS_TYPES).inos;
  resetNativeForTests('koffi disabled for this test');
  t.teardown(() => resetNativeForTests());
  const off = new ProcReader(root, { onIssue: () => {} });
  t.same([...readLinkTableParallel(off, pids, NS_TYPES, { ...forced, waitForWorker: true }).inos], [...withKoffi]);
});

t.test('live /proc: worker + main == one thread (retried until two consecutive reads agree)', async (t) => {
  if (!ProcReader.isProcfs('/proc')) {
    t.skip('no procfs', () => {});
    return;
  }
  let prev: { kind: string; value: string } | null = null;
  for (let attempt = 0; attempt < 40; attempt++) {
    const kind = attempt % 2 === 0 ? 'parallel' : 'single';
    const r = scanWith('/proc', kind === 'parallel' ? { workers: 1, minPids: 1, waitForWorker: true } : { workers: 0 });
    if (attempt === 0) t.ok(r.workerChunks > 0, 'the worker took part');
    const value = JSON.stringify(plain(r.scan));
    if (prev && prev.kind !== kind && prev.value === value) {
      t.pass(`agreed after ${attempt + 1} reads`);
      return;
    }
    prev = { kind, value };
  }
  t.fail('a parallel and a single-threaded read never agreed in 40 consecutive reads');
});

t.test('prestarted workers (list starts them before it loads): they read chunks, an unused one is ended', async (t) => {
  const root = fixtures[1] as string;
  const expected = plain(scanWith(root, { workers: 0 }).scan);
  const saved = process.env['SCOPE_NAMESPACES_LINK_WORKERS'];
  process.env['SCOPE_NAMESPACES_LINK_WORKERS'] = '1';
  t.teardown(() => {
    if (saved === undefined) delete process.env['SCOPE_NAMESPACES_LINK_WORKERS'];
    else process.env['SCOPE_NAMESPACES_LINK_WORKERS'] = saved;
  });
  t.equal(prestartLinkWorkers('/proc').length, 1, 'one worker started, waiting for its job');
  const used = scanWith(root, { minPids: 1, anyRoot: true, waitForWorker: true });
  t.ok(used.workerChunks > 0, `the prestarted worker read ${used.workerChunks} chunk(s)`);
  t.same(plain(used.scan), expected, 'same scan');
  t.same(takePrestartedWorkers(), [], 'handed over once');

  const [w] = prestartLinkWorkers('/proc');
  if (w === undefined) throw new Error('no worker prestarted');
  // Liveness, not speed: 30 s only keeps a broken build from hanging the suite.
  const exited = new Promise<number | string>((resolve) => {
    const timer = setTimeout(() => resolve('still running after 30 s'), 30_000);
    w.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
  const small = scanWith(root, { minPids: 1_000_000, anyRoot: true });
  t.equal(small.workerChunks, 0, 'too few pids for a worker: all read here');
  t.type(await exited, 'number', 'the unused prestarted worker was terminated');
  t.same(takePrestartedWorkers(), [], 'and is no longer pending');
});

t.test('fixture holders: threads and fds read by a worker with the links == read afterwards on one thread', async (t) => {
  const root = path.join(repo, 'fixtures', 'holders', 'proc');
  const reader = new ProcReader(root);
  const pids = reader.listPids();
  const parallel = readLinkTableParallel(reader, pids, NS_TYPES, { ...forced, waitForWorker: true, holders: true });
  t.ok(parallel.workerChunks > 0, `the worker read ${parallel.workerChunks} chunk(s)`);
  const scan = scanNamespaces(reader, loadUserNames(passwdCandidates(root)), { links: readLinkTable(reader, pids, NS_TYPES) });
  const serial: TaskHold[] = [];
  for (const [pid, own] of scan.memberships) {
    readThreadHolds(reader, pid, own, NS_TYPES, serial);
    drain(readFdHolds(reader, pid, null, serial));
  }
  const key = (h: TaskHold): string => `${h.kind} ${h.pid} ${h.id} ${h.type} ${h.ino}`;
  t.ok(serial.length >= 5, `${serial.length} holds in the fixture`);
  t.same((parallel.holds?.out ?? []).map(key).sort(), serial.map(key).sort());
  t.equal(parallel.holds?.fdUnreadable, 0);
});
