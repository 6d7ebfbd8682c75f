/**
 * `serve` as a black box for the bench: spawned as deployed (the image's node flags, SERVE_NODE_FLAGS)
 * over a temporary plugins root with its default settings (plus any extra arguments), found by its socket, stopped by pid (SIGTERM, then SIGKILL).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import { discover, type DiscoveredPlugin } from '../support/probe-client.js';
import { SERVE_NODE_FLAGS } from '../../src/cli/node-flags.js';

export interface Serve {
  child: ChildProcess;
  pid: number;
  root: string;
  plugin: DiscoveredPlugin;
  /** The last lines it wrote to stderr (for error messages). */
  stderrTail(): string;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function startServe(cli: string, extraArgs: readonly string[], readyTimeoutMs: number, onChild: (c: ChildProcess) => void): Promise<Serve> {
  // Short path: a unix socket path must stay under 108 bytes.
  const root = fs.mkdtempSync('/tmp/snb-');
  const child = spawn(process.execPath, [...SERVE_NODE_FLAGS, cli, 'serve', '--plugins-root', root, '--log-format', 'json', ...extraArgs], { stdio: ['ignore', 'ignore', 'pipe'] });
  onChild(child);
  let tail = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    tail = (tail + chunk).slice(-4000);
  });
  const stderrTail = (): string => tail.trim().split('\n').slice(-5).join('\n');
  const deadline = Date.now() + readyTimeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`serve exited early (${child.exitCode ?? child.signalCode}): ${stderrTail()}`);
    const found = discover(root);
    if (found[0] !== undefined && child.pid !== undefined) return { child, pid: child.pid, root, plugin: found[0], stderrTail };
    if (Date.now() > deadline) throw new Error(`serve made no socket under ${root} within ${readyTimeoutMs} ms: ${stderrTail()}`);
    await sleep(50);
  }
}

export async function stopServe(s: Serve): Promise<void> {
  const { child } = s;
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    const timer = setTimeout(() => {
      try {
        process.kill(s.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }, 3000);
    try {
      process.kill(s.pid, 'SIGTERM');
      await exited;
    } catch {
      /* gone */
    }
    clearTimeout(timer);
  }
  fs.rmSync(s.root, { recursive: true, force: true });
}
