/**
 * Where a worker thread's entry point is. A worker thread starts without the loader that lets a
 * test runner execute TypeScript, so a worker always runs compiled JS:
 *  - from compiled JS (the CLI bundle in dist/cli/, whose workers the build writes beside it), the
 *    file of that name beside the running module;
 *  - from TypeScript sources (the tests), the bundle of that name beside the package's CLI, found
 *    through package.json's `bin` (`npm run build` writes it).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** `file` (e.g. `uts-worker.js`) for the module at `moduleUrl` (its import.meta.url). */
export function compiledWorkerUrl(file: string, moduleUrl: string): URL {
  const beside = new URL(`./${file}`, moduleUrl);
  if (!/\.[cm]?ts$/.test(moduleUrl)) return beside;
  const cliDir = packageCliDir(dirname(fileURLToPath(moduleUrl)));
  return cliDir === null ? beside : pathToFileURL(join(cliDir, file));
}

/** The directory of the CLI named by the nearest package.json's `bin` at or above `from`; null without one. */
function packageCliDir(from: string): string | null {
  for (let dir = from; ; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest)) {
      let bin: unknown;
      try {
        bin = (JSON.parse(readFileSync(manifest, 'utf8')) as { bin?: unknown }).bin;
      } catch {
        return null;
      }
      const cli = typeof bin === 'string' ? bin : typeof bin === 'object' && bin !== null ? Object.values(bin as Record<string, unknown>)[0] : undefined;
      return typeof cli === 'string' ? dirname(join(dir, cli)) : null;
    }
    if (dirname(dir) === dir) return null;
  }
}
