/**
 * Hostnames of UTS namespaces, read on a dedicated worker thread (see uts-worker.ts).
 *
 * A synchronous API is impossible across threads, so everything here is async. The worker is
 * started lazily, kept unref'd while idle (it never keeps the process alive), and can be stopped
 * with terminate(). Successful results are cached by namespace inode.
 */
import { existsSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { Worker } from 'node:worker_threads';
import { nativeStatus } from './loader.js';
import { fail, ok, type NativeResult } from './result.js';
import type { UtsItemResult, UtsRequest, UtsResponse, UtsTarget, WorkerSelfCheck } from './uts-protocol.js';
import { compiledWorkerUrl } from './worker-url.js';

export type { UtsTarget, WorkerSelfCheck } from './uts-protocol.js';

/** The compiled worker (worker-url.ts: beside this module, or the built bundle when this runs from its source). */
export function resolveUtsWorkerUrl(): URL {
  return compiledWorkerUrl('uts-worker.js', import.meta.url);
}

type Pending = { kind: 'read'; resolve: (r: UtsItemResult[]) => void; targets: UtsTarget[] } | { kind: 'selfcheck'; resolve: (r: NativeResult<WorkerSelfCheck>) => void };

export interface UtsHostnameReaderOptions {
  workerUrl?: URL;
}

/**
 * What a scan needs to read hostnames: UtsHostnameReader (a UTS worker thread) or, on a dedicated
 * worker thread, InThreadUtsReader (uts-read.ts: setns+uname on that thread itself).
 */
export interface HostnameReader {
  /** Hostname per namespace inode; null where it could not be read. */
  hostnames(targets: readonly UtsTarget[]): Promise<Map<number, string | null>>;
  clearCache(): void;
  /** Thread that reads (null when none runs). */
  readonly threadId: number | null;
  terminate(): Promise<void>;
}

export class UtsHostnameReader implements HostnameReader {
  private worker: Worker | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly cache = new Map<number, string>();
  private readonly workerUrl: URL | undefined;

  constructor(opts: UtsHostnameReaderOptions = {}) {
    this.workerUrl = opts.workerUrl;
  }

  /** Thread id of the running worker (for tests), or null. */
  get threadId(): number | null {
    return this.worker?.threadId ?? null;
  }

  private start(): NativeResult<Worker> {
    if (this.worker !== null) return ok(this.worker);
    const st = nativeStatus();
    if (!st.ok) return fail(st.code, st.reason);
    const url = this.workerUrl ?? resolveUtsWorkerUrl();
    if (!existsSync(fileURLToPath(url))) {
      return fail('ENOENT', `UTS worker ${fileURLToPath(url)} not found (run \`npm run build\`)`, 2);
    }
    let w: Worker;
    try {
      // No inherited execArgv: the parent's flags (--input-type, test-runner loaders) are not meant
      // for a plain compiled-JS worker and some make Worker startup fail.
      // Loaded here, not at import: `list` without a HOSTNAME column never pays for worker_threads (~4 ms).
      const wt = createRequire(import.meta.url)('node:worker_threads') as typeof import('node:worker_threads');
      w = new wt.Worker(url, { execArgv: [] });
    } catch (e) {
      return fail('ECHILD', `cannot start UTS worker: ${e instanceof Error ? e.message : String(e)}`, 10);
    }
    w.unref();
    w.on('message', (msg: UtsResponse) => this.onMessage(msg));
    w.on('error', (e: Error) => this.onGone(w, `UTS worker failed: ${e.message}`));
    w.on('exit', (code: number) => this.onGone(w, `UTS worker exited with code ${code}`));
    this.worker = w;
    return ok(w);
  }

  private onMessage(msg: UtsResponse): void {
    if (msg.kind === 'fatal') {
      // The worker exits after this; 'exit' fails whatever is still pending.
      return;
    }
    const p = this.pending.get(msg.id);
    if (p === undefined) return;
    this.pending.delete(msg.id);
    this.updateRef();
    if (msg.kind === 'read' && p.kind === 'read') p.resolve(msg.results);
    else if (msg.kind === 'selfcheck' && p.kind === 'selfcheck') p.resolve(msg.ok ? ok(msg.check) : fail(msg.code, msg.reason));
  }

  private onGone(w: Worker, reason: string): void {
    if (this.worker !== w) return;
    this.worker = null;
    const all = [...this.pending.values()];
    this.pending.clear();
    for (const p of all) {
      if (p.kind === 'read') p.resolve(p.targets.map((t) => ({ ino: t.ino, ok: false, code: 'EIO', errno: 5, reason })));
      else p.resolve(fail('EIO', reason, 5));
    }
  }

  /** Keep the event loop alive only while requests are outstanding. */
  private updateRef(): void {
    if (this.worker === null) return;
    if (this.pending.size > 0) this.worker.ref();
    else this.worker.unref();
  }

  private send(req: UtsRequest, p: Pending): void {
    const w = this.worker;
    if (w === null) return;
    this.pending.set(req.id, p);
    this.updateRef();
    w.postMessage(req);
  }

  /** Per-namespace results (with error codes). Only successes are cached. */
  async results(targets: readonly UtsTarget[]): Promise<Map<number, NativeResult<string>>> {
    const out = new Map<number, NativeResult<string>>();
    const todo = new Map<number, UtsTarget>();
    for (const t of targets) {
      const c = this.cache.get(t.ino);
      if (c !== undefined) out.set(t.ino, ok(c));
      else if (!todo.has(t.ino)) todo.set(t.ino, { ino: t.ino, path: t.path });
    }
    if (todo.size === 0) return out;
    const started = this.start();
    if (!started.ok) {
      for (const ino of todo.keys()) out.set(ino, started);
      return out;
    }
    const list = [...todo.values()];
    const items = await new Promise<UtsItemResult[]>((resolve) => {
      this.send({ kind: 'read', id: this.nextId++, targets: list }, { kind: 'read', resolve, targets: list });
    });
    for (const r of items) {
      if (r.ok) {
        this.cache.set(r.ino, r.hostname);
        out.set(r.ino, ok(r.hostname));
      } else {
        out.set(r.ino, fail(r.code, r.reason, r.errno));
      }
    }
    return out;
  }

  /** Hostname per namespace inode; null where it could not be read. */
  async hostnames(targets: readonly UtsTarget[]): Promise<Map<number, string | null>> {
    const res = await this.results(targets);
    const out = new Map<number, string | null>();
    for (const [ino, r] of res) out.set(ino, r.ok ? r.value : null);
    return out;
  }

  /** The worker's own view of itself (tid, uname, current UTS ns) — proves it returned home. */
  async selfCheck(): Promise<NativeResult<WorkerSelfCheck>> {
    const started = this.start();
    if (!started.ok) return started;
    return new Promise((resolve) => {
      this.send({ kind: 'selfcheck', id: this.nextId++ }, { kind: 'selfcheck', resolve });
    });
  }

  clearCache(): void {
    this.cache.clear();
  }

  /** Stop the worker (pending requests resolve as failures). A later request starts a new one. */
  async terminate(): Promise<void> {
    const w = this.worker;
    if (w === null) return;
    this.onGone(w, 'UTS worker terminated');
    await w.terminate();
  }
}

let shared: UtsHostnameReader | null = null;

function sharedReader(): UtsHostnameReader {
  shared ??= new UtsHostnameReader();
  return shared;
}

/** Hostnames of the given UTS namespaces (shared worker and cache). */
export function utsHostnames(targets: readonly UtsTarget[]): Promise<Map<number, string | null>> {
  return sharedReader().hostnames(targets);
}

/** Like utsHostnames, with the error code for each namespace that could not be read. */
export function utsHostnameResults(targets: readonly UtsTarget[]): Promise<Map<number, NativeResult<string>>> {
  return sharedReader().results(targets);
}

/** Terminate the shared worker (it is unref'd while idle, so this is only needed for a clean stop). */
export async function terminateUtsWorker(): Promise<void> {
  const r = shared;
  shared = null;
  if (r !== null) await r.terminate();
}

/**
 * Hostname of the host's UTS namespace: that of pid 1, or of pid 2 (kthreadd, always in the initial
 * namespaces) when pid 1's ns links cannot be read (EACCES even for root in some sandboxes).
 */
export async function hostUtsHostname(procRoot = '/proc', reader: UtsHostnameReader = sharedReader()): Promise<NativeResult<string>> {
  let last: NativeResult<string> = fail('ENOENT', `no readable UTS namespace link under ${procRoot}`, 2);
  for (const pid of [1, 2]) {
    const path = `${procRoot}/${pid}/ns/uts`;
    let ino: number;
    try {
      ino = statSync(path).ino;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? 'EIO';
      last = fail(code, `stat ${path}: ${code}`);
      continue;
    }
    const r: NativeResult<string> = (await reader.results([{ ino, path }])).get(ino) ?? last;
    if (r.ok) return r;
    last = r;
  }
  return last;
}
