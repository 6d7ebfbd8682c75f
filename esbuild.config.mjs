// The shipped CLI: src/cli/main.ts and the two worker entry points, each bundled into one
// CommonJS file under dist/cli/, the only build that ships (package.json `files`, the image). The
// tests run the sources but their worker threads run these bundles (src/native/worker-url.ts).
// tsc's per-module ESM build in dist/lib/ is for the tests that load compiled modules in child
// processes; the bench has its own (dist/bench/). Why a bundle: Node 20 spends ~15 ms starting
// its ES module loader and ~30 ms more resolving and linking ~40 modules one by one, before `list`
// reads a single link (native-notes/performance-history.md, sixth round). Runtime packages stay
// external: koffi is a native addon, and serve loads pino and zod from node_modules as before.
import { build } from 'esbuild';
import { writeFileSync } from 'node:fs';

const outdir = 'dist/cli';

await build({
  entryPoints: { main: 'src/cli/main.ts', 'link-worker-thread': 'src/scan/link-worker-thread.ts', 'uts-worker': 'src/native/uts-worker.ts' },
  outdir,
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  external: ['koffi', 'pino', 'zod'],
  // import.meta.url (workers beside the module, createRequire) is this file's own URL in a bundle.
  // "use strict" first: after the banner, esbuild's own directive would be a plain string and the
  // bundle sloppy-mode code, unlike the ES modules it is made of.
  define: { 'import.meta.url': '__bundleUrl' },
  banner: { js: "'use strict';\nconst __bundleUrl = require('node:url').pathToFileURL(__filename).href;" },
  logLevel: 'warning',
});

// The package is "type": "module"; these .js files are CommonJS.
writeFileSync(`${outdir}/package.json`, '{ "type": "commonjs" }\n');
