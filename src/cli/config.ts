/**
 * Configuration of `serve`, `report` and `check`: flags, then environment, then defaults, validated
 * by zod. Every problem is reported as `<flag or variable>: <what is wrong>`; callers exit 64.
 */
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { HOSTNAME_SOURCES, hostnameSourceName, resolveHostname, type HostnameInputs } from '../scope/host.js';
import { DEFAULT_PLUGIN_ID, PLUGIN_ID_RE } from '../scope/report.js';
import { PROCESS_NODES_MODES, TOPOLOGY_NAMES, type TopologyName } from '../scope/topologies.js';
import { MAX_SOCKET_PATH_BYTES, socketPathFor } from '../server/socket.js';

export const EXIT_USAGE = 64;
export const DEFAULT_PLUGINS_ROOT = '/var/run/scope/plugins';
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const LOG_FORMATS = ['json', 'pretty', 'auto'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
    this.name = 'ConfigError';
  }
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** `500ms`, `5s`, `1.5s`, `2m`, `1h`; a bare number is seconds. null when malformed. */
export function parseDuration(text: string): number | null {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(text);
  if (!m || m[1] === undefined) return null;
  const ms = Number(m[1]) * (UNITS[m[2] ?? 's'] ?? 1000);
  return Number.isFinite(ms) ? Math.round(ms) : null;
}

const duration = (minMs: number, maxMs: number) =>
  z.string().transform((text, ctx) => {
    const ms = parseDuration(text);
    if (ms === null) {
      ctx.issues.push({ code: 'custom', input: text, message: `'${text}' is not a duration (try 500ms, 5s, 1m)` });
      return z.NEVER;
    }
    if (ms < minMs || ms > maxMs) {
      ctx.issues.push({ code: 'custom', input: text, message: `'${text}' is out of range (${minMs} ms .. ${maxMs / 1000} s)` });
      return z.NEVER;
    }
    return ms;
  });

const pluginId = z.string().regex(PLUGIN_ID_RE, "must match Scope's plugin id rule ^[A-Za-z0-9]+(-[A-Za-z0-9]+)*$ (letters and digits, single dashes between)");
const absolutePath = z
  .string()
  .min(1, 'must not be empty')
  .transform((p) => path.resolve(p));
const hostname = z
  .string()
  .min(1, 'must not be empty')
  .max(253, 'is longer than 253 characters')
  .refine((h) => !/[;\s\p{Cc}]/u.test(h), { error: "must not contain ';', whitespace or control characters" });
/** `host,process,container,pod` (any non-empty subset, any order, no repeats) -> names in canonical order. */
const topologies = z.string().transform((text, ctx): TopologyName[] => {
  const parts = text.split(',').map((p) => p.trim());
  const bad = parts.filter((p) => !(TOPOLOGY_NAMES as readonly string[]).includes(p));
  if (text.trim() === '' || bad.length > 0) {
    ctx.issues.push({ code: 'custom', input: text, message: `'${text}' is not a list of ${TOPOLOGY_NAMES.join(', ')} (comma-separated)` });
    return z.NEVER;
  }
  if (new Set(parts).size !== parts.length) {
    ctx.issues.push({ code: 'custom', input: text, message: `'${text}' names a topology twice` });
    return z.NEVER;
  }
  return TOPOLOGY_NAMES.filter((n) => parts.includes(n));
});
export const DEFAULT_TOPOLOGIES = TOPOLOGY_NAMES.join(',');
const processNodes = z.enum(PROCESS_NODES_MODES, { error: `must be one of ${PROCESS_NODES_MODES.join(', ')}` });
export const DEFAULT_INTERVAL = '1s';
export const DEFAULT_FULL_RESCAN = '30s';
const logLevel = z.enum(LOG_LEVELS, { error: `must be one of ${LOG_LEVELS.join(', ')}` });
const logFormat = z.enum(LOG_FORMATS, { error: `must be one of ${LOG_FORMATS.join(', ')}` });

