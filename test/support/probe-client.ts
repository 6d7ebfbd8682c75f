/**
 * A stand-in for a Weave Scope probe's plugin client, written from the probe's plugin protocol
 * (used by the tests and by `npm run bench`, test/bench/): discovers sockets under the plugins
 * root (recursively, id = file name minus extension, Scope's id rule), polls
 * `GET /report?api_version=1&probe_id=<16 hex>` with the probe's headers over a keep-alive
 * connection, 500 ms for the whole request, gzip accepted, 50 MiB limit, non-200 is an error, and
 * then applies the probe's decoding rules (the zod schema). Its `status` is what the app's /api
 * would show for the plugin.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { PLUGIN_ID_RE, type ScopeReport } from '../../src/scope/report.js';
import { reportProblems } from '../../src/scope/schema.js';

const BODY_LIMIT = 50 * 1024 * 1024;
/** The probe's deadline for a whole request. */
export const PROBE_DEADLINE_MS = 500;

export interface DiscoveredPlugin {
  id: string;
  socketPath: string;
}

/** Every socket under the root at any depth, following symlinks; ids that break the rule are skipped. */
export function discover(root: string): DiscoveredPlugin[] {
  const found: DiscoveredPlugin[] = [];
  const walk = (dir: string, depth: number): void => {
    if (depth > 16) return;
    let names: string[];
    try {
      names = fs.readdirSync(dir);
    } catch {
      return;
    }
    for (const name of names) {
      const p = path.join(dir, name);
      let st: fs.Stats;
      try {
        st = fs.statSync(p);
      } catch {
        continue;
      }
      if (st.isDirectory()) walk(p, depth + 1);
      else if (st.isSocket()) {
        const ext = path.extname(name);
        const id = ext ? name.slice(0, -ext.length) : name;
        if (PLUGIN_ID_RE.test(id)) found.push({ id, socketPath: p });
      }
    }
  };
  walk(root, 0);
  return found;
}

export interface PollResult {
  status: string;
  report: ScopeReport | null;
  ms: number;
}

export interface RawAnswer {
  error: string | null;
  statusCode: number;
  gzip: boolean;
  body: Buffer;
  ms: number;
}

/** The answer's body as JSON bytes (gunzipped when it came gzip-encoded). */
export function plainBody(a: RawAnswer): Buffer {
  return a.gzip ? gunzipSync(a.body) : a.body;
}

export class ProbeClient {
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  private readonly probeId = Array.from({ length: 16 }, () => Math.floor(Math.random() * 16).toString(16)).join('');

  /** `deadlineMs`: the probe's 500 ms by default; the bench gives more to measure slow answers too. */
  constructor(
    readonly plugin: DiscoveredPlugin,
    private readonly deadlineMs = PROBE_DEADLINE_MS,
  ) {}

  /** One full poll: fetch, then decode and validate. */
  async poll(): Promise<PollResult> {
    return this.decode(await this.fetch());
  }

  /** The HTTP part only (connect to last byte), timed against the deadline for the whole request. */
  fetch(): Promise<RawAnswer> {
    const started = performance.now();
    return new Promise((resolve) => {
      let settled = false;
      const finish = (r: RawAnswer): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(r);
      };
      const req = http.request(
        {
          agent: this.agent,
          socketPath: this.plugin.socketPath,
          path: `/report?api_version=1&probe_id=${this.probeId}`,
          headers: { Host: 'plugin', 'User-Agent': 'Go-http-client/1.1', 'Accept-Encoding': 'gzip' },
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            size += c.length;
            if (size > BODY_LIMIT) req.destroy(new Error('body too large'));
            else chunks.push(c);
          });
          res.on('end', () => finish({ error: null, statusCode: res.statusCode ?? 0, gzip: res.headers['content-encoding'] === 'gzip', body: Buffer.concat(chunks), ms: performance.now() - started }));
          res.on('error', (e) => finish({ error: e.message, statusCode: 0, gzip: false, body: Buffer.alloc(0), ms: performance.now() - started }));
        },
      );
      const timer = setTimeout(() => req.destroy(new Error('context deadline exceeded')), this.deadlineMs);
      req.on('error', (e: NodeJS.ErrnoException) =>
        finish({ error: e.code === 'ECONNREFUSED' ? 'connection refused' : e.message, statusCode: 0, gzip: false, body: Buffer.alloc(0), ms: performance.now() - started }),
      );
      req.end();
    });
  }

  /** What the probe makes of an answer: `ok` and the report, or `error: ...`. */
  decode(a: RawAnswer): PollResult {
    const done = (status: string, report: ScopeReport | null = null): PollResult => ({ status, report, ms: a.ms });
    if (a.error !== null) return done(`error: ${a.error}`);
    if (a.statusCode !== 200) return done(`error: plugin returned non-200 status code: ${a.statusCode}`);
    let value: unknown;
    try {
      value = JSON.parse(plainBody(a).toString('utf8'));
    } catch (e) {
      return done(`error: decoding error: ${(e as Error).message}`);
    }
    const problems = reportProblems(value, this.plugin.id);
    if (problems.length > 0) return done(`error: ${problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`);
    return done('ok', value as ScopeReport);
  }

  close(): void {
    this.agent.destroy();
  }
}
