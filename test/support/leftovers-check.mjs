#!/usr/bin/env node
// What a test run left behind, found by its tag (SCOPE_NS_TEST_TAG, see test/support/tag.ts), not
// by name: processes whose environment carries it, mounts whose mount point or root contains it
// (in our mount namespace and in every mount namespace a tagged process is in), /run/netns entries
// and cgroup directories whose name contains it, Docker containers and images labelled
// scope-namespaces.test-tag=<tag> (test/support/engine.ts), and images built on the suite's cached
// base images that are not themselves a base (they inherit the base label: the Dockerfile's build
// stages, which the legacy builder keeps untagged). Docker things are asked of the dockerd when one
// answers, else read from its data root (the suite stops the dockerd it started before this check
// runs). Prints each one, removes them (unless --no-clean, and only through a dockerd) so one bad
// run does not burden the next, and exits 1 if anything was found.
//
//   node test/support/leftovers-check.mjs [--tag TAG] [--no-clean] [--wait-ms N]
import { Buffer } from 'node:buffer';
import { spawnSync } from 'node:child_process';
import console from 'node:console';
import * as fs from 'node:fs';
import * as path from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';

export const TAG_VAR = 'SCOPE_NS_TEST_TAG';
/** The label test/support/engine.ts (ENGINE_LABEL) puts on every container and image of a run. */
export const ENGINE_LABEL = 'scope-namespaces.test-tag';
/** The label of the suite's cached base images (BASE_LABEL there); their repositories' prefix. */
export const BASE_LABEL = 'scope-namespaces.test-base';
export const BASE_REPO_PREFIX = 'scope-namespaces-test-base-';
/** dockerd's data root, read when no dockerd answers (the tests of this check point it elsewhere). */
const DOCKER_ROOT = process.env.SCOPE_NS_DOCKER_ROOT ?? '/var/lib/docker';

const sleepSync = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

function readOr(file, fallback, encoding = 'latin1') {
  try {
    return fs.readFileSync(file, encoding);
  } catch {
    return fallback;
  }
}

/** [state, ppid] from /proc/<pid>/stat, or null once it is gone. */
function statOf(pid) {
  const stat = readOr(`/proc/${pid}/stat`, null);
  if (stat === null) return null;
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { state: f[0] ?? '?', ppid: Number(f[1]) };
}

/** This process and its ancestors: they may carry the tag because they started the run. */
function selfAndAncestors() {
  const out = new Set();
  for (let pid = process.pid; pid > 1 && !out.has(pid);) {
    out.add(pid);
    pid = statOf(pid)?.ppid ?? 0;
  }
  return out;
}

/** Living (not zombie) processes whose environment holds exactly TAG_VAR=tag. */
function taggedProcesses(tag) {
  const needle = Buffer.from(`${TAG_VAR}=${tag}\0`);
  const afterNul = Buffer.concat([Buffer.from([0]), needle]);
  const skip = selfAndAncestors();
  const out = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^[1-9][0-9]*$/.test(name)) continue;
    const pid = Number(name);
    if (skip.has(pid)) continue;
    let env;
    try {
      env = fs.readFileSync(`/proc/${pid}/environ`);
    } catch {
      continue;
    }
    // A whole variable: at the start, or right after the NUL that ends the one before.
    if (!env.subarray(0, needle.length).equals(needle) && !env.includes(afterNul)) continue;
    const st = statOf(pid);
    if (st === null || st.state === 'Z' || st.state === 'X') continue;
    const cmd = readOr(`/proc/${pid}/cmdline`, '').replace(/\0$/, '').replaceAll('\0', ' ');
    out.push({ pid, ppid: st.ppid, mnt: readlinkOr(`/proc/${pid}/ns/mnt`), cmd: cmd.length > 120 ? `${cmd.slice(0, 120)}…` : cmd });
  }
  return out;
}

function readlinkOr(p) {
  try {
    return fs.readlinkSync(p);
  } catch {
    return null;
  }
}

/** Mount lines of one mountinfo whose root or mount point contains the tag. */
function taggedMounts(mountinfo, tag, where) {
  const out = [];
  for (const line of mountinfo.split('\n')) {
    const f = line.split(' ');
    const root = f[3] ?? '';
    const point = f[4] ?? '';
    if (root.includes(tag) || point.includes(tag)) out.push({ where, point, line });
  }
  return out;
}

/** Mount points of every cgroup (v1) and cgroup2 hierarchy in our mount namespace. */
function cgroupRoots() {
  const roots = new Set();
  for (const line of readOr('/proc/self/mountinfo', '').split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const type = line.slice(sep + 3).split(' ')[0];
    if (type === 'cgroup' || type === 'cgroup2') roots.add(line.split(' ')[4]);
  }
  return [...roots];
}

