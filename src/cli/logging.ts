/**
 * Logs: pino JSON lines on stderr (fd 2, synchronous, so nothing is lost on exit), or for humans a
 * compact `HH:MM:SS LEVEL msg key=val` rendering of the same records (no pino-pretty needed).
 */
import * as fs from 'node:fs';
import { pino, type DestinationStream, type Logger } from 'pino';
import type { LogFormat, LogLevel } from './option-values.js';

const LEVEL_NAMES: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const HIDDEN = new Set(['level', 'time', 'msg', 'pid']);

function plain(v: unknown): string {
  if (typeof v === 'string') return /^[^\s"=]+$/.test(v) ? v : JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean' || v === null) return String(v);
  return JSON.stringify(v);
}

const two = (n: number): string => String(n).padStart(2, '0');

/** One pino JSON record -> one (or, with a stack, several) human lines. */
export function prettyLine(json: string): string {
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json.endsWith('\n') ? json : json + '\n';
  }
  const time = rec['time'];
  const t = new Date(typeof time === 'number' || typeof time === 'string' ? time : Date.now());
  const level = LEVEL_NAMES[typeof rec['level'] === 'number' ? rec['level'] : 30] ?? String(rec['level']);
  let out = `${two(t.getHours())}:${two(t.getMinutes())}:${two(t.getSeconds())} ${level.padEnd(5)} ${typeof rec['msg'] === 'string' ? rec['msg'] : ''}`;
  let stack = '';
  for (const [k, v] of Object.entries(rec)) {
    if (HIDDEN.has(k) || v === undefined) continue;
    if (k === 'err' && typeof v === 'object' && v !== null) {
      const e = v as { message?: unknown; stack?: unknown };
      out += ` err=${plain(e.message)}`;
      if (typeof e.stack === 'string') stack = '\n' + e.stack.replace(/^/gm, '    ');
      continue;
    }
    out += ` ${k}=${plain(v)}`;
  }
  return out + stack + '\n';
}

class PrettyStderr implements DestinationStream {
  write(msg: string): void {
    fs.writeSync(2, prettyLine(msg));
  }
}

export function createLogger(level: LogLevel, format: LogFormat, isTty = process.stderr.isTTY): Logger {
  const pretty = format === 'pretty' || (format === 'auto' && isTty);
  const dest: DestinationStream = pretty ? new PrettyStderr() : pino.destination({ dest: 2, sync: true });
  return pino({ level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime }, dest);
}
