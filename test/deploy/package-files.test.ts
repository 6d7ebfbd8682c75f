/**
 * The npm package holds only what runs: the bundled CLI and its two worker threads (dist/cli/),
 * package.json, README and LICENSE. Nothing of tsc's per-module build (dist/lib/), the bench
 * (dist/bench/), the sources or the tests. Needs `npm run build` first, so that dist/ holds
 * everything a build makes and the package is checked against all of it.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import t from 'tap';

const repo = path.resolve(import.meta.dirname, '../..');

const RUNS = ['dist/cli/main.js', 'dist/cli/link-worker-thread.js', 'dist/cli/uts-worker.js', 'dist/cli/package.json'];
const ALLOWED = new Set([...RUNS, 'package.json', 'README.md', 'LICENSE']);

t.test('npm pack --dry-run: the CLI bundle, its workers, package.json, README and LICENSE; nothing else', async (t) => {
  t.ok(fs.existsSync(path.join(repo, 'dist/cli/main.js')), 'built (npm run build)');
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: repo, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const packs = JSON.parse(out) as { files: { path: string }[] }[];
  t.equal(packs.length, 1, 'one package');
  const files = (packs[0]?.files ?? []).map((f) => f.path).sort();
  t.same(
    files.filter((f) => !ALLOWED.has(f)),
    [],
    'nothing outside what runs',
  );
  for (const f of [...RUNS, 'package.json', 'README.md', 'LICENSE']) t.ok(files.includes(f), `${f} is in the package`);
  const bin = (JSON.parse(fs.readFileSync(path.join(repo, 'package.json'), 'utf8')) as { bin: Record<string, string> }).bin;
  for (const [name, file] of Object.entries(bin)) t.ok(files.includes(path.normalize(file)), `bin ${name} (${file}) is in the package`);
});