/** Cgroup directories named with the tag, at most `depth` levels down (not below a tagged one). */
function taggedCgroups(tag, depth = 4) {
  const out = [];
  const walk = (dir, left) => {
    let entries;
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (!e.isDirectory()) continue;
      const p = path.join(dir, e.name);
      if (e.name.includes(tag)) out.push(p);
      else if (left > 1) walk(p, left - 1);
    }
  };
  for (const root of cgroupRoots()) walk(root, depth);
  return out;
}

function taggedNetns(tag) {
  let names = [];
  try {
    names = fs.readdirSync('/run/netns');
  } catch {
    /* no netns was ever added */
  }
  return names.filter((n) => n.includes(tag)).map((n) => path.join('/run/netns', n));
}

/** A docker client: Debian's 20.10 one first, else the first in PATH; null when there is none. */
function dockerClient() {
  for (const p of [
    '/usr/bin/docker',
    ...(process.env.PATH ?? '')
      .split(':')
      .filter((d) => d !== '')
      .map((d) => path.join(d, 'docker')),
  ])
    if (fs.existsSync(p)) return p;
  return null;
}

const readJson = (file) => {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return null;
  }
};
const listDir = (dir) => {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
};

/** What `root` (a dockerd data root) holds of the suite's, read from its files. */
export function dockerFromFiles(tag, root = DOCKER_ROOT) {
  const containers = [];
  for (const id of listDir(path.join(root, 'containers'))) {
    const cfg = readJson(path.join(root, 'containers', id, 'config.v2.json'));
    const labels = cfg?.Config?.Labels ?? {};
    if (labels[ENGINE_LABEL] === tag) containers.push({ id: id.slice(0, 12), what: `${id.slice(0, 12)} ${String(cfg?.Name ?? '').replace(/^\//, '')} (in ${root}, no dockerd)` });
  }
  const images = [];
  for (const driver of listDir(path.join(root, 'image'))) {
    const dir = path.join(root, 'image', driver);
    const bases = new Set();
    for (const [repoName, refs] of Object.entries(readJson(path.join(dir, 'repositories.json'))?.Repositories ?? {}))
      if (repoName.startsWith(BASE_REPO_PREFIX)) for (const id of Object.values(refs)) bases.add(id);
    const content = path.join(dir, 'imagedb', 'content', 'sha256');
    for (const hex of listDir(content)) {
      const labels = readJson(path.join(content, hex))?.config?.Labels ?? {};
      const id = `sha256:${hex}`;
      if (labels[ENGINE_LABEL] === tag) images.push({ id: hex.slice(0, 12), what: `${hex.slice(0, 12)} labelled ${ENGINE_LABEL}=${tag} (in ${root}, no dockerd)` });
      else if (labels[BASE_LABEL] !== undefined && !bases.has(id)) images.push({ id: hex.slice(0, 12), what: `${hex.slice(0, 12)} built on base ${labels[BASE_LABEL]} (in ${root}, no dockerd)` });
    }
  }
  return { containers, images };
}

/** Docker containers and images of the suite's (see the top); through a dockerd when one answers. */
function taggedDocker(tag) {
  const docker = dockerClient();
  const run = (args) => spawnSync(docker, args, { encoding: 'utf8', timeout: 15000 });
  if (docker === null || run(['info', '--format', '{{.ServerVersion}}']).status !== 0) return dockerFromFiles(tag);
  const filter = `label=${ENGINE_LABEL}=${tag}`;
  const lines = (r) => (r.status === 0 ? r.stdout.split('\n').filter((l) => l.trim() !== '') : []);
  const containers = lines(run(['ps', '-a', '--filter', filter, '--format', '{{.ID}} {{.Names}} ({{.Status}})'])).map((l) => ({ id: l.split(' ')[0], what: l }));
  const images = lines(run(['images', '--filter', filter, '--format', '{{.ID}} {{.Repository}}:{{.Tag}}'])).map((l) => ({ id: l.split(' ')[0], what: l }));
  const bases = new Set(lines(run(['images', '-q', '--filter', `reference=${BASE_REPO_PREFIX}*`])));
  const seen = new Set(images.map((i) => i.id));
  for (const l of lines(run(['images', '-a', '--filter', `label=${BASE_LABEL}`, '--format', '{{.ID}} {{.Repository}}:{{.Tag}}']))) {
    const id = l.split(' ')[0];
    if (!bases.has(id) && !seen.has(id)) images.push({ id, what: `${l} (built on a base image)` });
    seen.add(id);
  }
  return { containers, images };
}

