/**
 * `scope-namespaces check`: ask the running plugin for a report over its socket, the way the Scope
 * probe does, and exit 0 when it is healthy (answers 200 in time, with a report the probe takes).
 * Meant for Docker HEALTHCHECK and Kubernetes exec probes.
 */
import * as http from 'node:http';
import { gunzipSync } from 'node:zlib';
import { columnId } from '../scope/host-table.js';
import { reportProblems } from '../scope/schema.js';
import { socketPathFor } from '../server/socket.js';
import { ConfigError, parseCheckConfig } from './config.js';
import { EXIT_FAILURE, EXIT_USAGE } from './exit-codes.js';
import { commandHelp } from './options.js';

export const CHECK_HELP = commandHelp('check', 'Query the running plugin over its socket; exit 0 when healthy, 1 when not.');

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  ms: number;
}

export function fetchReport(socketPath: string, timeoutMs: number): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const req = http.request(
      {
        socketPath,
        path: `/report?api_version=1&probe_id=${'0'.repeat(16)}`,
        headers: { Host: 'plugin', 'Accept-Encoding': 'gzip', 'User-Agent': 'scope-namespaces-check' },
        timeout: timeoutMs,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), ms: performance.now() - started }));
        res.on('error', reject);
      },
    );
    const timer = setTimeout(() => req.destroy(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    req.on('close', () => clearTimeout(timer));
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

export async function runCheck(argv: readonly string[]): Promise<number> {
  let cfg;
  try {
    cfg = parseCheckConfig(argv);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(err.problems.map((p) => `scope-namespaces check: ${p}\n`).join(''));
    return EXIT_USAGE;
  }
  if (cfg === 'help') {
    process.stdout.write(CHECK_HELP);
    return 0;
  }
  const socketPath = cfg.socket ?? socketPathFor(cfg.pluginsRoot, cfg.pluginId);
  const fail = (why: string): number => {
    process.stderr.write(`unhealthy: ${socketPath}: ${why}\n`);
    return EXIT_FAILURE;
  };
  let answer: Answer;
  try {
    answer = await fetchReport(socketPath, cfg.timeoutMs);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    return fail(e.code === 'ENOENT' ? 'no socket (is the plugin running?)' : e.code === 'ECONNREFUSED' ? 'nothing answers on the socket' : e.message);
  }
  if (answer.status !== 200) return fail(`HTTP ${answer.status}`);
  let report: unknown;
  try {
    const raw = answer.headers['content-encoding'] === 'gzip' ? gunzipSync(answer.body) : answer.body;
    report = JSON.parse(raw.toString('utf8'));
  } catch (err) {
    return fail(`undecodable answer: ${(err as Error).message}`);
  }
  const problems = reportProblems(report, cfg.pluginId);
  if (problems.length > 0)
    return fail(
      `a probe would reject the report: ${problems
        .slice(0, 3)
        .map((p) => `${p.path}: ${p.message}`)
        .join('; ')}`,
    );
  const taken = Date.parse(String(answer.headers['x-snapshot-time'] ?? ''));
  const ageMs = Number.isNaN(taken) ? null : Date.now() - taken;
  if (cfg.maxAgeMs !== undefined && (ageMs === null || ageMs > cfg.maxAgeMs)) {
    return fail(`snapshot is ${ageMs === null ? 'of unknown age' : `${Math.round(ageMs / 1000)} s old`} (max ${cfg.maxAgeMs / 1000} s): refreshes are failing`);
  }
  const nodes = (report as { Host?: { nodes?: Record<string, { latest?: object }> } }).Host?.nodes ?? {};
  const rows = Object.values(nodes).reduce((n, node) => n + Object.keys(node.latest ?? {}).filter((k) => k.endsWith(`___${columnId('ns')}`)).length, 0);
  process.stdout.write(`ok: ${socketPath}: ${rows} namespaces, answered in ${Math.round(answer.ms)} ms${ageMs === null ? '' : `, snapshot ${Math.round(ageMs / 1000)} s old`}\n`);
  if (answer.ms > 500) process.stderr.write(`warning: the answer took ${Math.round(answer.ms)} ms; a Scope probe gives up after 500 ms\n`);
  return 0;
}
