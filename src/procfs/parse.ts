/**
 * Pure parsers for the /proc files the scanner reads. No I/O here: every function takes
 * the file's text and returns a value or null when the text is not what the kernel writes.
 */
import { isNsType, type NsLink, type NsType } from './types.js';

/** A pid directory name: digits only, no leading zero, fits a pid_t. */
export function parsePidName(name: string): number | null {
  if (!/^[1-9][0-9]{0,9}$/.test(name)) return null;
  const pid = Number(name);
  return pid <= 0x7fffffff ? pid : null;
}

/** Parses the target of an ns link, e.g. `net:[4026531840]`. `expected` guards against a link
 * whose type disagrees with its file name (garbage in a fixture, or a bind mount trick). */
export function parseNsLink(text: string, expected?: NsType): NsLink | null {
  // Hand-rolled rather than a regex: this runs eight times per process on every scan.
  const colon = text.indexOf(':[');
  if (colon <= 0 || text.charCodeAt(text.length - 1) !== 0x5d /* ] */) return null;
  const type = text.slice(0, colon);
  if (expected !== undefined ? type !== expected : !isNsType(type)) return null;
  const digits = text.length - 1 - (colon + 2);
  if (digits < 1 || digits > 20) return null;
  let ino = 0;
  for (let i = colon + 2; i < text.length - 1; i++) {
    const d = text.charCodeAt(i) - 0x30;
    if (d < 0 || d > 9) return null;
    ino = ino * 10 + d;
  }
  if (!Number.isSafeInteger(ino) || ino <= 0) return null;
  return { type: type as NsType, ino };
}

export interface StatFields {
  comm: string;
  state: string;
  ppid: number;
  startTime: number;
}

/**
 * Parses /proc/<pid>/stat. The comm field is wrapped in parentheses but may itself contain
 * spaces, parentheses and newlines, so the fields start after the LAST `)`.
 */
export function parseStat(text: string): StatFields | null {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return null;
  // The fields after comm, split on runs of spaces once the ends are trimmed (as
  // `.trim().split(/ +/)` would), without making a string per field: the daemon reads a stat per
  // namespace per second and needs only fields 3, 4 and 22 (state, ppid, starttime).
  let from = close + 1;
  let to = text.length;
  while (from < to && isTrimmed(text.charCodeAt(from))) from++;
  while (to > from && isTrimmed(text.charCodeAt(to - 1))) to--;
  let state: string | undefined;
  let ppidText: string | undefined;
  let startText: string | undefined;
  let field = 0;
  let i = from;
  while (i <= to && field <= 19) {
    let j = i;
    while (j < to && text.charCodeAt(j) !== 0x20) j++;
    if (field === 0) state = text.slice(i, j);
    else if (field === 1) ppidText = text.slice(i, j);
    else if (field === 19) startText = text.slice(i, j);
    field++;
    if (j >= to) break;
    i = j;
    while (i < to && text.charCodeAt(i) === 0x20) i++;
  }
  if (state === undefined || state.length !== 1 || ppidText === undefined || startText === undefined) return null;
  if (!/^-?[0-9]+$/.test(ppidText) || !/^[0-9]+$/.test(startText)) return null;
  const ppid = Number(ppidText);
  const startTime = Number(startText);
  if (!Number.isSafeInteger(ppid) || ppid < 0 || !Number.isSafeInteger(startTime)) return null;
  return { comm: text.slice(open + 1, close), state, ppid, startTime };
}

/** What String.prototype.trim removes (WhiteSpace and LineTerminator). */
function isTrimmed(c: number): boolean {
  if (c <= 0xff) return (c >= 0x09 && c <= 0x0d) || c === 0x20 || c === 0xa0;
  return c === 0x1680 || (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000 || c === 0xfeff;
}

/** Effective uid from /proc/<pid>/status (`Uid:` real, effective, saved, fs). */
export function parseStatusEuid(text: string): number | null {
  const m = /^Uid:[ \t]+([0-9]+)[ \t]+([0-9]+)[ \t]+[0-9]+[ \t]+[0-9]+[ \t]*$/m.exec(text);
  if (!m) return null;
  const euid = Number(m[2]);
  return Number.isSafeInteger(euid) && euid <= 0xffffffff ? euid : null;
}

/**
 * /proc/<pid>/cmdline holds argv joined by NULs. lsns shows it with every NUL turned into a
 * space and the trailing NUL dropped; an empty cmdline (kernel threads, zombies) means
 * "use comm". A process may rewrite its argv area, so trailing garbage is kept as the kernel gives it.
 */
export function cmdlineToCommand(raw: string): string {
  let s = raw;
  if (s.endsWith('\0')) s = s.slice(0, -1);
  return s.replace(/\0/g, ' ');
}

/** One passwd entry per line: name:passwd:uid:... Returns uid -> first name seen (as getpwuid). */
export function parsePasswd(text: string): Map<number, string> {
  const users = new Map<number, string>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const fields = line.split(':');
    const name = fields[0];
    const uidText = fields[2];
    if (fields.length < 4 || name === undefined || name === '' || uidText === undefined) continue;
    // NSS compat lines (+user, -user, +@group) are not local entries.
    if (name.startsWith('+') || name.startsWith('-')) continue;
    if (!/^[0-9]{1,10}$/.test(uidText)) continue;
    const uid = Number(uidText);
    if (uid > 0xffffffff || users.has(uid)) continue;
    users.set(uid, name);
  }
  return users;
}
