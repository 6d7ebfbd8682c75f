/**
 * Every option of `serve`, `report` and `check`, declared once: its flag, the environment variable
 * read when the flag is absent, its default, the schema its value must pass, and its help line.
 * Parsing (config.ts), each command's `--help` and the README's options table (checked by a test)
 * all come from this table.
 */
import type { z } from 'zod';
import { HOSTNAME_ENV } from '../scope/host.js';
import { DEFAULT_PLUGIN_ID } from '../scope/report.js';
import { TOPOLOGY_NAMES } from '../scope/topologies.js';
import { absolutePath, duration, hostname, LOG_FORMATS, LOG_LEVELS, logFormat, logLevel, pluginId, processNodes, topologies } from './option-values.js';

export interface OptionSpec {
  /** With its dashes: `--plugins-root`. */
  readonly flag: `--${string}`;
  /** What the value is, in help and the README: `DIR`. */
  readonly arg: string;
  /** Read when the flag is absent (flags win); an empty value counts as unset. */
  readonly env?: string;
  /** The text used when neither flag nor variable is given, as a user would type it. */
  readonly default?: string;
  /** A default that is found rather than fixed (no `default` then), in words. */
  readonly foundDefault?: string;
  /** Checks the text and makes the configuration's value; `.optional()` when there is no default. */
  readonly schema: z.ZodType;
  readonly help: string;
}

