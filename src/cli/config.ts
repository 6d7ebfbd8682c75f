/**
 * Configuration of `serve`, `report` and `check`: each option (options.ts) from its flag, else its
 * environment variable, else its default, validated by zod. Every problem is reported as
 * `<flag or variable>: <what is wrong>`; callers exit EXIT_USAGE.
 */
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { HOSTNAME_SOURCES, hostnameSourceName, resolveHostname, type HostnameInputs } from '../scope/host.js';
import { MAX_SOCKET_PATH_BYTES, socketPathFor } from '../server/socket.js';
import { COMMAND_OPTIONS, OPTIONS, optionShape, type OptionKey, type OptionSpec } from './options.js';

export { EXIT_USAGE } from './exit-codes.js';

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
    this.name = 'ConfigError';
  }
}

/** The refinements' own field: the path the plugins root and the plugin id make together. */
const SOCKET_PATH_NAME = `${OPTIONS.pluginsRoot.flag}/${OPTIONS.pluginId.flag}`;

const socketLength = (c: { pluginsRoot: string; pluginId: string }, ctx: z.RefinementCtx): void => {
  const p = socketPathFor(c.pluginsRoot, c.pluginId);
  const n = Buffer.byteLength(p);
  if (n > MAX_SOCKET_PATH_BYTES) {
    ctx.addIssue({ code: 'custom', path: ['socketPath'], message: `socket path ${p} is ${n} bytes; unix sockets allow at most ${MAX_SOCKET_PATH_BYTES}` });
  }
};

const hostIdentity = {
  hostnameSource: z.enum(HOSTNAME_SOURCES),
  /** Why the host UTS namespace's hostname was not used (source 'os'), for the start-up log. */
  hostnameFallback: z.string().optional(),
};

export const serveSchema = z
  .object({ ...optionShape(COMMAND_OPTIONS.serve), ...hostIdentity })
  .superRefine(socketLength)
  .superRefine((c, ctx) => {
    if (c.fullRescanMs < c.intervalMs) ctx.addIssue({ code: 'custom', path: ['fullRescanMs'], message: `must not be shorter than ${OPTIONS.intervalMs.flag} (${c.intervalMs / 1000} s)` });
  });
export type ServeConfig = z.output<typeof serveSchema>;

export const reportSchemaCli = z.object({ ...optionShape(COMMAND_OPTIONS.report), ...hostIdentity });
export type ReportConfig = z.output<typeof reportSchemaCli>;

export const checkSchema = z.object(optionShape(COMMAND_OPTIONS.check)).superRefine((c, ctx) => {
  if (c.socket === undefined) socketLength(c, ctx);
  else if (Buffer.byteLength(c.socket) > MAX_SOCKET_PATH_BYTES) {
    ctx.addIssue({ code: 'custom', path: ['socket'], message: `is longer than ${MAX_SOCKET_PATH_BYTES} bytes` });
  }
});
export type CheckConfig = z.output<typeof checkSchema>;

/** The text of each field before validation, and what to call each field in messages. */
interface RawConfig {
  raw: Record<string, string | undefined>;
  names: Record<string, string>;
}

function validate<S extends z.ZodType>(schema: S, { raw, names }: RawConfig): z.output<S> {
  const r = schema.safeParse(raw);
  if (r.success) return r.data;
  throw new ConfigError(
    r.error.issues.map((i) => {
      const key = String(i.path[0] ?? '');
      const name = key === 'socketPath' ? SOCKET_PATH_NAME : (names[key] ?? key);
      const input = raw[key];
      const shown = typeof input === 'string' && !i.message.includes(`'${input}'`) && key !== 'socketPath' ? ` (got '${input}')` : '';
      return `${name}: ${i.message}${shown}`;
    }),
  );
}

type FlagValues = Record<string, string | boolean | undefined>;

const flagName = (spec: OptionSpec): string => spec.flag.slice(2);

