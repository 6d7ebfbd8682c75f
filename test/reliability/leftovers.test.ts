/**
 * The check that ends `npm test` (test/support/leftovers-check.mjs) can fail: this test leaves one
 * of each kind of thing behind under a tag of its own, shows that the check lists every one and
 * exits 1, that it removes them, and that it passes once they are gone.
 *
 * Left behind: a tagged sleeper in a private mount namespace holding a tagged tmpfs mount (only
 * that namespace's mountinfo shows it), a tagged tmpfs mount in ours, a tagged /run/netns entry
 * and a tagged cgroup directory. Root only for all but the sleeper. Then, on a Docker Engine (found
 * or started, test/support/engine.ts), a container and an image labelled with the tag.
 */
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { cgroupV2 } from '../support/cgroups.js';
import { BASE_LABEL, BASE_REPO_PREFIX, DOCKER, ENGINE_LABEL, docker, dockerOk, getEngine } from '../support/engine.js';
import { TAG_VAR, TEST_TAG, mortal, onAbort } from '../support/tag.js';

const CHECK = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'support', 'leftovers-check.mjs');
// Contains the run's tag, so anything this test fails to remove is also caught by the run's check.
const PROOF = `${TEST_TAG}-proof`;
const root = process.getuid?.() === 0;
const have = (tool: string): boolean => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;

