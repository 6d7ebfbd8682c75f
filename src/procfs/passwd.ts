/**
 * User names for the USER column. Inside a container /etc/passwd is the container's, so prefer the
 * passwd of a process in the host's initial mount namespace, reached through procfs.
 */
import * as path from 'node:path';
import { parsePasswd } from './parse.js';
import { readCapped } from './reader.js';

/** A passwd file larger than this is not a passwd file we should trust or hold in memory. */
const PASSWD_LIMIT = 16 * 1024 * 1024;

export interface UserNames {
  /** Where the names came from, for logs and `capture`. null: no passwd readable at all. */
  source: string | null;
  name(uid: number): string;
}

/** Candidate passwd files, best first: pid 1's root, then kthreadd's (pid 1 can be unreadable
 * even for root, as on some VMs), then our own. */
export function passwdCandidates(procRoot: string): string[] {
  return [path.join(procRoot, '1', 'root', 'etc', 'passwd'), path.join(procRoot, '2', 'root', 'etc', 'passwd'), '/etc/passwd'];
}

export function userNamesFromText(text: string, source: string | null): UserNames {
  const users = parsePasswd(text);
  return { source, name: (uid) => users.get(uid) ?? String(uid) };
}

export function loadUserNames(candidates: readonly string[]): UserNames {
  for (const file of candidates) {
    let text: string;
    try {
      text = readCapped(file, PASSWD_LIMIT).toString('latin1');
    } catch {
      continue;
    }
    return userNamesFromText(text, file);
  }
  return userNamesFromText('', null);
}
