/**
 * What the kernel's pid allocator tells about pid reuse between two moments, from three counters
 * procfs publishes (see native-notes/procfs.md, "Pid reuse between incremental scans"):
 *
 * - `/proc/sys/kernel/ns_last_pid`: the last pid handed out in the reader's pid namespace;
 * - `/proc/sys/kernel/pid_max`: pids are allocated cyclically, each the first free one above the
 *   previous, up to pid_max - 1, then again from RESERVED_PIDS (300);
 * - the `processes` line of `/proc/stat`: forks (threads included) since boot;
 * - the 4th field of `/proc/loadavg`, `running/total`: total is the number of tasks (threads
 *   included), i.e. the pids in use.
 *
 * If the allocator did not wrap between two readings, every pid created in between lies in
 * (last0, last1], so a pid seen before outside that range is still the same process. The allocator
 * cannot have wrapped when last1 >= last0 and fewer pids were allocated than the cursor would have
 * had to pass to come round again: going round means passing every pid of [300, pid_max), each
 * either allocated (a fork) or skipped because in use, and a pid in use was either alive at the
 * first reading (at most `tasks0` of them) or created since (a fork). Pure: parsers and the bound
 * are tested on strings and numbers.
 */

/** The kernel's RESERVED_PIDS: after wrapping, the host pid namespace allocates from 300 again. */
export const RESERVED_PIDS = 300;

/** Tasks that may have started between the reads of the counters and of /proc (generous). */
const READ_SLACK = 256;

export interface PidAllocState {
  /** ns_last_pid. */
  lastPid: number;
  /** pid_max. */
  pidMax: number;
  /** Forks since boot (`processes` in /proc/stat). */
  forks: number;
  /** Tasks (threads included) alive, from /proc/loadavg. */
  tasks: number;
}

function nonNegativeInt(text: string): number | null {
  const t = text.trim();
  if (!/^\d{1,15}$/.test(t)) return null;
  return Number(t);
}

/** `/proc/sys/kernel/ns_last_pid` or `pid_max`: one decimal number and a newline. */
export function parseKernelNumber(text: string): number | null {
  return nonNegativeInt(text);
}

/** The `processes N` line of /proc/stat. */
export function parseForks(statText: string): number | null {
  let at = statText.startsWith('processes ') ? 0 : statText.indexOf('\nprocesses ');
  if (at < 0) return null;
  if (at > 0) at += 1;
  const end = statText.indexOf('\n', at);
  return nonNegativeInt(statText.slice(at + 'processes '.length, end < 0 ? undefined : end));
}

/** Total tasks from /proc/loadavg (`0.00 0.01 0.05 1/123 4567`). */
export function parseLoadavgTasks(text: string): number | null {
  const fields = text.trim().split(/\s+/);
  const rt = fields[3];
  if (fields.length !== 5 || rt === undefined) return null;
  const slash = rt.indexOf('/');
  if (slash < 0) return null;
  return nonNegativeInt(rt.slice(slash + 1));
}

/** Runnable tasks right now from /proc/loadavg's 4th field (`running/total`; the reader itself is one of them). */
export function parseLoadavgRunning(text: string): number | null {
  const fields = text.trim().split(/\s+/);
  const rt = fields[3];
  if (fields.length !== 5 || rt === undefined) return null;
  const slash = rt.indexOf('/');
  if (slash < 0) return null;
  return nonNegativeInt(rt.slice(0, slash));
}

export type ReuseVerdict =
  /** No wrap possible: only pids in (from, to] can be new processes under an old number. */
  { safe: true; from: number; to: number } | { safe: false; why: string };

/** Whether pids seen at `before` still name the same processes at `after`, except in (from, to]. */
export function reuseBound(before: PidAllocState | null, after: PidAllocState | null): ReuseVerdict {
  if (before === null || after === null) return { safe: false, why: 'pid allocator counters unreadable' };
  if (before.pidMax !== after.pidMax) return { safe: false, why: 'pid_max changed' };
  if (after.forks < before.forks) return { safe: false, why: 'fork counter went back' };
  if (after.lastPid < before.lastPid) return { safe: false, why: 'pid allocator wrapped' };
  const forks = after.forks - before.forks;
  // The cursor going round would pass every pid of [300, pid_max): each allocated (a fork) or in
  // use by a task alive at `before` (a task created since is a fork already counted).
  // The three counters are not read atomically: allow for tasks started while they were read.
  const cycle = before.pidMax - RESERVED_PIDS;
  if (forks + before.tasks + READ_SLACK >= cycle) return { safe: false, why: 'too many forks to rule out a wrap' };
  return { safe: true, from: before.lastPid, to: after.lastPid };
}