const socketLength = (c: { pluginsRoot: string; pluginId: string }, ctx: z.RefinementCtx): void => {
  const p = socketPathFor(c.pluginsRoot, c.pluginId);
  const n = Buffer.byteLength(p);
  if (n > MAX_SOCKET_PATH_BYTES) {
    ctx.addIssue({ code: 'custom', path: ['socketPath'], message: `socket path ${p} is ${n} bytes; unix sockets allow at most ${MAX_SOCKET_PATH_BYTES}` });
  }
};

export const serveSchema = z
  .object({
    pluginsRoot: absolutePath,
    pluginId,
    hostname,
    hostnameSource: z.enum(HOSTNAME_SOURCES),
    /** Why the host UTS namespace's hostname was not used (source 'os'), for the start-up log. */
    hostnameFallback: z.string().optional(),
    intervalMs: duration(1000, 3_600_000),
    fullRescanMs: duration(5000, 3_600_000),
    proc: absolutePath,
    topologies,
    processNodes,
    logLevel,
    logFormat,
  })
  .superRefine(socketLength)
  .superRefine((c, ctx) => {
    if (c.fullRescanMs < c.intervalMs) ctx.addIssue({ code: 'custom', path: ['fullRescanMs'], message: `must not be shorter than --interval (${c.intervalMs / 1000} s)` });
  });
export type ServeConfig = z.output<typeof serveSchema>;

export const reportSchemaCli = z.object({ proc: absolutePath, hostname, hostnameSource: z.enum(HOSTNAME_SOURCES), hostnameFallback: z.string().optional(), pluginId, topologies, processNodes });
export type ReportConfig = z.output<typeof reportSchemaCli>;

export const checkSchema = z
  .object({
    pluginsRoot: absolutePath,
    pluginId,
    socket: absolutePath.optional(),
    timeoutMs: duration(50, 60_000),
    maxAgeMs: duration(1000, 86_400_000).optional(),
  })
  .superRefine((c, ctx) => {
    if (c.socket === undefined) socketLength(c, ctx);
    else if (Buffer.byteLength(c.socket) > MAX_SOCKET_PATH_BYTES) {
      ctx.addIssue({ code: 'custom', path: ['socket'], message: `is longer than ${MAX_SOCKET_PATH_BYTES} bytes` });
    }
  });
export type CheckConfig = z.output<typeof checkSchema>;

/** What each config field is called on the command line, for messages. */
const FLAG_NAMES: Record<string, string> = {
  pluginsRoot: '--plugins-root',
  pluginId: '--plugin-id',
  intervalMs: '--interval',
  proc: '--proc',
  logFormat: '--log-format',
  socket: '--socket',
  timeoutMs: '--timeout',
  maxAgeMs: '--max-age',
  topologies: '--topologies',
  fullRescanMs: '--full-rescan',
  processNodes: '--process-nodes',
  socketPath: '--plugins-root/--plugin-id',
};

function validate<S extends z.ZodType>(schema: S, raw: Record<string, unknown>, names: Record<string, string>): z.output<S> {
  const r = schema.safeParse(raw);
  if (r.success) return r.data;
  throw new ConfigError(
    r.error.issues.map((i) => {
      const key = String(i.path[0] ?? '');
      const name = names[key] ?? FLAG_NAMES[key] ?? key;
      const input = raw[key];
      const shown = typeof input === 'string' && !i.message.includes(`'${input}'`) && key !== 'socketPath' ? ` (got '${input}')` : '';
      return `${name}: ${i.message}${shown}`;
    }),
  );
}

type Parsed = Record<string, string | boolean | undefined>;

function parseFlags(argv: readonly string[], names: readonly string[]): Parsed | 'help' {
  const options: Record<string, { type: 'string' } | { type: 'boolean'; short?: string }> = { help: { type: 'boolean', short: 'h' } };
  for (const n of names) options[n] = { type: 'string' };
  let values: Parsed;
  try {
    ({ values } = parseArgs({ args: [...argv], options, strict: true, allowPositionals: false }) as { values: Parsed });
  } catch (err) {
    throw new ConfigError([(err as Error).message]);
  }
  return values['help'] === true ? 'help' : values;
}

