/**
 * A real Docker Engine for test/engine/: finds a dockerd that answers `docker info`, or starts
 * `/usr/bin/dockerd` itself (Debian's docker.io) and stops only that one, by pid, in a teardown that
 * also runs on a stopping signal (onAbort). Builds two local base images once (no registry is
 * reachable), tagged by a hash of their content so that the next run reuses them, and the
 * repository's Dockerfile on top of them. Every container and image made for a run carries the
 * label ENGINE_LABEL=<run tag> and is removed by the teardown, with every image built on a base
 * image (the build stages); the base images are kept on purpose.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { repo } from './daemon.js';
import { mortal, onAbort, sleepSync, TAG_VAR, TEST_TAG, taggedEnv, taggedTempDir, type AbortCleanup } from './tag.js';

/** The label every container and image of a run carries, valued with the run's tag. */
export const ENGINE_LABEL = 'scope-namespaces.test-tag';
/** The label of the cached base images (kept across runs). */
export const BASE_LABEL = 'scope-namespaces.test-base';
/** The base images' repository names start so (the leftovers check knows them by it). */
export const BASE_REPO_PREFIX = 'scope-namespaces-test-base-';
/** Where docker.io puts dockerd (Debian: /usr/sbin), or the first one in PATH; null when none. */
const DOCKERD_PLACES = [
  '/usr/sbin/dockerd',
  '/usr/bin/dockerd',
  ...(process.env['PATH'] ?? '')
    .split(':')
    .filter((d) => d !== '')
    .map((d) => path.join(d, 'dockerd')),
];
export const DOCKERD = DOCKERD_PLACES.find((p) => fs.existsSync(p)) ?? null;
/** Debian's 20.10 client when present (a newer one may come first in PATH; both work). */
export const DOCKER = fs.existsSync('/usr/bin/docker') ? '/usr/bin/docker' : 'docker';

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** `docker <args>`, dying with the test; rejects on a timeout, never on a non-zero exit. */
export function docker(args: readonly string[], opts: { timeoutMs?: number; input?: string | Buffer } = {}): Promise<Run> {
  const timeoutMs = opts.timeoutMs ?? 120_000;
  return new Promise((resolve, reject) => {
    const child = spawn(...mortal(DOCKER, args), { env: { ...process.env, DOCKER_BUILDKIT: '0' }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`docker ${args.join(' ')}: no answer in ${timeoutMs} ms`));
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 1, stdout, stderr });
    });
    child.stdin.end(opts.input ?? '');
  });
}

/** `docker <args>` that must succeed; its stdout, trimmed. */
export async function dockerOk(args: readonly string[], timeoutMs?: number): Promise<string> {
  const r = await docker(args, timeoutMs === undefined ? {} : { timeoutMs });
  if (r.code !== 0) throw new Error(`docker ${args.join(' ')} exited ${r.code}: ${r.stderr.trim()}`);
  return r.stdout.trim();
}

function dockerSync(args: readonly string[], timeoutMs = 30_000): Run {
  const r = spawnSync(DOCKER, args, { encoding: 'utf8', timeout: timeoutMs });
  return { code: r.status ?? 1, stdout: r.stdout, stderr: r.stderr };
}

function alive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

export interface Engine {
  /** The dockerd this suite started (stopped in teardown), or null when one was already there. */
  startedPid: number | null;
  serverVersion: string;
  /** Removes the run's containers and images, then stops the dockerd it started. Runs once. */
  teardown: () => void;
}

const lines = (text: string): string[] => text.split('\n').filter((l) => l.trim() !== '');

/**
 * Images built on a base image that are not a base: the legacy builder keeps each build stage's
 * result (and the steps below it) as untagged images, and they inherit BASE_LABEL from the base.
 */
export function derivedImages(): string[] {
  const bases = new Set(lines(dockerSync(['images', '-q', '--filter', `reference=${BASE_REPO_PREFIX}*`]).stdout));
  return [...new Set(lines(dockerSync(['images', '-a', '-q', '--filter', `label=${BASE_LABEL}`]).stdout))].filter((id) => !bases.has(id));
}

/**
 * Containers, then images, labelled with this run's tag, then every image built on a base image
 * (synchronous: it also runs at exit). Only the base images stay, so the next run's build starts
 * from them again.
 */
export function removeTagged(): void {
  const filter = `label=${ENGINE_LABEL}=${TEST_TAG}`;
  const ids = lines(dockerSync(['ps', '-aq', '--filter', filter]).stdout);
  if (ids.length > 0) dockerSync(['rm', '-f', '-v', ...ids], 60_000);
  const images = lines(dockerSync(['images', '-q', '--filter', filter]).stdout);
  if (images.length > 0) dockerSync(['rmi', '-f', ...new Set(images)], 60_000);
  // An untagged parent goes with its last child; a chain of stages takes a round per level.
  for (let round = 0; round < 5; round++) {
    const derived = derivedImages();
    if (derived.length === 0) break;
    dockerSync(['rmi', '-f', ...derived], 60_000);
  }
}

