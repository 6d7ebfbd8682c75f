/**
 * Phase 7, representatives' details. Runs every tick after the sweep, when every process's links
 * are as current as this tick makes them.
 *
 * A namespace's row shows its lowest pid (its representative). Its details (stat, owner, command
 * line) are read when it becomes the representative, when its parent exited this tick
 * (reparenting: the only way its ppid changes), when it exited itself (zombie) and at least every
 * detailsMaxAgeMs (setuid, exec, an argv rewrite show within that). One whose details cannot be
 * read (vanished, garbage stat) is dropped, as a full scan leaves it out of every count, and the
 * next lowest is looked at, until every namespace has a readable representative.
 *
 * Changes: `repDetails` (read ones, and repTick of the ones still representatives), the members'
 * lowest pids, procs (drops); the tick's `detailsChanged`, stats.reps and stats.gone.
 */
import type { ProcDetails } from '../../../procfs/types.js';
import { dropProcess } from '../process-index.js';
import type { Phase, ScanState, TickContext } from '../state.js';

function sameDetails(a: ProcDetails, b: ProcDetails): boolean {
  return a.pid === b.pid && a.ppid === b.ppid && a.uid === b.uid && a.comm === b.comm && a.cmdline === b.cmdline && a.startTime === b.startTime;
}

/**
 * The representatives whose details must be read now; the others are marked as still
 * representatives. `readNow`: pids already read this tick (never twice), gains the returned ones.
 */
export function dueRepresentatives(s: ScanState, now: number, readNow: Set<number>): number[] {
  const due: number[] = [];
  s.members.findStaleMins(s.procs);
  s.members.byNs.forEach((m) => {
    const pid = m.min;
    if (readNow.has(pid)) return;
    const e = s.repDetails.get(pid);
    if (e === undefined || now - e.at >= s.detailsMaxAgeMs || s.exitedNow.has(pid) || s.exitedNow.has(e.d.ppid)) {
      due.push(pid);
      readNow.add(pid);
    } else {
      e.repTick = s.tickNo;
    }
  });
  return due;
}

function* readRepresentatives(s: ScanState, t: TickContext): Generator<void, void> {
  const readNow = new Set<number>();
  for (;;) {
    const due = dueRepresentatives(s, t.now, readNow);
    if (due.length === 0) break;
    for (const pid of due) {
      const before = s.repDetails.get(pid);
      const d = s.reader.readDetails(pid);
      t.stats.reps++;
      if (d === null) {
        dropProcess(s, pid);
        t.stats.gone++;
      } else {
        if (before === undefined || !sameDetails(before.d, d)) t.detailsChanged = true;
        s.repDetails.set(pid, { d, at: t.now, repTick: s.tickNo });
      }
      yield;
    }
  }
}

export const representatives: Phase = { name: 'representatives', run: readRepresentatives };
