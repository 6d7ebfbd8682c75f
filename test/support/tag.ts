/**
 * What a test creates must die with it and, if it does not, be findable afterwards.
 *
 *  - TEST_TAG names this run. `npm test` sets SCOPE_NS_TEST_TAG for the whole suite; a file run on
 *    its own makes one. It is put into process.env, so every process a test starts carries it in
 *    /proc/<pid>/environ, and into the name of every cgroup directory, netns file and mount point
 *    the tests create. test/support/leftovers-check.mjs looks for it when the suite has ended.
 *  - mortal() runs a command under `setpriv --pdeathsig KILL`, spawned by node itself: the kernel
 *    kills it when the test process dies, even by SIGKILL. Its own forks do not inherit that, so a
 *    script puts DIE_WITH_PARENT before every command it starts in the background.
 *  - onAbort() runs a synchronous cleanup once, at exit or on the fatal signal tap uses to stop a
 *    file that timed out (SIGALRM) or a run that is interrupted (SIGTERM, SIGINT, SIGHUP), where
 *    the tests' async teardowns get no chance to finish.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { onExit } from 'signal-exit';

export const TAG_VAR = 'SCOPE_NS_TEST_TAG';

/** Lower-case letters, digits and dashes only: it goes into hostnames, netns and cgroup names. */
export const TAG_PATTERN = /^[a-z0-9][a-z0-9-]{5,40}$/;

function runTag(): string {
  const given = process.env[TAG_VAR];
  if (given !== undefined && given !== '') {
    if (!TAG_PATTERN.test(given)) throw new Error(`${TAG_VAR}=${given}: must match ${String(TAG_PATTERN)}`);
    return given;
  }
  return `sntag-${randomBytes(4).toString('hex')}`;
}

export const TEST_TAG = runTag();
process.env[TAG_VAR] = TEST_TAG;

/** `env` plus the tag, for a child given an environment of its own. */
export function taggedEnv(env: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { ...env, [TAG_VAR]: TEST_TAG };
}

/** util-linux's setpriv, by absolute path: some children get an empty PATH. */
export const SETPRIV = ((): string => {
  for (const dir of [...(process.env['PATH'] ?? '').split(':'), '/usr/bin', '/bin']) {
    if (dir !== '' && fs.existsSync(path.join(dir, 'setpriv'))) return path.join(dir, 'setpriv');
  }
  return 'setpriv';
})();

/** Shell prefix for a command a script starts: it dies with the script's process. */
export const DIE_WITH_PARENT = `${SETPRIV} --pdeathsig KILL --`;

/** `[cmd, args]` run under setpriv so that it dies with this process; spawn it from node directly. */
export function mortal(cmd: string, args: readonly string[]): [string, string[]] {
  return [SETPRIV, ['--pdeathsig', 'KILL', '--', cmd, ...args]];
}

/** A new directory `<parent>/<tag>-<what>-XXXXXX`, so mounts on or under it carry the tag. */
export function taggedTempDir(what: string, parent = '/tmp'): string {
  return fs.mkdtempSync(path.join(parent, `${TEST_TAG}-${what}-`));
}

/** A name for a netns, hostname or cgroup directory: `<tag>-<what>`. */
export function taggedName(what: string): string {
  return `${TEST_TAG}-${what}`;
}

export interface AbortCleanup {
  /** Runs the cleanup now, if it has not run. */
  run(): void;
  /** Drops it: the test cleaned up by itself (pids it names may be reused later). */
  cancel(): void;
}

/**
 * Runs `cleanup` once: at exit, or on a fatal signal (the test is being stopped), unless run or
 * cancelled before. It must be synchronous: no event loop turns after it.
 */
/**
 * Set once the exit (or fatal signal) callbacks have started: from then on none is removed, since
 * signal-exit calls them in a `for...of` over the very array that removing one splices, and a
 * removal there would skip the callback after it.
 */
let exiting = false;

export function onAbort(cleanup: () => void): AbortCleanup {
  let done = false;
  const remove = onExit(() => {
    exiting = true;
    run();
  });
  const cancel = (): void => {
    done = true;
    if (!exiting) remove();
  };
  const run = (): void => {
    if (done) return;
    cancel();
    try {
      cleanup();
    } catch {
      /* a failing cleanup must not keep the others from running */
    }
  };
  return { run, cancel };
}

/** Blocks for `ms` (for cleanups that run where no event loop will turn again). */
export function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
