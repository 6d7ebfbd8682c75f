/**
 * The container a cgroup file names, parsed once per distinct text, and the text to keep:
 * processes of one service or container have the same file (every host process has the same one),
 * so one string serves them all (~170 bytes per process otherwise), and a re-read process's
 * unchanged file comes back as that very string (ProcReader.readCgroup). Bounded: cleared when it
 * holds too many texts.
 */
import { parseCgroupFile, type ContainerRef } from '../../procfs/cgroup.js';

/** Distinct cgroup file texts whose parse is kept. */
export const MAX_CGROUP_TEXTS = 4096;

export interface ParsedCgroup {
  /** The one string kept for every process with this file. */
  text: string;
  ref: ContainerRef | null;
}

export class CgroupCache {
  private readonly parsed = new Map<string, ParsedCgroup>();

  constructor(private readonly max = MAX_CGROUP_TEXTS) {}

  parse(text: string): ParsedCgroup {
    const known = this.parsed.get(text);
    if (known !== undefined) return known;
    if (this.parsed.size >= this.max) this.parsed.clear();
    const parsed = { text, ref: parseCgroupFile(text) };
    this.parsed.set(text, parsed);
    return parsed;
  }

  get size(): number {
    return this.parsed.size;
  }
}

/** Whether two cgroup parses name the same container (null: none; undefined: unread). */
export function sameContainer(a: ContainerRef | null | undefined, b: ContainerRef | null | undefined): boolean {
  if (a === b) return true;
  if (!a || !b) return false;
  return a.id === b.id && a.runtime === b.runtime && a.podUid === b.podUid;
}
