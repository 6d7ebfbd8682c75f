/**
 * For test/reliability/leftovers.test.ts: arms N onAbort cleanups that each append their number to
 * the file given, then sends itself SIGTERM. Every one of them must run.
 *
 *   node --import=<tap's TypeScript loader> test/support/abort-fixture.ts FILE N
 */
import * as fs from 'node:fs';
import { onAbort } from './tag.js';

const [file, n] = process.argv.slice(2);
if (file === undefined) throw new Error('usage: abort-fixture.ts FILE N');
for (let i = 1; i <= Number(n ?? 4); i++) onAbort(() => fs.appendFileSync(file, `${i}\n`));
setTimeout(() => undefined, 10_000);
process.kill(process.pid, 'SIGTERM');
