/**
 * Pure parser for /proc/<pid>/mountinfo, reduced to what the namespace scanner needs: the nsfs
 * mounts, i.e. namespaces pinned by a bind mount (`ip netns add x` -> /run/netns/x).
 * Line format (proc(5)): id parent major:minor root mountpoint options [optional...] - fstype source superoptions
 */
import { parseNsLink } from './parse.js';
import type { NsType } from './types.js';

export interface NsfsMount {
  type: NsType;
  ino: number;
  /** Mount point as the kernel shows it, with \040-style escapes decoded (byte string). */
  mountPoint: string;
  /** major:minor of the nsfs superblock. */
  dev: string;
}

/** mountinfo escapes space, tab, newline and backslash as \ooo octal. */
export function unescapeMountField(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8) & 0xff));
}

export function parseNsfsMounts(text: string): NsfsMount[] {
  const out: NsfsMount[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const fields = line.split(' ');
    const sep = fields.indexOf('-', 6);
    // After the separator the kernel always writes fstype, source and super options.
    if (sep < 0 || fields.length < sep + 4) continue;
    if (fields[sep + 1] !== 'nsfs') continue;
    const dev = fields[2];
    const root = fields[3];
    const mp = fields[4];
    if (dev === undefined || root === undefined || mp === undefined || !/^[0-9]+:[0-9]+$/.test(dev)) continue;
    const link = parseNsLink(unescapeMountField(root));
    if (!link) continue;
    out.push({ type: link.type, ino: link.ino, mountPoint: unescapeMountField(mp), dev });
  }
  return out;
}
