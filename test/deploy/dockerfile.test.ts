/**
 * The Dockerfile, checked statically (no Docker engine here): multi-stage build, production-only
 * runtime with koffi's optional platform package kept, no util-linux, ENTRYPOINT/HEALTHCHECK/
 * VOLUME/USER, and a .dockerignore that keeps the build context small. The paths the image uses
 * are checked against the repository (dist/cli/main.js is the bundle `npm run build` produces).
 */
import { SERVE_NODE_FLAGS } from '../../src/cli/node-flags.js';
import * as fs from 'node:fs';
import * as path from 'node:path';
import t from 'tap';
import { repo } from '../support/daemon.js';
import { parseDockerfile, shellCommands, type DockerInstruction, type DockerStage } from '../support/deploy.js';

const text = fs.readFileSync(path.join(repo, 'Dockerfile'), 'utf8');
const df = parseDockerfile(text);
const runtime = df.stages[df.stages.length - 1];
const NODE = '/nodejs/bin/node';
const MAIN = '/app/dist/cli/main.js';

const of = (s: DockerStage | undefined, kw: string): DockerInstruction[] => (s ? s.instructions.filter((i) => i.keyword === kw) : []);
const stage = (name: string): DockerStage | undefined => df.stages.find((s) => s.name === name);
const runs = (s: DockerStage | undefined): string[][] => of(s, 'RUN').flatMap((i) => (i.exec ? [i.exec] : shellCommands(i.args)));

t.test('the parser itself', async (t) => {
  const p = parseDockerfile('ARG X=a:1\n# c\nFROM ${X} AS one\nRUN echo a \\\n  # inner comment\n  && echo b\nFROM one\nCOPY --from=one --chmod=644 /a /b\nCMD ["x", "y"]\n');
  t.same(
    p.stages.map((s) => [s.image, s.name]),
    [
      ['a:1', 'one'],
      ['one', null],
    ],
  );
  t.equal(p.stages[0]?.instructions[0]?.args, 'echo a    && echo b');
  t.same(
    [...(p.stages[1]?.instructions[0]?.flags ?? [])],
    [
      ['from', 'one'],
      ['chmod', '644'],
    ],
  );
  t.same(p.stages[1]?.instructions[1]?.exec, ['x', 'y']);
  t.same(shellCommands('npm ci --omit=dev && npm cache clean --force'), [
    ['npm', 'ci', '--omit=dev'],
    ['npm', 'cache', 'clean', '--force'],
  ]);
});

t.test('multi-stage: build compiles with npm ci, runtime gets only the results', async (t) => {
  t.ok(df.stages.length >= 2, `${df.stages.length} stages`);
  const build = stage('build');
  t.ok(build, 'a stage named build');
  t.match(build?.image ?? '', /^node:20[-.]/, 'build uses Node 20');
  const buildRuns = runs(build);
  t.ok(
    buildRuns.some((c) => c[0] === 'npm' && c[1] === 'ci' && !c.some((w) => w.startsWith('--omit'))),
    'build: npm ci with every dependency (tsc is a devDependency)',
  );
  t.ok(
    buildRuns.some((c) => c.join(' ') === 'npm run build'),
    'build: npm run build (tsc)',
  );
  t.ok(
    of(build, 'COPY').some((i) => /\bpackage-lock\.json\b/.test(i.args)),
    'build copies package-lock.json (npm ci needs it)',
  );
  t.ok(
    of(build, 'COPY').some((i) => /^src\b/.test(i.args)),
    'build copies src/',
  );

  t.ok(runtime && runtime !== build, 'the runtime is a later stage');
  t.equal(runtime?.name, null, 'the final stage is the image');
  const copies = of(runtime, 'COPY');
  t.ok(copies.length > 0 && copies.every((c) => c.flags.has('from')), 'the runtime stage copies only from other stages (nothing from the context)');
  t.ok(
    copies.some((c) => c.flags.get('from') === 'build' && /\/dist\b/.test(c.args)),
    'compiled dist/ comes from build',
  );
  t.notOk(
    copies.some((c) => c.flags.get('from') === 'build' && /node_modules/.test(c.args)),
    'node_modules does NOT come from build (it has devDependencies)',
  );
  const depsFrom = copies.find((c) => /node_modules/.test(c.args))?.flags.get('from');
  t.ok(depsFrom, 'node_modules copied from a stage');
  const deps = stage(depsFrom ?? '');
  const depsCi = runs(deps).filter((c) => c[0] === 'npm' && c[1] === 'ci');
  t.equal(depsCi.length, 1, `stage ${depsFrom} runs npm ci once`);
  t.ok(depsCi[0]?.includes('--omit=dev'), 'production dependencies only: npm ci --omit=dev');
  t.notOk(
    depsCi[0]?.some((w) => /^--omit=optional$|^--no-optional$/.test(w)),
    "NOT --omit=optional: koffi's platform binary is an optional dependency",
  );
  t.equal(deps?.image, build?.image, 'dependencies are installed on the same Debian/glibc base as the build');
});

