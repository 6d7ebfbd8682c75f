#!/usr/bin/env node
// `npm test`: runs tap with one tag for the whole run (SCOPE_NS_TEST_TAG, inherited by every test
// file and every process it starts), then test/support/leftovers-check.mjs for that tag. Fails if
// either fails. Arguments go to tap.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import console from 'node:console';
import * as path from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';
import { TAG_VAR, check } from './leftovers-check.mjs';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const tag = process.env[TAG_VAR] || `sntag-${randomBytes(4).toString('hex')}`;
console.log(`# ${TAG_VAR}=${tag}`);

const tap = spawn(path.join(repo, 'node_modules', '.bin', 'tap'), process.argv.slice(2), {
  cwd: repo,
  stdio: 'inherit',
  env: { ...process.env, [TAG_VAR]: tag },
});
// Passed on so that tap stops its files (and they run their cleanups); the check still runs.
for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(sig, () => tap.kill(sig));
const tapCode = await new Promise((resolve) => tap.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0))));
const leftCode = check(tag);
process.exit(tapCode !== 0 ? tapCode : leftCode);
