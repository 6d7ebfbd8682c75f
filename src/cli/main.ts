#!/usr/bin/env node
/** Entry point: `scope-namespaces <command>`; invoked as `lsns` it behaves as `list`. */
import * as path from 'node:path';
import type { CliIo } from './list.js';

const USAGE = `Usage: scope-namespaces <command> [options]

Commands:
  list      list namespaces like lsns (see: scope-namespaces list --help)
  serve     serve the namespaces to a Weave Scope probe (plugin daemon)
  report    print one Scope plugin report to stdout
  check     health check of the running plugin (exit 0 when healthy)
  capture   snapshot /proc and lsns's output into a test fixture (capture --help)
  help      this text
`;

function processIo(): CliIo {
  return {
    out: (bytes) => process.stdout.write(Buffer.from(bytes, 'latin1')),
    err: (text) => process.stderr.write(text),
    env: process.env,
    ttyWidth: process.stdout.isTTY ? process.stdout.columns : null,
  };
}

/**
 * A list of the host's /proc on a large host reads its links on worker threads too: they are
 * started before `list` itself is loaded, so their start-up overlaps it (scan/link-workers.ts).
 * Not for help or version, nor for another procfs root (workers are for the live /proc only).
 */
async function prestartForList(args: readonly string[]): Promise<void> {
  if (args.some((a) => a === '-h' || a === '--help' || a === '-V' || a === '--version' || a.startsWith('--proc'))) return;
  (await import('../scan/link-workers.js')).prestartLinkWorkers();
}

/**
 * `list` is done once its output is flushed: exit then rather than wait for a link worker's
 * teardown and Node's own (~13 ms of a ~450 ms run here). Not before: a pipe whose reader is slower
 * than us holds the rest of a large output in Node's queue, and exiting would cut it off.
 */
async function exitNow(code: number): Promise<never> {
  for (const stream of [process.stdout, process.stderr]) await new Promise<void>((resolve) => stream.write('', () => resolve()));
  process.exit(code);
}

/** Commands are imported on demand: `list` must not pay for loading zod, pino and the server. */
export async function main(argv: readonly string[]): Promise<number> {
  const self = path.basename(process.argv[1] ?? '');
  if (self === 'lsns') {
    await prestartForList(argv);
    return await exitNow(await (await import('./list.js')).runList(argv, processIo(), 'lsns'));
  }
  const [command, ...rest] = argv;
  switch (command) {
    case 'list':
      await prestartForList(rest);
      return await exitNow(await (await import('./list.js')).runList(rest, processIo()));
    case 'capture':
      return (await import('./capture.js')).runCapture(rest);
    case 'serve':
      return (await import('./serve.js')).runServe(rest);
    case 'report':
      return (await import('./report.js')).runReport(rest);
    case 'check':
      return (await import('./check.js')).runCheck(rest);
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE);
      return 0;
    default:
      process.stderr.write(command === undefined ? USAGE : `scope-namespaces: unknown command '${command}'\n${USAGE}`);
      return 64;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`scope-namespaces: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 70;
  },
);