function check(...args: string[]): { status: number | null; out: string } {
  const r = spawnSync(process.execPath, [CHECK, '--tag', PROOF, '--wait-ms', '0', ...args], { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

const alive = (pid: number): boolean => {
  try {
    return !/^\d+ \(.*\) Z/s.test(fs.readFileSync(`/proc/${pid}/stat`, 'latin1'));
  } catch {
    return false;
  }
};

t.test('the leftovers check reports and removes what a test left behind', async (t) => {
  const dirs: string[] = [];
  const mkdir = (what: string): string => {
    const d = fs.mkdtempSync(`/tmp/${PROOF}-${what}-`);
    dirs.push(d);
    return d;
  };
  const priv = mkdir('private');
  const hostMount = root ? mkdir('mount') : null;
  const netns = root && have('ip') ? `${PROOF}-ns` : null;
  let cgroup: string | null = null;
  if (root && cgroupV2) {
    try {
      cgroup = path.join(cgroupV2, `${PROOF}-cg`);
      fs.mkdirSync(cgroup);
    } catch {
      cgroup = null;
    }
  }

  // The sleeper: its own tag, so the run's check never counts it; it dies with this process anyway.
  const script = root ? `mount -t tmpfs snt-proof ${priv} && echo ready && exec sleep 600` : 'echo ready && exec sleep 600';
  const [cmd, args] = root ? mortal('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script]) : mortal('sh', ['-c', script]);
  const sleeper = spawn(cmd, args, { env: { ...process.env, [TAG_VAR]: PROOF }, stdio: ['ignore', 'pipe', 'inherit'] });
  const pid = sleeper.pid as number;

  const cleanup = (): void => {
    if (alive(pid)) process.kill(pid, 'SIGKILL');
    if (hostMount) spawnSync('umount', ['-l', hostMount]);
    if (netns) spawnSync('ip', ['netns', 'del', netns], { stdio: 'ignore' });
    if (cgroup) fs.rmSync(cgroup, { recursive: true, force: true });
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  };
  const abort = onAbort(cleanup);
  t.teardown(() => {
    abort.cancel();
    cleanup();
  });

  await new Promise<void>((resolve, reject) => {
    let out = '';
    sleeper.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('ready')) resolve();
    });
    sleeper.on('exit', (code) => reject(new Error(`sleeper exited ${code} before it was ready`)));
  });
  for (let i = 0; i < 200 && !fs.readFileSync(`/proc/${pid}/cmdline`, 'latin1').startsWith('sleep'); i++) await new Promise((r) => setTimeout(r, 10));
  if (hostMount) t.equal(spawnSync('mount', ['-t', 'tmpfs', 'snt-proof', hostMount]).status, 0, 'a tagged mount in our namespace');
  if (netns) t.equal(spawnSync('ip', ['netns', 'add', netns]).status, 0, 'a tagged netns');

  const found = check('--no-clean');
  t.equal(found.status, 1, 'the check fails');
  t.match(found.out, new RegExp(`process ${pid} \\(ppid ${process.pid}\\): sleep 600`), 'it names the sleeper');
  if (root) t.match(found.out, `mount ${priv} in mnt:[`, "it finds the mount only the sleeper's mount namespace has");
  if (hostMount) t.match(found.out, `mount ${hostMount} in this mount namespace`, 'it finds the mount in ours');
  if (netns) t.match(found.out, `netns /run/netns/${netns}`, 'it finds the netns');
  if (cgroup) t.match(found.out, `cgroup ${cgroup}`, 'it finds the cgroup directory');
  t.ok(alive(pid), '--no-clean leaves them');

  const cleaned = check();
  t.equal(cleaned.status, 1, 'still a failure when it removes them');
  t.match(cleaned.out, 'leftovers-check: removed them', 'and it removed them');
  for (let i = 0; i < 200 && alive(pid); i++) await new Promise((r) => setTimeout(r, 10));
  t.notOk(alive(pid), 'the sleeper is gone');
  if (netns) t.notOk(fs.existsSync(`/run/netns/${netns}`), 'the netns is gone');
  if (cgroup) t.notOk(fs.existsSync(cgroup), 'the cgroup directory is gone');
  if (hostMount) t.notOk(fs.readFileSync('/proc/self/mountinfo', 'utf8').includes(hostMount), 'the mount is gone');

  const clear = check();
  t.equal(clear.status, 0, 'then the check passes');
  t.match(clear.out, `nothing left with tag ${PROOF}`);
});

t.test('it reports and removes Docker containers and images carrying the tag label', async (t) => {
  const engine = await getEngine();
  if (typeof engine === 'string') {
    t.plan(0, engine);
    return;
  }
  t.teardown(() => engine.teardown());
  // A tiny image imported from an empty tar and a created (never started) container from it,
  // both labelled with this test's own tag (the run's check never counts them).
  const label = `${ENGINE_LABEL}=${PROOF}`;
  const tar = spawnSync('tar', ['-cf', '-', '-T', '/dev/null']).stdout;
  const image = await docker(['import', '--change', `LABEL ${label}`, '-', `${PROOF}-image:latest`], { input: tar });
  t.equal(image.code, 0, `a labelled image: ${image.stderr.trim()}`);
  const cid = await dockerOk(['create', '--label', label, `${PROOF}-image:latest`, '/nothing']);
  const removeBoth = (): void => {
    spawnSync(DOCKER, ['rm', '-f', cid]);
    spawnSync(DOCKER, ['rmi', '-f', `${PROOF}-image:latest`]);
  };
  const abort = onAbort(removeBoth);
  t.teardown(() => abort.run());

  const found = check('--no-clean');
  t.equal(found.status, 1, 'the check fails');
  t.match(found.out, `docker container ${cid.slice(0, 12)} `, 'it names the container');
  t.match(found.out, `docker image `, 'and the image');
  t.match(found.out, `${PROOF}-image:latest`);
  // A base image of the suite's kind (this test's own name) and an untagged image built on it, as
  // the legacy builder leaves a Dockerfile's build stage: it carries no run tag, only the base's label.
  const base = `${BASE_REPO_PREFIX}${PROOF}:x`;
  const baseMade = await docker(['import', '--change', `LABEL ${BASE_LABEL}=${PROOF}`, '-', base], { input: tar });
  t.equal(baseMade.code, 0, `a base image: ${baseMade.stderr.trim()}`);
  const ctx = fs.mkdtempSync(`/tmp/${PROOF}-ctx-`);
  fs.writeFileSync(path.join(ctx, 'Dockerfile'), `FROM ${base}\nLABEL stage=build\n`);
  const built = await docker(['build', '-q', ctx]);
  fs.rmSync(ctx, { recursive: true, force: true });
  t.equal(built.code, 0, `an image built on it: ${built.stderr.trim()}`);
  const derived = built.stdout
    .trim()
    .replace(/^sha256:/, '')
    .slice(0, 12);
  const removeBase = (): void => {
    spawnSync(DOCKER, ['rmi', '-f', derived]);
    spawnSync(DOCKER, ['rmi', '-f', base]);
  };
  const abortBase = onAbort(removeBase);
  t.teardown(() => abortBase.run());
  const withDerived = check('--no-clean');
  t.match(withDerived.out, `docker image ${derived} `, 'it names the image built on a base image');
  t.notMatch(withDerived.out, base, 'but not the base image itself');

  const cleaned = check();
  t.match(cleaned.out, 'leftovers-check: removed them', 'it removes them');
  t.not((await docker(['image', 'inspect', derived])).code, 0, 'the image built on the base is gone');
  t.equal((await docker(['image', 'inspect', base])).code, 0, 'the base image stays');
  t.not((await docker(['inspect', cid])).code, 0, 'the container is gone');
  t.not((await docker(['image', 'inspect', `${PROOF}-image:latest`])).code, 0, 'the image is gone');
  t.equal(check().status, 0, 'then the check passes');
});

t.test("with no dockerd answering, Docker leftovers are read from the engine's data root", (t) => {
  // A hand-made data root in dockerd's layout: a labelled container, and images that are the
  // run's (labelled), a base (named so in repositories.json), built on a base, and someone else's.
  const dataRoot = fs.mkdtempSync(`/tmp/${PROOF}-dockerroot-`);
  t.teardown(() => fs.rmSync(dataRoot, { recursive: true, force: true }));
  const write = (rel: string, value: unknown): void => {
    fs.mkdirSync(path.dirname(path.join(dataRoot, rel)), { recursive: true });
    fs.writeFileSync(path.join(dataRoot, rel), JSON.stringify(value));
  };
  const hex = (c: string): string => c.repeat(64);
  write(`containers/${hex('c')}/config.v2.json`, { Name: '/proof-box', Config: { Labels: { [ENGINE_LABEL]: PROOF } } });
  write(`containers/${hex('d')}/config.v2.json`, { Name: '/other-box', Config: { Labels: { [ENGINE_LABEL]: 'another-run' } } });
  const db = 'image/overlay2/imagedb/content/sha256';
  write(`${db}/${hex('1')}`, { config: { Labels: { [ENGINE_LABEL]: PROOF, [BASE_LABEL]: 'runtime' } } });
  write(`${db}/${hex('2')}`, { config: { Labels: { [BASE_LABEL]: 'build' } } });
  write(`${db}/${hex('3')}`, { config: { Labels: { [BASE_LABEL]: 'build' } } });
  write(`${db}/${hex('4')}`, { config: { Labels: { other: 'x' } } });
  write(`${db}/${hex('5')}`, { config: {} });
  write('image/overlay2/repositories.json', { Repositories: { [`${BASE_REPO_PREFIX}build`]: { [`${BASE_REPO_PREFIX}build:abc`]: `sha256:${hex('2')}` } } });
  const script = `import { dockerFromFiles } from ${JSON.stringify(pathToFileURL(CHECK).href)}; process.stdout.write(JSON.stringify(dockerFromFiles(process.argv[1], process.argv[2])));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script, PROOF, dataRoot], { encoding: 'utf8' });
  t.equal(r.status, 0, r.stderr);
  const got = JSON.parse(r.stdout) as { containers: { id: string }[]; images: { id: string; what: string }[] };
  t.same(
    got.containers.map((c) => c.id),
    [hex('c').slice(0, 12)],
    "the run's container, not another run's",
  );
  t.same(got.images.map((i) => i.id).sort(), [hex('1').slice(0, 12), hex('3').slice(0, 12)], "the run's image and the one built on a base; not the base, not others'");
  t.match(got.images.find((i) => i.id === hex('3').slice(0, 12))?.what ?? '', 'built on base build');
  t.end();
});

t.test('on a stopping signal every armed onAbort cleanup runs', async (t) => {
  // signal-exit calls its callbacks in a for...of over the array a removal splices: a cleanup
  // that removed itself there made the next one be skipped (every other cleanup lost).
  const dir = fs.mkdtempSync(`/tmp/${PROOF}-abort-`);
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const out = path.join(dir, 'ran');
  const loader = path.resolve(path.dirname(CHECK), '..', '..', 'node_modules', '@tapjs', 'typescript', 'dist', 'esm', 'import.mjs');
  const fixture = path.join(path.dirname(CHECK), 'abort-fixture.ts');
  const r = spawnSync(process.execPath, [`--import=${pathToFileURL(loader).href}`, fixture, out, '5'], { encoding: 'utf8', timeout: 60_000 });
  t.equal(r.signal, 'SIGTERM', `the fixture died of its SIGTERM ${r.stderr}`);
  t.same(fs.readFileSync(out, 'utf8').trim().split('\n'), ['1', '2', '3', '4', '5'], 'all five cleanups ran');
});