/** A duration option's schema and the range its help names, from the same two numbers. */
function durationValue(minMs: number, maxMs: number): { schema: z.ZodType<number, string>; range: string } {
  const text = (ms: number): string => (ms % 3_600_000 === 0 ? `${ms / 3_600_000}h` : ms % 60_000 === 0 ? `${ms / 60_000}m` : ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`);
  return { schema: duration(minMs, maxMs), range: `${text(minMs)} .. ${text(maxMs)}` };
}

const interval = durationValue(1000, 3_600_000);
const fullRescan = durationValue(5000, 3_600_000);
const timeout = durationValue(50, 60_000);
const maxAge = durationValue(1000, 86_400_000);

/** Keyed by the configuration field each option sets. */
export const OPTIONS = {
  pluginsRoot: { flag: '--plugins-root', arg: 'DIR', default: '/var/run/scope/plugins', schema: absolutePath, help: "the probe's plugins root, its --probe.plugins.root" },
  pluginId: { flag: '--plugin-id', arg: 'ID', default: DEFAULT_PLUGIN_ID, schema: pluginId, help: "plugin id: the socket's name and the report's plugin spec" },
  hostname: {
    flag: '--hostname',
    arg: 'NAME',
    env: HOSTNAME_ENV,
    foundDefault: "the host's hostname",
    schema: hostname,
    help: "host node name, <NAME>;<host>; the host's hostname is that of its UTS namespace (via <proc>/1 or 2), else os.hostname()",
  },
  intervalMs: {
    flag: '--interval',
    arg: 'DURATION',
    default: '1s',
    schema: interval.schema,
    help: `incremental refresh period, e.g. 1s, 5s, 1m (${interval.range}): new and exited processes and their namespaces show within it`,
  },
  fullRescanMs: {
    flag: '--full-rescan',
    arg: 'DURATION',
    default: '30s',
    schema: fullRescan.schema,
    help: `every process's namespaces are read again within this period (${fullRescan.range}, not below --interval): the longest a long-lived process's own setns/unshare can stay unseen`,
  },
  processNodes: {
    flag: '--process-nodes',
    arg: 'MODE',
    default: 'distinct',
    schema: processNodes,
    help: "distinct: a Process node for a process outside containers with a namespace that is not the host's, and for a process in a container with a namespace that is not its container's (the Container node shows the others'); isolated: every process in a container or with a non-host namespace; all: every process, for small hosts",
  },
  proc: { flag: '--proc', arg: 'DIR', default: '/proc', schema: absolutePath, help: 'procfs to scan' },
  topologies: {
    flag: '--topologies',
    arg: 'LIST',
    default: TOPOLOGY_NAMES.join(','),
    schema: topologies,
    help: `which Scope topologies to report: any of ${TOPOLOGY_NAMES.join(',')}, comma-separated`,
  },
  logLevel: { flag: '--log-level', arg: 'LEVEL', env: 'LOG_LEVEL', default: 'info', schema: logLevel, help: LOG_LEVELS.join('|') },
  logFormat: { flag: '--log-format', arg: 'FORMAT', env: 'LOG_FORMAT', default: 'auto', schema: logFormat, help: `${LOG_FORMATS.join('|')}; auto is pretty on a terminal` },
  socket: { flag: '--socket', arg: 'PATH', schema: absolutePath.optional(), help: 'the socket, instead of <plugins-root>/<id>/<id>.sock' },
  timeoutMs: { flag: '--timeout', arg: 'DURATION', default: '2s', schema: timeout.schema, help: `answer deadline, ${timeout.range}; the probe's own is 500ms` },
  maxAgeMs: { flag: '--max-age', arg: 'DURATION', schema: maxAge.schema.optional(), help: `also fail when the served snapshot is older than this, ${maxAge.range}` },
} as const satisfies Record<string, OptionSpec>;

export type OptionKey = keyof typeof OPTIONS;

/** Each command's options, in the order its help lists them. */
export const COMMAND_OPTIONS = {
  serve: ['pluginsRoot', 'pluginId', 'hostname', 'intervalMs', 'fullRescanMs', 'processNodes', 'proc', 'topologies', 'logLevel', 'logFormat'],
  report: ['proc', 'hostname', 'pluginId', 'topologies', 'processNodes'],
  check: ['pluginsRoot', 'pluginId', 'socket', 'timeoutMs', 'maxAgeMs'],
} as const satisfies Record<string, readonly OptionKey[]>;

export type OptionCommand = keyof typeof COMMAND_OPTIONS;

/** The zod shape of a command's options: each field with its option's schema. */
export function optionShape<K extends OptionKey>(keys: readonly K[]): { [P in K]: (typeof OPTIONS)[P]['schema'] } {
  return Object.fromEntries(keys.map((k) => [k, OPTIONS[k].schema])) as { [P in K]: (typeof OPTIONS)[P]['schema'] };
}

const HELP_WIDTH = 96;

/** `text` after `head` (padded to `indent` columns), in lines of at most HELP_WIDTH indented alike. */
function wrap(head: string, text: string, indent: number): string {
  const lines: string[] = [];
  let line = head.padEnd(indent);
  let empty = true;
  for (const word of text.split(' ')) {
    if (!empty && line.length + 1 + word.length > HELP_WIDTH) {
      lines.push(line);
      line = ' '.repeat(indent);
      empty = true;
    }
    line += (empty ? '' : ' ') + word;
    empty = false;
  }
  lines.push(line);
  return lines.join('\n') + '\n';
}

/** What help says about an option's environment variable and default. */
function sources(spec: OptionSpec): string {
  const parts = [
    ...(spec.env !== undefined ? [`env ${spec.env}`] : []),
    ...(spec.default !== undefined ? [`default ${spec.default}`] : spec.foundDefault !== undefined ? [`default ${spec.foundDefault}`] : []),
  ];
  return parts.length > 0 ? ` (${parts.join(', ')})` : '';
}

/** A command's `--help`: usage, what it does, then every option from the table. */
export function commandHelp(command: OptionCommand, about: string): string {
  const specs: readonly OptionSpec[] = COMMAND_OPTIONS[command].map((k) => OPTIONS[k]);
  const heads = specs.map((s) => `  ${s.flag} ${s.arg}`);
  const indent = Math.max(...heads.map((h) => h.length)) + 2;
  const options = specs.map((s, i) => wrap(heads[i] ?? '', s.help + sources(s), indent)).join('');
  return `Usage: scope-namespaces ${command} [options]\n\n${about}\n\nOptions:\n${options}${wrap('  -h, --help', 'this text', indent)}`;
}
