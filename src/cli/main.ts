#!/usr/bin/env node
/** Entry point: `scope-namespaces <command>`; invoked as `lsns` it behaves as `list`. */
import { fstatSync, writeSync } from 'node:fs';
import * as path from 'node:path';
import { EXIT_INTERNAL, EXIT_USAGE } from './exit-codes.js';
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

/** Whether process.stdout was made: its stream (net, stream, tty modules) costs `list` ~4 ms to load. */
let stdoutStream = false;
let stderrStream = false;

function isCharDevice(fd: number): boolean {
  try {
    return fstatSync(fd).isCharacterDevice();
  } catch {
    return false;
  }
}

/**
 * `list`'s output straight to fd 1 with write(2): an inherited stdout is blocking (a terminal, a
 * file, a shell's pipe), so this is what the stream would do, without loading it. A non-blocking fd
 * (EAGAIN), or any other failure, hands the rest to process.stdout, which waits for the reader.
 */
function writeOut(buf: Buffer): void {
  let off = 0;
  if (!stdoutStream) {
    try {
      while (off < buf.length) off += writeSync(1, buf, off, buf.length - off);
      return;
    } catch {
      stdoutStream = true;
    }
  }
  process.stdout.write(off === 0 ? buf : buf.subarray(off));
}

function processIo(): CliIo {
  return {
    out: (bytes) => writeOut(Buffer.from(bytes, 'latin1')),
    err: (text) => {
      stderrStream = true;
      process.stderr.write(text);
    },
    env: process.env,
    // A terminal is a character device: only then is the stream (a tty.WriteStream) made for its width.
    ttyWidth: isCharDevice(1) && process.stdout.isTTY ? ((stdoutStream = true), process.stdout.columns) : null,
  };
}

/**
 * A list of the host's /proc on a large host reads its links on worker threads too: they are
 * started before `list` itself is loaded, so their start-up overlaps it (scan/link-worker-pool.ts).
 * Not for help or version, nor for another procfs root (workers are for the live /proc only).
 */
async function prestartForList(args: readonly string[]): Promise<void> {
  if (args.some((a) => a === '-h' || a === '--help' || a === '-V' || a === '--version' || a.startsWith('--proc'))) return;
  (await import('../scan/link-worker-pool.js')).prestartLinkWorkers();
}

/**
 * `list` is done once its output is flushed: exit then rather than wait for a link worker's
 * teardown and Node's own (~13 ms of a ~450 ms run here). Not before: a pipe whose reader is slower
 * than us holds the rest of a large output in Node's queue, and exiting would cut it off.
 */
async function exitNow(code: number): Promise<never> {
  const streams = [...(stdoutStream ? [process.stdout] : []), ...(stderrStream ? [process.stderr] : [])];
  for (const stream of streams) await new Promise<void>((resolve) => stream.write('', () => resolve()));
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
      return EXIT_USAGE;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`scope-namespaces: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = EXIT_INTERNAL;
  },
);
