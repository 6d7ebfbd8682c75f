/**
 * A second, short-lived dockerd started with `--userns-remap=default`, beside the suite's engine:
 * its containers run in a user namespace of their own, their root mapped to a subordinate uid of
 * the host (the `dockremap` user's range in /etc/subuid, which dockerd creates when absent). It has
 * its own data root, exec root (so its own containerd), pid file and socket, all under one tagged
 * temporary directory, in a network namespace of its own with no bridge and no iptables rules:
 * its containers run with --net=none. The
 * teardown (also on a stopping signal) removes its containers, stops it by pid, deletes the
 * directory, and deletes the `dockremap` user and its subordinate ranges if this run made them.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DOCKER, DOCKERD, docker } from './engine.js';
import { mortal, onAbort, sleepSync, TEST_TAG, taggedEnv, taggedTempDir } from './tag.js';

export interface RemapEngine {
  /** `-H unix://...` for the docker client. */
  host: string[];
  pid: number;
  teardown: () => void;
}

const REMAP_USER = 'dockremap';

function hasUser(name: string): boolean {
  return spawnSync('getent', ['passwd', name]).status === 0;
}

function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) [ZX]/s.test(fs.readFileSync(`/proc/${pid}/stat`, 'latin1'));
  } catch {
    return false;
  }
}

/** Lines of /etc/subuid or /etc/subgid naming `user`, removed (what userdel may leave). */
function dropSubordinate(file: string, user: string): void {
  try {
    const text = fs.readFileSync(file, 'utf8');
    const kept = text.split('\n').filter((l) => !l.startsWith(`${user}:`));
    if (kept.join('\n') !== text) fs.writeFileSync(file, kept.join('\n'));
  } catch {
    /* no such file */
  }
}

/** The remapping dockerd, answering, or the one-line reason why it cannot run here. */
export async function startRemapEngine(): Promise<RemapEngine | string> {
  if (DOCKERD === null) return 'no dockerd to start';
  if (process.getuid?.() !== 0) return 'not root';
  if (!fs.existsSync('/proc/self/uid_map')) return 'the kernel has no user namespaces';
  const userExisted = hasUser(REMAP_USER);
  const dir = taggedTempDir('remap');
  // The remapped root must be able to walk down to its part of the data root.
  fs.chmodSync(dir, 0o711);
  const sock = path.join(dir, 'docker.sock');
  const host = ['-H', `unix://${sock}`];
  const log = fs.openSync(path.join(dir, 'dockerd.log'), 'a');
  const args = [
    '--userns-remap=default',
    `--data-root=${path.join(dir, 'data')}`,
    `--exec-root=${path.join(dir, 'exec')}`,
    `--pidfile=${path.join(dir, 'dockerd.pid')}`,
    `--host=unix://${sock}`,
    `--containerd-namespace=${TEST_TAG}-remap`,
    `--containerd-plugins-namespace=${TEST_TAG}-remap-plugins`,
    '--bridge=none',
    '--iptables=false',
    '--ip-masq=false',
  ];
  // In a network namespace of its own: a dockerd without a bridge deletes the host's docker0.
  const child = spawn(...mortal('unshare', ['--net', DOCKERD, ...args]), {
    env: taggedEnv({ PATH: `${process.env['PATH'] ?? ''}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin` }),
    stdio: ['ignore', log, log],
  });
  fs.closeSync(log);
  const pid = child.pid ?? 0;
  let exited = false;
  child.on('exit', () => (exited = true));
  const stop = (): void => {
    if (pid > 0 && alive(pid)) {
      const ids =
        spawnSync(DOCKER, [...host, 'ps', '-aq'], { encoding: 'utf8', timeout: 30_000 })
          .stdout?.split('\n')
          .filter((s) => s !== '') ?? [];
      if (ids.length > 0) spawnSync(DOCKER, [...host, 'rm', '-f', ...ids], { timeout: 60_000 });
      process.kill(pid, 'SIGTERM');
      for (let i = 0; i < 300 && alive(pid); i++) sleepSync(50);
      if (alive(pid)) process.kill(pid, 'SIGKILL');
    }
    // Whatever it left mounted under its roots (overlay layers, its exec root), deepest first.
    const mounts = fs
      .readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .map((l) => l.split(' ')[4] ?? '')
      .filter((p) => p.startsWith(`${dir}/`))
      .sort((a, b) => b.length - a.length);
    for (const m of mounts) spawnSync('umount', ['-l', m]);
    fs.rmSync(dir, { recursive: true, force: true });
    if (!userExisted && hasUser(REMAP_USER)) {
      spawnSync('userdel', [REMAP_USER]);
      dropSubordinate('/etc/subuid', REMAP_USER);
      dropSubordinate('/etc/subgid', REMAP_USER);
    }
  };
  const abort = onAbort(stop);
  const end = Date.now() + 60_000;
  for (;;) {
    const r = await docker([...host, 'info', '--format', '{{json .SecurityOptions}}'], { timeoutMs: 20_000 }).catch(() => null);
    if (r !== null && r.code === 0) {
      if (!r.stdout.includes('userns')) {
        abort.run();
        return `dockerd --userns-remap=default answers without user namespaces (security options ${r.stdout.trim()})`;
      }
      return { host, pid, teardown: () => abort.run() };
    }
    if (exited || Date.now() > end) {
      const tail = fs.readFileSync(path.join(dir, 'dockerd.log'), 'utf8').trim().split('\n').slice(-3).join(' | ');
      abort.run();
      return `dockerd --userns-remap=default ${exited ? 'exited' : 'did not answer in 60 s'}: ${tail}`;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** `docker save <image> | docker -H <remap> load`: the remapping engine cannot reach a registry either. */
export async function copyImage(image: string, to: RemapEngine): Promise<void> {
  const save = spawn(...mortal(DOCKER, ['save', image]), { stdio: ['ignore', 'pipe', 'inherit'] });
  const load = spawn(...mortal(DOCKER, [...to.host, 'load', '-q']), { stdio: ['pipe', 'ignore', 'pipe'] });
  save.stdout.pipe(load.stdin);
  let err = '';
  load.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await new Promise<number>((resolve) => load.on('close', (c) => resolve(c ?? 1)));
  if (code !== 0) throw new Error(`docker load into the remapping engine exited ${code}: ${err.trim()}`);
}
