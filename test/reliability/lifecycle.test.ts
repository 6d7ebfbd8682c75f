/**
 * Daemon lifecycle under abuse: SIGTERM in the middle of refreshes, SIGKILL then restart (stale
 * socket), two instances started at the same moment, the plugins root missing or read-only, and
 * the plugin directory (or the whole plugins root) deleted while running. Chosen behaviour for the
 * last one (README, "Behaviour"): the daemon notices within a second, recreates the directory
 * (0700) and listens on a new socket; when it cannot (something else now sits at the path), it
 * exits 1 with the reason.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import t from 'tap';
import { cli, killDaemon, request, startDaemon, tempRoot, waitFor, waitServing, type Daemon } from '../support/daemon.js';
import { manyProcesses, smallHost, writeFakeProcfs } from '../support/fake-procfs.js';
import { ProbeClient } from '../support/probe-client.js';
import { mortal } from '../support/tag.js';

const daemons: Daemon[] = [];
const dirs: string[] = [];
t.teardown(async () => {
  for (const d of daemons) await killDaemon(d);
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

function fakeProc(count = 0): string {
  const proc = fs.mkdtempSync('/tmp/snp-');
  dirs.push(proc);
  if (count > 0) writeFakeProcfs(proc, manyProcesses(count));
  else {
    const { procs, passwd } = smallHost();
    writeFakeProcfs(proc, procs, passwd);
  }
  return proc;
}

function newRoot(): string {
  const root = tempRoot();
  dirs.push(root);
  return root;
}

function serve(args: string[]): Daemon {
  const d = startDaemon(['--hostname', 'h', ...args], { PATH: '' });
  daemons.push(d);
  return d;
}

const sockOf = (root: string): string => path.join(root, 'host-namespaces', 'host-namespaces.sock');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const BAD_LOG = /unhandled|uncaught|"stack"/i;

t.test('SIGTERM in the middle of refreshes: exit 0 within 2 s, socket and directory removed', async (t) => {
  // 1,500 processes: a refresh takes a good part of the 1 s interval, so signals land mid-scan.
  const proc = fakeProc(1500);
  const offsets = [0, 250, 500, 750];
  await Promise.all(
    offsets.map(async (offset) => {
      const root = newRoot();
      const d = serve(['--plugins-root', root, '--proc', proc, '--interval', '1s', '--log-level', 'debug']);
      await waitServing(d, 30_000);
      // After the first timed refresh has started (1 s after serving) plus an offset.
      await sleep(1000 + offset);
      const started = Date.now();
      d.child.kill('SIGTERM');
      const r = await d.exited;
      const took = Date.now() - started;
      t.equal(r.code, 0, `+${offset} ms: exit 0`);
      // Bound: well inside Kubernetes' 30 s termination grace period (not a speed figure).
      t.ok(took < 20_000, `+${offset} ms: stopped in ${took} ms`);
      t.notOk(fs.existsSync(path.dirname(sockOf(root))), `+${offset} ms: socket directory removed`);
      t.notMatch(d.stderr(), BAD_LOG, `+${offset} ms: no unhandled error`);
    }),
  );
});

t.test('SIGKILL, then a restart reclaims the stale socket', async (t) => {
  const root = newRoot();
  const proc = fakeProc();
  const first = serve(['--plugins-root', root, '--proc', proc]);
  await waitServing(first);
  first.child.kill('SIGKILL');
  await first.exited;
  t.ok(fs.lstatSync(sockOf(root)).isSocket(), 'the killed daemon left its socket behind');
  t.match((await new ProbeClient({ id: 'host-namespaces', socketPath: sockOf(root) }).poll()).status, /connection refused/);
  const second = serve(['--plugins-root', root, '--proc', proc]);
  await waitServing(second);
  t.match(second.stderr(), /removed a stale socket/);
  t.equal((await request(sockOf(root))).status, 200, 'the restarted daemon answers');
  second.child.kill('SIGTERM');
  t.equal((await second.exited).code, 0);
});

t.test('two instances started at the same moment: one serves, the other exits 1', async (t) => {
  const root = newRoot();
  const proc = fakeProc();
  const a = serve(['--plugins-root', root, '--proc', proc]);
  const b = serve(['--plugins-root', root, '--proc', proc]);
  const exited = await Promise.race([a.exited.then(() => a), b.exited.then(() => b)]);
  const survivor = exited === a ? b : a;
  t.equal(exited.child.exitCode, 1, 'the loser exits 1');
  t.match(exited.stderr(), /another instance is serving on/, { loser: exited.stderr(), winner: survivor.stderr() });
  await waitServing(survivor);
  t.equal((await request(sockOf(root))).status, 200, 'the winner serves');
  t.ok(fs.lstatSync(sockOf(root)).isSocket(), "the loser left the winner's socket alone");
  survivor.child.kill('SIGTERM');
  t.equal((await survivor.exited).code, 0);
});

t.test('plugins root missing: created', async (t) => {
  const base = newRoot();
  const root = path.join(base, 'a', 'b');
  const d = serve(['--plugins-root', root, '--proc', fakeProc()]);
  await waitServing(d);
  t.equal(fs.statSync(path.dirname(sockOf(root))).mode & 0o777, 0o700, 'plugin directory 0700');
  t.equal((await request(sockOf(root))).status, 200);
  d.child.kill('SIGTERM');
  t.equal((await d.exited).code, 0);
});

t.test('plugins root read-only: a clear one-line error, exit 1', async (t) => {
  if (process.getuid?.() !== 0 || !fs.existsSync('/usr/bin/unshare')) {
    t.pass('needs root and unshare(1) for a private read-only mount; skipped');
    return;
  }
  const root = newRoot();
  const proc = fakeProc();
  // A read-only tmpfs over the root, in a private mount namespace that dies with the daemon.
  const child = spawn(
    ...mortal('/usr/bin/unshare', [
      '--mount',
      '--propagation',
      'private',
      '/bin/sh',
      '-c',
      `mount -t tmpfs -o ro,size=64k none '${root}' && exec '${process.execPath}' '${cli}' serve --log-format json --plugins-root '${root}' --proc '${proc}' --hostname h`,
    ]),
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let err = '';
  child.stderr.on('data', (b: Buffer) => (err += b.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  t.equal(code, 1, 'exit 1');
  t.match(err, /cannot start: cannot create the plugin directory .*host-namespaces: EROFS: serve needs write access to the plugins root/);
  t.notMatch(err, /"stack"/, 'no stack trace');
});

t.test('plugin directory deleted while running: recreated, served again', async (t) => {
  const root = newRoot();
  const d = serve(['--plugins-root', root, '--proc', fakeProc(), '--interval', '1s']);
  await waitServing(d);
  const sock = sockOf(root);
  fs.rmSync(path.dirname(sock), { recursive: true });
  await waitFor(() => fs.existsSync(sock), 30_000, 'socket recreated');
  t.equal(fs.statSync(path.dirname(sock)).mode & 0o777, 0o700, 'directory recreated 0700');
  t.equal((await new ProbeClient({ id: 'host-namespaces', socketPath: sock }).poll()).status, 'ok', 'a probe sees it again');
  t.match(d.stderr(), /plugin socket was removed; registering again/);

  // The whole plugins root, twice in a row.
  for (let i = 0; i < 2; i++) {
    fs.rmSync(root, { recursive: true });
    await waitFor(() => fs.existsSync(sock), 30_000, 'plugins root recreated');
    t.equal((await request(sock)).status, 200, `answers after losing the whole root (${i + 1})`);
  }
  d.child.kill('SIGTERM');
  t.equal((await d.exited).code, 0, 'SIGTERM still exits 0');
  t.notOk(fs.existsSync(path.dirname(sock)), 'and removes the recreated directory');
  t.notMatch(d.stderr(), BAD_LOG);
});

t.test('plugin directory replaced by a file: exit 1, the file is left alone', async (t) => {
  const root = newRoot();
  const d = serve(['--plugins-root', root, '--proc', fakeProc()]);
  await waitServing(d);
  const dir = path.dirname(sockOf(root));
  fs.rmSync(dir, { recursive: true });
  fs.writeFileSync(dir, 'precious');
  const r = await d.exited;
  t.equal(r.code, 1);
  t.match(d.stderr(), /cannot register again: .*exists and is not a directory/);
  t.equal(fs.readFileSync(dir, 'utf8'), 'precious');
});

t.test('socket replaced by something else: exit 1, the file is left alone', async (t) => {
  const root = newRoot();
  const d = serve(['--plugins-root', root, '--proc', fakeProc()]);
  await waitServing(d);
  const sock = sockOf(root);
  fs.rmSync(sock);
  fs.writeFileSync(sock, 'not ours');
  const r = await d.exited;
  t.equal(r.code, 1);
  t.match(d.stderr(), /our socket was replaced|is not a socket/);
  t.equal(fs.readFileSync(sock, 'utf8'), 'not ours', 'left in place');
});
