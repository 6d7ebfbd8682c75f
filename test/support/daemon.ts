/** Starting and stopping `node dist/cli/main.js serve` in tests: by pid, never by name. */
import { spawn, type ChildProcess } from 'node:child_process';
import * as http from 'node:http';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { mortal, taggedTempDir } from './tag.js';

export const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const cli = path.join(repo, 'dist', 'cli', 'main.js');

/** A short plugins root under /tmp (socket paths must stay under 108 bytes), named with the run's tag. */
export function tempRoot(): string {
  return taggedTempDir('snt');
}

export interface Daemon {
  child: ChildProcess;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function startDaemon(args: string[], env: NodeJS.ProcessEnv = {}): Daemon {
  // Under setpriv, spawned by node itself: the daemon dies with the test even when that is killed.
  const child = spawn(...mortal(process.execPath, [cli, 'serve', '--log-format', 'json', ...args]), {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  child.stdout?.resume();
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return { child, stderr: () => err, exited };
}

/** Kill by pid if still running (teardown). */
export async function killDaemon(d: Daemon): Promise<void> {
  if (d.child.exitCode !== null || d.child.signalCode !== null) return;
  d.child.kill('SIGKILL');
  await d.exited;
}

export async function waitFor(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Waits until the daemon logged 'serving' (it listens only after its first snapshot). */
export async function waitServing(d: Daemon, timeoutMs = 60_000): Promise<void> {
  await waitFor(() => d.stderr().includes('"msg":"serving"') || d.child.exitCode !== null, timeoutMs, 'serving');
  if (d.child.exitCode !== null) throw new Error(`daemon exited ${d.child.exitCode}: ${d.stderr()}`);
}

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  ms: number;
}

/** One HTTP request over a unix socket, with the probe's 500 ms deadline by default. */
export function request(socketPath: string, opts: { method?: string; path?: string; headers?: http.OutgoingHttpHeaders; timeoutMs?: number; agent?: http.Agent } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const timeoutMs = opts.timeoutMs ?? 500;
    const req = http.request(
      { socketPath, method: opts.method ?? 'GET', path: opts.path ?? '/report', headers: { Host: 'plugin', ...opts.headers }, ...(opts.agent ? { agent: opts.agent } : {}) },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          clearTimeout(timer);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), ms: performance.now() - started });
        });
        res.on('error', reject);
      },
    );
    const timer = setTimeout(() => req.destroy(new Error(`context deadline exceeded (${timeoutMs} ms)`)), timeoutMs);
    req.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    req.end();
  });
}
