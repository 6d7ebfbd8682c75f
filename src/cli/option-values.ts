/**
 * What the values of options may be: zod schemas that check the text given on the command line or
 * in the environment and turn it into the value the configuration holds (milliseconds, an
 * absolute path, topology names in canonical order). Messages say what is wrong with the value;
 * config.ts prefixes them with the flag or variable it came from.
 */
import * as path from 'node:path';
import { z } from 'zod';
import { PLUGIN_ID_RE } from '../scope/report.js';
import { PROCESS_NODES_MODES, TOPOLOGY_NAMES, type TopologyName } from '../scope/topologies.js';

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const LOG_FORMATS = ['json', 'pretty', 'auto'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** `500ms`, `5s`, `1.5s`, `2m`, `1h`; a bare number is seconds. null when malformed. */
export function parseDuration(text: string): number | null {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(text);
  if (!m || m[1] === undefined) return null;
  const ms = Number(m[1]) * (UNITS[m[2] ?? 's'] ?? 1000);
  return Number.isFinite(ms) ? Math.round(ms) : null;
}

/** A duration within [minMs, maxMs], in milliseconds. */
export const duration = (minMs: number, maxMs: number) =>
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

export const pluginId = z.string().regex(PLUGIN_ID_RE, "must match Scope's plugin id rule ^[A-Za-z0-9]+(-[A-Za-z0-9]+)*$ (letters and digits, single dashes between)");

export const absolutePath = z
  .string()
  .min(1, 'must not be empty')
  .transform((p) => path.resolve(p));

export const hostname = z
  .string()
  .min(1, 'must not be empty')
  .max(253, 'is longer than 253 characters')
  .refine((h) => !/[;\s\p{Cc}]/u.test(h), { error: "must not contain ';', whitespace or control characters" });

/** `host,process,container,pod` (any non-empty subset, any order, no repeats) -> names in canonical order. */
export const topologies = z.string().transform((text, ctx): TopologyName[] => {
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

export const processNodes = z.enum(PROCESS_NODES_MODES, { error: `must be one of ${PROCESS_NODES_MODES.join(', ')}` });
export const logLevel = z.enum(LOG_LEVELS, { error: `must be one of ${LOG_LEVELS.join(', ')}` });
export const logFormat = z.enum(LOG_FORMATS, { error: `must be one of ${LOG_FORMATS.join(', ')}` });
