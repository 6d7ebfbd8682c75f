#!/usr/bin/env node
/** Entry point: `scope-namespaces <command>`; invoked as `lsns` it behaves as `list`. */
import * as path from 'node:path';
import { runCapture } from './capture.js';
import { runCheck } from './check.js';
import { runList, type CliIo } from './list.js';
import { runReport } from './report.js';
import { runServe } from './serve.js';

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

export function main(argv: readonly string[]): number | Promise<number> {
  const self = path.basename(process.argv[1] ?? '');
  if (self === 'lsns') return runList(argv, processIo(), 'lsns');
  const [command, ...rest] = argv;
  switch (command) {
    case 'list':
      return runList(rest, processIo());
    case 'capture':
      // Async (it waits for a child to be reaped); the exit code is set when it is done.
      void runCapture(rest).then((code) => (process.exitCode = code));
      return 0;
    case 'serve':
      return runServe(rest);
    case 'report':
      return runReport(rest);
    case 'check':
      return runCheck(rest);
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

const exit = main(process.argv.slice(2));
if (typeof exit === 'number') process.exitCode = exit;
else void exit.then((code) => (process.exitCode = code));