async function answers(): Promise<string | null> {
  try {
    const r = await docker(['info', '--format', '{{.ServerVersion}}'], { timeoutMs: 20_000 });
    const v = r.stdout.trim();
    return r.code === 0 && v !== '' && !v.includes('<no value>') ? v : null;
  } catch {
    return null;
  }
}

/** A dockerd that answers (found or started), or the one-line reason why there is none. */
export async function getEngine(): Promise<Engine | string> {
  const found = await answers();
  if (found !== null) {
    const abort = onAbort(removeTagged);
    return { startedPid: null, serverVersion: found, teardown: () => abort.run() };
  }
  if (DOCKERD === null) return `no docker engine: no dockerd answers 'docker info' and there is no dockerd (/usr/sbin, /usr/bin, PATH) to start: apt-get install docker.io`;
  const logDir = taggedTempDir('dockerd');
  const log = fs.openSync(path.join(logDir, 'dockerd.log'), 'a');
  // Under setpriv: dockerd dies with the test even if that is SIGKILLed (its containerd with it).
  const child = spawn(...mortal(DOCKERD, []), {
    env: taggedEnv({ PATH: `${process.env['PATH'] ?? ''}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin` }),
    stdio: ['ignore', log, log],
    detached: false,
  });
  fs.closeSync(log);
  const pid = child.pid ?? 0;
  const stop = (): void => {
    removeTagged();
    if (pid > 0 && alive(pid)) {
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        /* gone */
      }
      for (let i = 0; i < 300 && alive(pid); i++) sleepSync(50);
      if (alive(pid)) process.kill(pid, 'SIGKILL');
    }
    fs.rmSync(logDir, { recursive: true, force: true });
  };
  const abort: AbortCleanup = onAbort(stop);
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  let stopped = false;
  void exited.then(() => (stopped = true));
  const end = Date.now() + 60_000;
  for (;;) {
    const v = await answers();
    if (v !== null) return { startedPid: pid, serverVersion: v, teardown: () => abort.run() };
    if (stopped || Date.now() > end) {
      const tail = fs.readFileSync(path.join(logDir, 'dockerd.log'), 'utf8').trim().split('\n').slice(-3).join(' | ');
      abort.run();
      return `no docker engine: ${DOCKERD} started by the test ${stopped ? 'exited' : 'did not answer in 60 s'}: ${tail}`;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Files of a tree as `relative path -> content hash` (symlinks by target), sorted. */
function treeHash(root: string, extra: string): string {
  const h = createHash('sha256').update(extra);
  const walk = (rel: string): void => {
    const abs = path.join(root, rel);
    const st = fs.lstatSync(abs);
    if (st.isSymbolicLink()) h.update(`L ${rel} ${fs.readlinkSync(abs)}\n`);
    else if (st.isDirectory()) {
      h.update(`D ${rel} ${(st.mode & 0o7777).toString(8)}\n`);
      for (const name of fs.readdirSync(abs).sort()) walk(path.join(rel, name));
    } else
      h.update(`F ${rel} ${(st.mode & 0o7777).toString(8)} `)
        .update(fs.readFileSync(abs))
        .update('\n');
  };
  walk('.');
  return h.digest('hex').slice(0, 16);
}

/** The shared libraries `ldd` names for `binary` (real paths as named, the loader included). */
function lddLibraries(binary: string): string[] {
  const out = spawnSync('ldd', [binary], { encoding: 'utf8' }).stdout;
  const libs: string[] = [];
  for (const line of out.split('\n')) {
    const m = /=>\s*(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line);
    if (m?.[1] !== undefined) libs.push(m[1]);
  }
  return libs;
}

function copyInto(root: string, dest: string, src: string): void {
  const to = path.join(root, dest);
  fs.mkdirSync(path.dirname(to), { recursive: true });
  fs.cpSync(src, to, { dereference: true, recursive: true, preserveTimestamps: false });
}

/** Builds (or reuses, by content hash) a `FROM scratch` image from a staged root. */
async function baseImage(name: string, stage: (root: string) => string[]): Promise<string> {
  const dir = taggedTempDir(`base-${name}`);
  try {
    const root = path.join(dir, 'root');
    fs.mkdirSync(root);
    const steps = stage(root);
    const dockerfile = ['FROM scratch', 'COPY root/ /', ...steps, `LABEL ${BASE_LABEL}=${name}`, ''].join('\n');
    fs.writeFileSync(path.join(dir, 'Dockerfile'), dockerfile);
    const image = `${BASE_REPO_PREFIX}${name}:${treeHash(root, dockerfile)}`;
    if ((await docker(['image', 'inspect', image], { timeoutMs: 30_000 })).code === 0) return image;
    await dockerOk(['build', '--network=none', '-q', '-t', image, dir], 300_000);
    return image;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function stageNode(root: string, nodeAt: string): void {
  const node = fs.realpathSync('/usr/bin/node');
  copyInto(root, nodeAt, node);
  for (const lib of lddLibraries(node)) copyInto(root, lib, lib);
  fs.mkdirSync(path.join(root, 'tmp'), { recursive: true, mode: 0o1777 });
  fs.chmodSync(path.join(root, 'tmp'), 0o1777);
  fs.mkdirSync(path.join(root, 'etc'), { recursive: true });
  fs.writeFileSync(path.join(root, 'etc', 'passwd'), 'root:x:0:0:root:/root:/sbin/nologin\n');
  fs.writeFileSync(path.join(root, 'etc', 'group'), 'root:x:0:\n');
  fs.mkdirSync(path.join(root, 'root'), { mode: 0o700 });
}

/** What the base images are made of that this host lacks, as one line, or null. */
export function baseSourcesMissing(): string | null {
  const need = ['/usr/bin/node', '/bin/busybox', '/usr/bin/env', '/usr/lib/node_modules/npm/bin/npm-cli.js'];
  const absent = need.filter((p) => !fs.existsSync(p));
  return absent.length === 0 ? null : `cannot make the local base images: ${absent.join(', ')} absent (apt-get install busybox-static; npm at /usr/lib/node_modules/npm)`;
}

export interface BaseImages {
  build: string;
  runtime: string;
}

/**
 * The build image (host node at /usr/bin/node, its libraries, busybox-static as the shell, npm,
 * /usr/bin/env) and the distroless-like runtime image (node at /nodejs/bin/node, its libraries,
 * no shell), each built once and then reused by its content hash tag.
 */
export async function baseImages(): Promise<BaseImages> {
  const build = await baseImage('build', (root) => {
    stageNode(root, '/usr/bin/node');
    copyInto(root, '/bin/busybox', '/bin/busybox');
    copyInto(root, '/usr/bin/env', '/usr/bin/env');
    for (const lib of lddLibraries('/usr/bin/env')) copyInto(root, lib, lib);
    copyInto(root, '/usr/lib/node_modules/npm', '/usr/lib/node_modules/npm');
    fs.symlinkSync('../lib/node_modules/npm/bin/npm-cli.js', path.join(root, 'usr/bin/npm'));
    fs.symlinkSync('../lib/node_modules/npm/bin/npx-cli.js', path.join(root, 'usr/bin/npx'));
    return ['RUN ["/bin/busybox", "--install", "-s", "/bin"]', 'ENV PATH=/usr/local/bin:/usr/bin:/bin HOME=/root'];
  });
  const runtime = await baseImage('runtime', (root) => {
    stageNode(root, '/nodejs/bin/node');
    return [];
  });
  return { build, runtime };
}

/** The PEM certificates of NODE_EXTRA_CA_CERTS that Node's own store lacks, or null (none set). */
export function extraCaCerts(): string | null {
  const file = process.env['NODE_EXTRA_CA_CERTS'];
  if (file === undefined || file === '' || !fs.existsSync(file)) return null;
  const known = new Set(tls.rootCertificates.map((pem) => new X509Certificate(pem).fingerprint256));
  const pems = fs.readFileSync(file, 'utf8').match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  const extra = pems.filter((pem) => {
    try {
      return !known.has(new X509Certificate(pem).fingerprint256);
    } catch {
      return false;
    }
  });
  return extra.length === 0 ? null : extra.join('\n');
}

export interface PluginImage {
  image: string;
  /** The extra CA text passed as EXTRA_CA_CERTS, or null. */
  ca: string | null;
  buildMs: number;
}

/** `docker build --network=host` of the repository's Dockerfile on the local base images. */
export async function buildPluginImage(bases: BaseImages): Promise<PluginImage> {
  const image = `scope-namespaces-test:${TEST_TAG}`;
  const ca = extraCaCerts();
  const started = Date.now();
  const args = ['build', '--network=host', '-q', '--force-rm', '--build-arg', `BUILD_IMAGE=${bases.build}`, '--build-arg', `RUNTIME_IMAGE=${bases.runtime}`];
  if (ca !== null) args.push('--build-arg', `EXTRA_CA_CERTS=${ca}`);
  args.push('--label', `${ENGINE_LABEL}=${TEST_TAG}`, '-t', image, '-f', path.join(repo, 'Dockerfile'), repo);
  await dockerOk(args, 600_000);
  return { image, ca, buildMs: Date.now() - started };
}

/** `docker run` options every container of a run gets: the label, and the tag in its environment. */
export function tagged(): string[] {
  return ['--label', `${ENGINE_LABEL}=${TEST_TAG}`, '-e', `${TAG_VAR}=${TEST_TAG}`];
}

export interface Inspect {
  Id: string;
  Name: string;
  State: { Status: string; Running: boolean; Pid: number; ExitCode: number; Health?: { Status: string } };
  HostConfig: { NetworkMode: string; PidMode: string; IpcMode: string; UTSMode: string; Privileged: boolean };
  RestartCount: number;
}

export async function inspect(id: string): Promise<Inspect> {
  const list = JSON.parse(await dockerOk(['inspect', id])) as Inspect[];
  const one = list[0];
  if (one === undefined) throw new Error(`docker inspect ${id}: nothing`);
  return one;
}
