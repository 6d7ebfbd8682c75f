/**
 * The layer rules `npm run lint` enforces (.dependency-cruiser.cjs) can fail: on small hand-made
 * trees shaped like src/, an import up a layer, one sideways between two layers of the same rank,
 * one into test/, and one into a folder that is no layer each fail the cruise, by rule name; the
 * same tree with the import pointing down passes.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CRUISE = path.join(ROOT, 'node_modules/dependency-cruiser/bin/dependency-cruise.mjs');
const CONFIG = path.join(ROOT, '.dependency-cruiser.cjs');

/** Cruises `files` (path -> source) laid out in a temporary tree with the project's rules. */
function cruise(files: Record<string, string>): { status: number | null; out: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'snt-layers-'));
  try {
    fs.writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', strict: true } }));
    for (const [rel, text] of Object.entries(files)) {
      fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
      fs.writeFileSync(path.join(dir, rel), text);
    }
    const r = spawnSync(process.execPath, [CRUISE, '--config', CONFIG, 'src'], { cwd: dir, encoding: 'utf8', timeout: 120_000 });
    return { status: r.status, out: `${r.stdout}${r.stderr}` };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const leaf = 'export const x = 1;\n';

t.test('an import down the layers passes', (t) => {
  const r = cruise({ 'src/native/a.ts': leaf, 'src/cli/b.ts': "import { x } from '../native/a.js';\nexport const y = x;\n" });
  t.equal(r.status, 0, r.out);
  t.end();
});

// One tree with every kind of violation: each cruise loads TypeScript, which takes a while.
t.test('imports up a layer, sideways, into tests or from a folder that is no layer fail, by rule', (t) => {
  const r = cruise({
    'src/cli/b.ts': leaf,
    'src/native/a.ts': "import { x } from '../cli/b.js';\nexport const y = x;\n",
    'src/lsns/a.ts': leaf,
    'src/scope/b.ts': "import { x } from '../lsns/a.js';\nexport const y = x;\n",
    'test/support/h.ts': leaf,
    'src/misc/m.ts': leaf,
    'src/scan/a.ts': "import { x } from '../../test/support/h.js';\nimport { x as z } from '../misc/m.js';\nexport const y = x + z;\n",
  });
  t.not(r.status, 0, 'the cruise fails');
  t.match(r.out, 'native-imports-only-lower-layers: src/native/a.ts → src/cli/b.ts', 'up a layer');
  t.match(r.out, 'scope-imports-only-lower-layers: src/scope/b.ts → src/lsns/a.ts', 'sideways within a rank');
  t.match(r.out, 'product-does-not-import-tests: src/scan/a.ts → test/support/h.ts', 'into the tests');
  t.match(r.out, 'src-is-not-a-layer-of-its-own: src/scan/a.ts → src/misc/m.ts', 'a folder that is no layer');
  t.end();
});