function parseFlags(argv: readonly string[], keys: readonly OptionKey[]): FlagValues | 'help' {
  const options: Record<string, { type: 'string' } | { type: 'boolean'; short?: string }> = { help: { type: 'boolean', short: 'h' } };
  for (const k of keys) options[flagName(OPTIONS[k])] = { type: 'string' };
  let values: FlagValues;
  try {
    ({ values } = parseArgs({ args: [...argv], options, strict: true, allowPositionals: false }) as { values: FlagValues });
  } catch (err) {
    throw new ConfigError([(err as Error).message]);
  }
  return values['help'] === true ? 'help' : values;
}

const envValue = (env: NodeJS.ProcessEnv, name: string | undefined): string | undefined => {
  const v = name === undefined ? undefined : env[name];
  return v === undefined || v === '' ? undefined : v;
};

/** Each option from its flag, else its variable (when not empty), else its default. */
function gather(keys: readonly OptionKey[], values: FlagValues, env: NodeJS.ProcessEnv): RawConfig {
  const raw: RawConfig['raw'] = {};
  const names: RawConfig['names'] = {};
  for (const k of keys) {
    const spec: OptionSpec = OPTIONS[k];
    const fromFlag = values[flagName(spec)];
    const fromEnv = envValue(env, spec.env);
    if (typeof fromFlag === 'string') {
      raw[k] = fromFlag;
      names[k] = spec.flag;
    } else if (fromEnv !== undefined && spec.env !== undefined) {
      raw[k] = fromEnv;
      names[k] = spec.env;
    } else {
      raw[k] = spec.default;
      names[k] = spec.flag;
    }
  }
  return { raw, names };
}

/** Test seams for the host identity (see scope/host.ts); by default the live host is asked. */
export type HostnameProbe = Pick<HostnameInputs, 'hostUts' | 'osHostname'>;

/**
 * The options of a command that names the host node. Async because, without --hostname or
 * SCOPE_HOSTNAME, the host's UTS namespace is asked for its hostname (setns+uname on a
 * short-lived worker thread).
 */
async function gatherWithHost(keys: readonly OptionKey[], argv: readonly string[], env: NodeJS.ProcessEnv, probe: HostnameProbe): Promise<RawConfig | 'help'> {
  const values = parseFlags(argv, keys);
  if (values === 'help') return values;
  const config = gather(keys, values, env);
  const proc = config.raw['proc'] ?? OPTIONS.proc.default;
  const fromFlag = values[flagName(OPTIONS.hostname)];
  const host = await resolveHostname({ flag: typeof fromFlag === 'string' ? fromFlag : undefined, env, proc: path.resolve(proc), ...probe });
  config.raw['hostname'] = host.hostname;
  config.raw['hostnameSource'] = host.source;
  config.raw['hostnameFallback'] = host.fallback;
  config.names['hostname'] = hostnameSourceName(host.source, proc);
  return config;
}

export async function parseServeConfig(argv: readonly string[], env: NodeJS.ProcessEnv, probe: HostnameProbe = {}): Promise<ServeConfig | 'help'> {
  const config = await gatherWithHost(COMMAND_OPTIONS.serve, argv, env, probe);
  return config === 'help' ? config : validate(serveSchema, config);
}

export async function parseReportConfig(argv: readonly string[], env: NodeJS.ProcessEnv, probe: HostnameProbe = {}): Promise<ReportConfig | 'help'> {
  const config = await gatherWithHost(COMMAND_OPTIONS.report, argv, env, probe);
  return config === 'help' ? config : validate(reportSchemaCli, config);
}

/** None of `check`'s options has an environment variable. */
export function parseCheckConfig(argv: readonly string[]): CheckConfig | 'help' {
  const values = parseFlags(argv, COMMAND_OPTIONS.check);
  return values === 'help' ? values : validate(checkSchema, gather(COMMAND_OPTIONS.check, values, {}));
}