/** Everything carrying `tag` now. */
export function scan(tag) {
  const processes = taggedProcesses(tag);
  const ownMnt = readlinkOr('/proc/self/ns/mnt');
  const mounts = taggedMounts(readOr('/proc/self/mountinfo', ''), tag, 'this mount namespace');
  const seenMnt = new Set([ownMnt]);
  for (const p of processes) {
    if (p.mnt === null || seenMnt.has(p.mnt)) continue;
    seenMnt.add(p.mnt);
    mounts.push(...taggedMounts(readOr(`/proc/${p.pid}/mountinfo`, ''), tag, `${p.mnt} (pid ${p.pid})`));
  }
  return { processes, mounts, netns: taggedNetns(tag), cgroups: taggedCgroups(tag), ...taggedDocker(tag) };
}

const count = (s) => s.processes.length + s.mounts.length + s.netns.length + s.cgroups.length + s.containers.length + s.images.length;

export function describe(s) {
  const lines = [];
  for (const p of s.processes) lines.push(`process ${p.pid} (ppid ${p.ppid}): ${p.cmd}`);
  for (const m of s.mounts) lines.push(`mount ${m.point} in ${m.where}`);
  for (const n of s.netns) lines.push(`netns ${n}`);
  for (const c of s.cgroups) lines.push(`cgroup ${c}`);
  for (const c of s.containers) lines.push(`docker container ${c.what}`);
  for (const i of s.images) lines.push(`docker image ${i.what}`);
  return lines;
}

/** Kills, unmounts and removes what `s` lists; what is in other mount namespaces dies with them. */
export function clean(s, tag) {
  const docker = dockerClient();
  if (docker !== null && s.containers.length > 0) spawnSync(docker, ['rm', '-f', '-v', ...s.containers.map((c) => c.id)], { timeout: 60000 });
  // A build stage's untagged image goes with its last child; a few rounds remove each chain.
  for (let round = 0; docker !== null && round < 5 && s.images.length > 0; round++) {
    spawnSync(docker, ['rmi', '-f', ...new Set(s.images.map((i) => i.id))], { timeout: 60000 });
    const left = new Set(taggedDocker(tag).images.map((i) => i.id));
    if (left.size === 0) break;
    s = { ...s, images: s.images.filter((i) => left.has(i.id)) };
  }
  for (const p of s.processes) {
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  const ours = s.mounts.filter((m) => m.where === 'this mount namespace').map((m) => m.point);
  for (const point of ours.sort((a, b) => b.length - a.length)) spawnSync('umount', ['-l', point.replace(/\\([0-7]{3})/g, (_, o) => String.fromCharCode(parseInt(o, 8)))]);
  for (const n of s.netns) {
    spawnSync('umount', ['-l', n]);
    fs.rmSync(n, { force: true });
  }
  // Deepest first; a directory stays busy until the killed processes in it have exited.
  for (const dir of [...s.cgroups].sort((a, b) => b.length - a.length)) {
    const rm = (d) => {
      for (const e of fs.readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) rm(path.join(d, e.name));
      for (let i = 0; i < 100; i++) {
        try {
          fs.rmdirSync(d);
          return;
        } catch (e) {
          if (e.code === 'ENOENT') return;
          sleepSync(20);
        }
      }
    };
    try {
      rm(dir);
    } catch {
      /* reported below if it is still there */
    }
  }
}

/**
 * Scans until nothing is left or `waitMs` has passed (a killed test's processes take a moment to
 * die), prints the result and returns the exit code: 0 when nothing carries the tag.
 */
export function check(tag, { cleanUp = true, waitMs = 5000, log = (l) => console.log(l) } = {}) {
  if (!tag) {
    log(`leftovers-check: no tag (set ${TAG_VAR} or pass --tag)`);
    return 2;
  }
  const end = Date.now() + waitMs;
  let s = scan(tag);
  while (count(s) > 0 && Date.now() < end) {
    sleepSync(100);
    s = scan(tag);
  }
  if (count(s) === 0) {
    log(`leftovers-check: nothing left with tag ${tag}`);
    return 0;
  }
  log(`leftovers-check: FAILED: ${count(s)} thing(s) carrying tag ${tag} outlived the tests:`);
  for (const l of describe(s)) log(`  ${l}`);
  if (cleanUp) {
    clean(s, tag);
    sleepSync(200);
    const after = describe(scan(tag));
    log(after.length === 0 ? 'leftovers-check: removed them' : `leftovers-check: could not remove: ${after.join('; ')}`);
  }
  return 1;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  let tag = process.env[TAG_VAR];
  let cleanUp = true;
  let waitMs = 5000;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--tag') tag = args[++i];
    else if (args[i] === '--no-clean') cleanUp = false;
    else if (args[i] === '--wait-ms') waitMs = Number(args[++i]);
    else {
      console.error(`leftovers-check: unknown argument ${args[i]}`);
      process.exit(2);
    }
  }
  process.exit(check(tag, { cleanUp, waitMs }));
}
