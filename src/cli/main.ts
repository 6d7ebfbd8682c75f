#!/usr/bin/env node
/** Entry point: `scope-namespaces <command>`; invoked as `lsns` it behaves as `list`. */
import * as path from 'node:path';
import { runCapture } from './capture.js';
import { runList, type CliIo } from './list.js';

const USAGE = `Usage: scope-namespaces <command> [options]

Commands:
  list      list namespaces like lsns (see: scope-namespaces list --help)
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

export function main(argv: readonly string[]): number {
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

process.exitCode = main(process.argv.slice(2));