const str = (v: string | boolean | undefined): string | undefined => (typeof v === 'string' ? v : undefined);
const envStr = (env: NodeJS.ProcessEnv, name: string): string | undefined => {
  const v = env[name];
  return v === undefined || v === '' ? undefined : v;
};

/** Test seams for the host identity (see scope/host.ts); by default the live host is asked. */
export type HostnameProbe = Pick<HostnameInputs, 'hostUts' | 'osHostname'>;

/**
 * Async because, without --hostname or SCOPE_HOSTNAME, the host's UTS namespace is asked for its
 * hostname (setns+uname on a short-lived worker thread).
 */
export async function parseServeConfig(argv: readonly string[], env: NodeJS.ProcessEnv, probe: HostnameProbe = {}): Promise<ServeConfig | 'help'> {
  const v = parseFlags(argv, ['plugins-root', 'plugin-id', 'hostname', 'interval', 'full-rescan', 'proc', 'topologies', 'process-nodes', 'log-level', 'log-format']);
  if (v === 'help') return v;
  const proc = str(v['proc']) ?? '/proc';
  const host = await resolveHostname({ flag: str(v['hostname']), env, proc: path.resolve(proc), ...probe });
  const levelFromFlag = str(v['log-level']);
  const formatFromFlag = str(v['log-format']);
  return validate(
    serveSchema,
    {
      pluginsRoot: str(v['plugins-root']) ?? DEFAULT_PLUGINS_ROOT,
      pluginId: str(v['plugin-id']) ?? DEFAULT_PLUGIN_ID,
      hostname: host.hostname,
      hostnameSource: host.source,
      hostnameFallback: host.fallback,
      intervalMs: str(v['interval']) ?? DEFAULT_INTERVAL,
      fullRescanMs: str(v['full-rescan']) ?? DEFAULT_FULL_RESCAN,
      proc,
      topologies: str(v['topologies']) ?? DEFAULT_TOPOLOGIES,
      processNodes: str(v['process-nodes']) ?? 'distinct',
      logLevel: levelFromFlag ?? envStr(env, 'LOG_LEVEL') ?? 'info',
      logFormat: formatFromFlag ?? envStr(env, 'LOG_FORMAT') ?? 'auto',
    },
    {
      hostname: hostnameSourceName(host.source, proc),
      logLevel: levelFromFlag !== undefined ? '--log-level' : 'LOG_LEVEL',
      logFormat: formatFromFlag !== undefined ? '--log-format' : 'LOG_FORMAT',
    },
  );
}

export async function parseReportConfig(argv: readonly string[], env: NodeJS.ProcessEnv, probe: HostnameProbe = {}): Promise<ReportConfig | 'help'> {
  const v = parseFlags(argv, ['proc', 'hostname', 'plugin-id', 'topologies', 'process-nodes']);
  if (v === 'help') return v;
  const proc = str(v['proc']) ?? '/proc';
  const host = await resolveHostname({ flag: str(v['hostname']), env, proc: path.resolve(proc), ...probe });
  return validate(
    reportSchemaCli,
    {
      proc,
      hostname: host.hostname,
      hostnameSource: host.source,
      hostnameFallback: host.fallback,
      pluginId: str(v['plugin-id']) ?? DEFAULT_PLUGIN_ID,
      topologies: str(v['topologies']) ?? DEFAULT_TOPOLOGIES,
      processNodes: str(v['process-nodes']) ?? 'distinct',
    },
    { hostname: hostnameSourceName(host.source, proc) },
  );
}

export function parseCheckConfig(argv: readonly string[]): CheckConfig | 'help' {
  const v = parseFlags(argv, ['plugins-root', 'plugin-id', 'socket', 'timeout', 'max-age']);
  if (v === 'help') return v;
  return validate(
    checkSchema,
    {
      pluginsRoot: str(v['plugins-root']) ?? DEFAULT_PLUGINS_ROOT,
      pluginId: str(v['plugin-id']) ?? DEFAULT_PLUGIN_ID,
      socket: str(v['socket']),
      timeoutMs: str(v['timeout']) ?? '2s',
      maxAgeMs: str(v['max-age']),
    },
    {},
  );
}
