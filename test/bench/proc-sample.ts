/** Figures of other processes from /proc, for the bench: parsers (pure) and their thin readers. */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';

/**
 * utime+stime (clock ticks) from a /proc/<pid>/stat line: fields 14 and 15. The comm field (2) may
 * hold spaces and parentheses, so count from its last ')'. NaN when the line is malformed.
 */
export function parseStatCpuTicks(stat: string): number {
  const close = stat.lastIndexOf(')');
  if (close < 0) return Number.NaN;
  // After "pid (comm) " the first field is state (field 3): utime is index 11, stime index 12.
  const rest = stat
    .slice(close + 2)
    .trim()
    .split(/\s+/);
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  return rest.length >= 13 && Number.isInteger(utime) && Number.isInteger(stime) ? utime + stime : Number.NaN;
}

/** A `Name:   <n> kB` field of /proc/<pid>/status, in kB; NaN when absent. */
export function parseStatusKb(status: string, field: string): number {
  const m = new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, 'm').exec(status);
  return m ? Number(m[1]) : Number.NaN;
}

export const cpuTicks = (pid: number): number => parseStatCpuTicks(fs.readFileSync(`/proc/${pid}/stat`, 'latin1'));

export function memoryKb(pid: number): { rssKb: number; hwmKb: number } {
  const text = fs.readFileSync(`/proc/${pid}/status`, 'latin1');
  return { rssKb: parseStatusKb(text, 'VmRSS'), hwmKb: parseStatusKb(text, 'VmHWM') };
}

export function clockTicksPerSec(): number {
  const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  const n = Number(r.stdout?.trim());
  return Number.isInteger(n) && n > 0 ? n : 100;
}

export function countProcesses(): number {
  return fs.readdirSync('/proc').filter((n) => n.charCodeAt(0) >= 48 && n.charCodeAt(0) <= 57).length;
}
