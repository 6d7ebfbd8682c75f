/**
 * Golden tests: every fixtures/<name>/expected/<n>.args is run through the built CLI against the
 * fixture's proc tree and must print exactly <n>.out. at-rest and busy were captured from a live
 * host together with /usr/bin/lsns's output (scope-namespaces capture); awkward is hand-made.
 * Needs `npx tsc -p .` first (npm test does it).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const cli = path.join(repo, 'dist', 'cli', 'main.js');
const fixturesDir = path.join(repo, 'fixtures');

function env(): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('LC_') && k !== 'LANG') e[k] = v;
  e.LANG = 'C.UTF-8';
  return e;
}

const fixtures = fs
  .readdirSync(fixturesDir, { withFileTypes: true })
  .filter((d) => d.isDirectory() && fs.existsSync(path.join(fixturesDir, d.name, 'expected')))
  .map((d) => d.name)
  .sort();

t.ok(fs.existsSync(cli), 'dist/cli/main.js is built');
t.ok(fixtures.length >= 3, `fixtures found: ${fixtures.join(', ')}`);

for (const name of fixtures) {
  t.test(name, async (t) => {
    const proc = path.join(fixturesDir, name, 'proc');
    const expDir = path.join(fixturesDir, name, 'expected');
    const cases = fs
      .readdirSync(expDir)
      .filter((f) => f.endsWith('.args'))
      .map((f) => f.slice(0, -'.args'.length))
      .sort();
    t.ok(cases.length > 0, 'has cases');
    for (const n of cases) {
      const argsText = fs.readFileSync(path.join(expDir, `${n}.args`), 'utf8');
      const args = argsText === '' ? [] : argsText.replace(/\n$/, '').split('\n');
      const expected = fs.readFileSync(path.join(expDir, `${n}.out`));
      const r = spawnSync(process.execPath, [cli, 'list', ...args, '--proc', proc], {
        env: env(),
        stdio: ['ignore', 'pipe', 'pipe'],
        maxBuffer: 64 * 1024 * 1024,
      });
      const label = `${name}/${n}: lsns ${args.join(' ')}`;
      t.equal(r.status, 0, `${label}: exit 0`, { stderr: r.stderr.toString() });
      if (args.includes('-J')) {
        // Parsed comparison first: a readable diff of values when the bytes differ.
        const parse = (b: Buffer): unknown => JSON.parse(b.toString('latin1'));
        t.same(parse(r.stdout), parse(expected), `${label}: same JSON`);
      }
      // latin1 keeps invalid UTF-8 visible byte for byte in a failure diff.
      t.equal(r.stdout.toString('latin1'), expected.toString('latin1'), `${label}: same bytes`);
    }
  });
}
