/**
 * The daemon end to end: `node dist/cli/main.js serve` on a temp plugins root under /tmp, polled by
 * a probe-like client written from the protocol notes. Every daemon is killed by pid in teardown.
 * Needs `npx tsc -p .` first (npm test does it).
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { gunzipSync } from 'node:zlib';
import t from 'tap';
import { bytesToUnicode } from '../../src/procfs/bytes.js';
import { loadUserNames, passwdCandidates } from '../../src/procfs/passwd.js';
import { ProcReader } from '../../src/procfs/reader.js';
import { scanNamespaces } from '../../src/scan/namespaces.js';
import { type ScopeReport } from '../../src/scope/report.js';
import { tableRows } from '../support/report.js';
import { reportProblems } from '../../src/scope/schema.js';
import { cli, killDaemon, request, startDaemon, tempRoot, waitFor, waitServing, type Daemon } from '../support/daemon.js';
import { smallHost, writeFakeProcfs } from '../support/fake-procfs.js';
import { discover, ProbeClient } from '../support/probe-client.js';

t.ok(fs.existsSync(cli), 'dist/cli/main.js is built');

const daemons: Daemon[] = [];
const dirs: string[] = [];
t.teardown(async () => {
  for (const d of daemons) await killDaemon(d);
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

function setup(): { root: string; proc: string; sock: string } {
  const root = tempRoot();
  const proc = fs.mkdtempSync('/tmp/snp-');
  dirs.push(root, proc);
  const { procs, passwd } = smallHost();
  writeFakeProcfs(proc, procs, passwd);
  return { root, proc, sock: path.join(root, 'host-namespaces', 'host-namespaces.sock') };
}

function serve(args: string[], env: NodeJS.ProcessEnv = {}): Daemon {
  const d = startDaemon(args, env);
  daemons.push(d);
  return d;
}

function runCli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

t.test('a probe sees the plugin with status ok and the host table', async (t) => {
  const { root, proc, sock } = setup();
  const d = serve(['--plugins-root', root, '--proc', proc, '--interval', '1s', '--hostname', 'node-a', '--log-level', 'debug']);
  await waitServing(d);

  const st = fs.statSync(path.dirname(sock));
  t.equal(st.mode & 0o777, 0o700, 'plugin directory is 0700');
  const found = discover(root);
  t.same(found, [{ id: 'host-namespaces', socketPath: sock }], 'discovered like the probe does');

  const client = new ProbeClient(found[0]!);
  t.teardown(() => client.close());
  const want = scanNamespaces(new ProcReader(proc), loadUserNames(passwdCandidates(proc))).rows;
  // Poll once a second, like the probe's tick.
  for (let tick = 0; tick < 3; tick++) {
    const r = await client.poll();
    t.equal(r.status, 'ok', `tick ${tick}: status ok`);
    t.ok(r.ms < 500, `tick ${tick}: answered in ${r.ms.toFixed(1)} ms`);
    const rows = r.report ? tableRows(r.report, 'node-a') : new Map();
    t.equal(rows.size, want.length, `tick ${tick}: all rows`);
    for (const w of want) {
      t.same(
        rows.get(String(w.ns)),
        {
          ns: String(w.ns),
          type: w.type,
          nprocs: String(w.nprocs),
          pid: String(w.pid ?? ''),
          user: bytesToUnicode(w.user ?? ''),
          command: bytesToUnicode(w.command ?? ''),
        },
        `tick ${tick}: row ${w.ns}`,
      );
    }
    await sleep(1000);
  }
  // Bursts of 50 concurrent requests.
  for (let burst = 0; burst < 3; burst++) {
    const results = (await Promise.all(Array.from({ length: 50 }, () => client.fetch()))).map((a) => client.decode(a));
    t.equal(results.filter((r) => r.status === 'ok').length, 50, `burst ${burst}: 50 ok`);
    const slowest = Math.max(...results.map((r) => r.ms));
    t.ok(slowest < 500, `burst ${burst}: slowest ${slowest.toFixed(1)} ms`);
  }
  t.match(d.stderr(), /"msg":"snapshot (refreshed|unchanged)"/, 'refreshes logged at debug');
  t.match(d.stderr(), /"scanMs":\d+/, 'with durations');
});

t.test('HTTP surface', async (t) => {
  const { root, proc, sock } = setup();
  const d = serve(['--plugins-root', root, '--proc', proc, '--hostname', 'h']);
  await waitServing(d);
  const plain = await request(sock, { path: '/report?api_version=1&probe_id=0123456789abcdef' });
  t.equal(plain.status, 200);
  t.equal(plain.headers['content-encoding'], undefined, 'identity without Accept-Encoding');
  t.equal(plain.headers['content-type'], 'application/json');
  const gz = await request(sock, { headers: { 'Accept-Encoding': 'gzip' } });
  t.equal(gz.headers['content-encoding'], 'gzip');
  t.equal(gunzipSync(gz.body).toString(), plain.body.toString(), 'gzip body is the same JSON');
  t.same(reportProblems(JSON.parse(plain.body.toString()), 'host-namespaces'), []);

  const head = await request(sock, { method: 'HEAD' });
  t.equal(head.status, 200);
  t.equal(head.body.length, 0);
  const nf = await request(sock, { path: '/nope' });
  t.equal(nf.status, 404);
  const nf2 = await request(sock, { path: '/' });
  t.equal(nf2.status, 404);
  const post = await request(sock, { method: 'POST' });
  t.equal(post.status, 405);
  t.equal(post.headers['allow'], 'GET, HEAD');
  const del = await request(sock, { method: 'DELETE' });
  t.equal(del.status, 405);

  // A stalled client (headers never finished) is disconnected by the header timeout.
  const closedAfter = await new Promise<number>((resolve, reject) => {
    const started = Date.now();
    const s = net.createConnection({ path: sock }, () => s.write('GET /report HTTP/1.1\r\nHost: plugin\r\n'));
    s.on('data', () => {});
    s.on('close', () => resolve(Date.now() - started));
    s.on('error', () => {});
    setTimeout(() => {
      s.destroy();
      reject(new Error('stalled client still connected after 30 s'));
    }, 30_000);
  });
  // The header timeout is 2 s; the bound only tells the server's timeout from none at all.
  t.ok(closedAfter < 20_000, `stalled client dropped after ${closedAfter} ms`);
  // Meanwhile the server still answers.
  t.equal((await request(sock)).status, 200);

  const ok = runCli(['check', '--plugins-root', root]);
  t.equal(ok.status, 0, 'check: healthy');
  t.match(ok.stdout, /^ok: .*host-namespaces\.sock: 13 namespaces/);
  const wrong = runCli(['check', '--plugins-root', root, '--plugin-id', 'other']);
  t.equal(wrong.status, 1, 'check: no such plugin');
  t.match(wrong.stderr, /unhealthy: .*other\.sock: no socket/);
});

t.test('second instance is refused; SIGTERM removes socket and directory', async (t) => {
  const { root, proc, sock } = setup();
  const first = serve(['--plugins-root', root, '--proc', proc]);
  await waitServing(first);
  const second = serve(['--plugins-root', root, '--proc', proc]);
  const r2 = await second.exited;
  t.equal(r2.code, 1, 'second instance exits non-zero');
  t.match(second.stderr(), /another instance is serving on .*host-namespaces\.sock/);
  t.equal((await request(sock)).status, 200, 'first instance still serves');
  t.ok(fs.existsSync(sock), 'and its socket is untouched');

  const started = Date.now();
  first.child.kill('SIGTERM');
  const r1 = await first.exited;
  const took = Date.now() - started;
  t.equal(r1.code, 0, 'exit 0 on SIGTERM');
  // Bound: well inside Kubernetes' 30 s termination grace period (not a speed figure).
  t.ok(took < 20_000, `stopped in ${took} ms`);
  t.notOk(fs.existsSync(sock), 'socket removed');
  t.notOk(fs.existsSync(path.dirname(sock)), 'directory removed');
  t.ok(fs.existsSync(root), 'plugins root itself stays');
  t.match(first.stderr(), /"msg":"stopping"/);

  const down = runCli(['check', '--plugins-root', root]);
  t.equal(down.status, 1, 'check: unhealthy when nothing runs');
});

t.test('SIGINT too, also while connections are open', async (t) => {
  const { root, proc, sock } = setup();
  const d = serve(['--plugins-root', root, '--proc', proc]);
  await waitServing(d);
  const idle = net.createConnection({ path: sock });
  idle.on('error', () => {});
  await new Promise((r) => idle.once('connect', r));
  const started = Date.now();
  d.child.kill('SIGINT');
  const r = await d.exited;
  t.equal(r.code, 0);
  t.ok(Date.now() - started < 20_000, 'stopped inside the 30 s grace period');
  t.notOk(fs.existsSync(path.dirname(sock)));
  idle.destroy();
});

t.test('a stale socket is reclaimed', async (t) => {
  const { root, proc, sock } = setup();
  fs.mkdirSync(path.dirname(sock), { mode: 0o755 });
  // A server that dies without cleaning up (SIGKILL) leaves its socket file behind.
  const dead = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(sock)}, () => process.kill(process.pid, 'SIGKILL'))`]);
  await new Promise((r) => dead.on('exit', r));
  t.ok(fs.statSync(sock).isSocket(), 'stale socket present');
  t.match((await new ProbeClient({ id: 'host-namespaces', socketPath: sock }).poll()).status, /connection refused/, 'a probe sees it as refused');

  const d = serve(['--plugins-root', root, '--proc', proc]);
  await waitServing(d);
  t.match(d.stderr(), /removed a stale socket/);
  t.equal(fs.statSync(path.dirname(sock)).mode & 0o777, 0o700, 'directory tightened to 0700');
  t.equal((await request(sock)).status, 200);
  d.child.kill('SIGTERM');
  t.equal((await d.exited).code, 0);
});

t.test('refuses to replace something that is not a socket', async (t) => {
  const { root, proc, sock } = setup();
  fs.mkdirSync(path.dirname(sock), { mode: 0o700 });
  fs.writeFileSync(sock, 'precious');
  const d = serve(['--plugins-root', root, '--proc', proc]);
  const r = await d.exited;
  t.equal(r.code, 1);
  t.match(d.stderr(), /is not a socket/);
  t.equal(fs.readFileSync(sock, 'utf8'), 'precious');
});

t.test('a failed refresh keeps the previous snapshot', async (t) => {
  const { root, proc, sock } = setup();
  const d = serve(['--plugins-root', root, '--proc', proc, '--interval', '1s', '--hostname', 'h']);
  await waitServing(d);
  const before = await request(sock);
  fs.rmSync(proc, { recursive: true, force: true });
  await waitFor(() => /scan of .* failed: .*ENOENT.*serving the previous snapshot/.test(d.stderr()), 30_000, 'failed refresh logged');
  const after = await request(sock);
  t.equal(after.status, 200);
  const rows = (b: Buffer): number => tableRows(JSON.parse(b.toString()) as ScopeReport, 'h').size;
  t.equal(rows(after.body), rows(before.body), 'same rows as before');
  t.equal(after.body.toString(), before.body.toString(), 'the very same snapshot');
  const stale = runCli(['check', '--plugins-root', root, '--max-age', '1s']);
  t.equal(stale.status, 1, 'check --max-age notices refreshes are failing');
  t.match(stale.stderr, /refreshes are failing/);
  t.equal(runCli(['check', '--plugins-root', root]).status, 0, 'without --max-age still healthy');
});

t.test('fatal start-up errors and bad configuration', async (t) => {
  const { root } = setup();
  const noProc = serve(['--plugins-root', root, '--proc', '/nonexistent-proc']);
  const r = await noProc.exited;
  t.equal(r.code, 1, 'first scan fails: exit 1');
  t.match(noProc.stderr(), /"level":60.*cannot start/);
  t.notOk(fs.existsSync(path.join(root, 'host-namespaces')), 'socket directory removed');

  for (const [args, pattern] of [
    [['--plugin-id', 'bad_id'], /--plugin-id: must match Scope's plugin id rule/],
    [['--interval', 'often'], /--interval: 'often' is not a duration/],
    [['--plugins-root', '/tmp/' + 'x'.repeat(90)], /unix sockets allow at most 107/],
    [['--log-level', 'chatty'], /--log-level: must be one of/],
    [['--nope'], /Unknown option/],
  ] as const) {
    const bad = runCli(['serve', '--plugins-root', root, ...args]);
    t.equal(bad.status, 64, `${args.join(' ')}: exit 64`);
    t.match(bad.stderr, pattern);
  }
  t.equal(fs.readdirSync(root).length, 0, 'nothing created on bad input');
});