t.test("koffi's platform binary: installed and loaded at build time, libstdc++ available", async (t) => {
  // The runtime base must carry libstdc++ and libgcc_s: distroless nodejs does (node links them).
  t.match(runtime?.image ?? '', /^gcr\.io\/distroless\/nodejs20-debian12(:|@|$)|^node:20-/, 'runtime base: distroless nodejs20 (Debian 12) or a node:20 image');
  const checks = of(runtime, 'RUN').filter((i) => i.exec !== null && i.exec.join(' ').includes("koffi.load('libc.so.6')"));
  t.equal(checks.length, 1, 'the runtime stage loads koffi and binds libc at build time (exec form: no shell)');
  t.equal(checks[0]?.exec?.[0], NODE, "with the image's node");
  const lock = JSON.parse(fs.readFileSync(path.join(repo, 'package-lock.json'), 'utf8')) as { packages: Record<string, { optional?: boolean; os?: string[]; cpu?: string[] }> };
  const platform = Object.entries(lock.packages).filter(([k]) => /node_modules\/@koromix\/koffi-linux-(x64|arm64)$/.test(k));
  t.ok(platform.length >= 2 && platform.every(([, v]) => v.optional === true), 'koffi-linux-x64/arm64 are optional packages in the lock file (hence no --omit=optional)');
});

t.test('no util-linux in the image', async (t) => {
  for (const s of df.stages) {
    for (const c of runs(s)) {
      if (c.includes('apt-get') || c.includes('apt') || c.includes('apk') || c.includes('dnf')) {
        t.notOk(
          c.some((w) => /^util-linux|^lsns$|^bsdextrautils$/.test(w)),
          `stage ${s.name ?? 'final'} installs no util-linux: ${c.join(' ')}`,
        );
      }
    }
  }
  t.notOk(
    runs(runtime).some((c) => ['apt-get', 'apt', 'apk', 'dnf'].includes(c[0] ?? '')),
    'the runtime stage installs no packages at all',
  );
  t.match(runtime?.image ?? '', /distroless/, 'the runtime base is distroless: no util-linux, no shell');
  const absent = of(runtime, 'RUN').find((i) => i.exec?.join(' ').includes('/usr/bin/lsns'));
  t.ok(absent, 'the runtime stage fails the build if lsns exists');
});

t.test('ENTRYPOINT serve, HEALTHCHECK check, VOLUME, USER', async (t) => {
  t.ok(fs.existsSync(path.join(repo, 'src', 'cli', 'main.ts')), 'src/cli/main.ts is bundled into dist/cli/main.js');
  const bundler = fs.readFileSync(path.join(repo, 'esbuild.config.mjs'), 'utf8');
  t.match(bundler, /main: 'src\/cli\/main\.ts'/, 'the bundle config takes src/cli/main.ts');
  t.match(bundler, /const outdir = 'dist\/cli';/, '... and writes dist/cli/');
  const copied = of(stage('build'), 'COPY')
    .map((i) => i.args)
    .join(' ');
  t.match(copied, /esbuild\.config\.mjs/, 'the build stage has the bundle config');
  t.equal(of(runtime, 'WORKDIR').at(-1)?.args, '/app');

  const entry = of(runtime, 'ENTRYPOINT');
  t.equal(entry.length, 1);
  t.same(entry[0]?.exec, [NODE, ...SERVE_NODE_FLAGS, MAIN, 'serve'], "ENTRYPOINT (exec form) runs serve with serve's node flags, so signals reach node (SIGTERM removes the socket)");
  t.equal(of(runtime, 'CMD').length, 0, 'no CMD: arguments after the image are serve flags');

  const hc = of(runtime, 'HEALTHCHECK');
  t.equal(hc.length, 1);
  const h = hc[0];
  const cmd = /^CMD\s+(.*)$/s.exec(h?.args ?? '');
  const argv = cmd?.[1] ? (JSON.parse(cmd[1]) as unknown) : null;
  t.same(Array.isArray(argv) ? argv.slice(0, 3) : null, [NODE, MAIN, 'check'], 'HEALTHCHECK CMD runs check (exec form: distroless has no shell)');
  t.ok(Array.isArray(argv) && argv.includes('--max-age'), 'a stuck refresh also counts as unhealthy');
  t.ok(h?.flags.has('interval') && h.flags.has('timeout') && h.flags.has('start-period'), 'interval, timeout and start period set');

  const vol = of(runtime, 'VOLUME');
  t.same(
    vol.map((v) => v.exec),
    [['/var/run/scope/plugins']],
    'the plugins directory is a volume',
  );

  const user = of(runtime, 'USER');
  t.equal(user.length, 1, 'USER is explicit');
  t.equal(user[0]?.args, '0:0', 'root (capabilities reach node through exec only as root); see the comment and the README');
  t.match(text, /uid 0 on purpose/, 'the USER decision is explained in the Dockerfile');
});

t.test('.dockerignore keeps the context to what the build copies', async (t) => {
  const ignore = fs
    .readFileSync(path.join(repo, '.dockerignore'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  for (const p of ['node_modules', 'dist', '.git', 'test', 'fixtures', '.tap']) t.ok(ignore.includes(p), `ignores ${p}`);
  const copied = df.stages.flatMap((s) => of(s, 'COPY').filter((c) => !c.flags.has('from'))).flatMap((c) => c.args.split(/\s+/).slice(0, -1));
  t.ok(copied.length > 0);
  for (const src of copied) {
    t.notOk(ignore.includes(src) || ignore.includes(src.replace(/\/$/, '')), `${src} is copied and not ignored`);
    t.ok(fs.existsSync(path.join(repo, src)), `${src} exists in the repository`);
  }
});
