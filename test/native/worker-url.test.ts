/** Where worker threads' compiled entry points are found, from compiled JS and from the sources. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import t from 'tap';
import { compiledWorkerUrl } from '../../src/native/worker-url.js';
import { resolveUtsWorkerUrl } from '../../src/native/uts.js';
import { resolveLinkWorkerUrl } from '../../src/scan/link-worker-pool.js';

const repo = path.resolve(import.meta.dirname, '../..');

t.test('from compiled JS: the file beside the running module, whatever the package says', async (t) => {
  t.equal(compiledWorkerUrl('uts-worker.js', 'file:///app/dist/cli/main.js').href, 'file:///app/dist/cli/uts-worker.js');
  t.equal(compiledWorkerUrl('link-worker.js', 'file:///x/dist/lib/scan/link-workers.js').href, 'file:///x/dist/lib/scan/link-worker.js');
  t.equal(compiledWorkerUrl('w.js', 'file:///x/a.mjs').href, 'file:///x/w.js');
});

t.test("from TypeScript sources: the file beside the package's CLI (package.json bin)", async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'worker-url-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const mod = (pkg: string, rel: string): string => {
    fs.mkdirSync(path.join(dir, pkg, path.dirname(rel)), { recursive: true });
    return pathToFileURL(path.join(dir, pkg, rel)).href;
  };
  const write = (pkg: string, manifest: unknown): void => fs.writeFileSync(path.join(dir, pkg, 'package.json'), JSON.stringify(manifest));

  const deep = mod('named', 'src/a/b/mod.ts');
  write('named', { name: 'p', bin: { p: 'out/bin/cli.js', q: 'other/q.js' } });
  t.equal(compiledWorkerUrl('x-worker.js', deep).href, pathToFileURL(path.join(dir, 'named/out/bin/x-worker.js')).href, 'bin object: its first entry');

  const flat = mod('string', 'lib/mod.mts');
  write('string', { bin: './build/main.js' });
  t.equal(compiledWorkerUrl('x-worker.js', flat).href, pathToFileURL(path.join(dir, 'string/build/x-worker.js')).href, 'bin string');

  const none = mod('nobin', 'src/mod.ts');
  write('nobin', { name: 'nobin' });
  t.equal(compiledWorkerUrl('x-worker.js', none).href, new URL('./x-worker.js', none).href, 'no bin: beside (a missing file, reported by the caller)');

  const broken = mod('broken', 'src/mod.ts');
  fs.writeFileSync(path.join(dir, 'broken', 'package.json'), '{ not json');
  t.equal(compiledWorkerUrl('x-worker.js', broken).href, new URL('./x-worker.js', broken).href, 'unreadable package.json: beside');
});

t.test('this package from its sources: the bundles npm run build writes to dist/cli/', async (t) => {
  t.equal(resolveUtsWorkerUrl().href, pathToFileURL(path.join(repo, 'dist/cli/uts-worker.js')).href);
  t.equal(resolveLinkWorkerUrl().href, pathToFileURL(path.join(repo, 'dist/cli/link-worker-thread.js')).href);
  t.ok(fs.existsSync(path.join(repo, 'dist/cli/uts-worker.js')) && fs.existsSync(path.join(repo, 'dist/cli/link-worker-thread.js')), 'both built (npm run build)');
});
