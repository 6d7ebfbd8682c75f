/**
 * Parent and owner namespaces (PNS, ONS) and user-namespace owners, walked with ioctl_ns from each
 * row's ns file up to the top, so the owner/parent trees can also show ancestors no listed process
 * is in. One open per start path; every fd the kernel hands back is closed after use.
 */
import { sysClose } from '../native/fd.js';
import { nativeAvailable } from '../native/loader.js';
import { sysIoctl } from '../native/nsfs.js';
import { fail, type NativeResult } from '../native/result.js';
import { NS_GET_PARENT, NS_GET_USERNS, nsInfoFd, openNs, type NsInfo } from '../native/nsfs.js';
import { isNsType, type NsType } from '../procfs/types.js';

export interface NsRelation {
  ino: number;
  type: NsType | null;
  /** Parent (pid and user only); 0 when none or refused, as lsns prints it. */
  pns: number;
  /** Owning user namespace; 0 when none or refused. */
  ons: number;
  /** Creator uid, user namespaces only. */
  ownerUid: number | null;
}

export interface RelationProblems {
  /** errno codes seen, with a count, for one summary warning. */
  codes: Map<string, number>;
}

export class RelationWalker {
  readonly byIno = new Map<number, NsRelation>();
  readonly problems: RelationProblems = { codes: new Map() };

  private note(r: NativeResult<unknown>): void {
    if (!r.ok && r.code !== 'EPERM' && r.code !== 'EINVAL') this.problems.codes.set(r.code, (this.problems.codes.get(r.code) ?? 0) + 1);
  }

  /** Walks from the nsfs file at `path`; returns the relation of that namespace, or null. */
  fromPath(path: string): NsRelation | null {
    if (!nativeAvailable()) {
      this.note(fail('ENOSYS', 'koffi could not load libc'));
      return null;
    }
    const fd = openNs(path);
    if (!fd.ok) {
      this.note(fd);
      return null;
    }
    try {
      return this.fromFd(fd.value, 0);
    } finally {
      sysClose(fd.value);
    }
  }

  private fromFd(fd: number, depth: number): NsRelation | null {
    const info = nsInfoFd(fd);
    if (!info.ok) {
      this.note(info);
      return null;
    }
    const known = this.byIno.get(info.value.id.ino);
    if (known) return known;
    const rel = relationOf(info.value);
    this.note(info.value.owner);
    this.byIno.set(rel.ino, rel);
    // User namespaces nest at most 32 deep, pid namespaces likewise; stop well past that.
    if (depth < 64) {
      if (rel.pns !== 0 && !this.byIno.has(rel.pns)) this.follow(fd, NS_GET_PARENT, depth);
      if (rel.ons !== 0 && !this.byIno.has(rel.ons)) this.follow(fd, NS_GET_USERNS, depth);
    }
    return rel;
  }

  private follow(fd: number, request: number, depth: number): void {
    const next = sysIoctl(fd, request);
    if (!next.ok) return;
    try {
      this.fromFd(next.value, depth + 1);
    } finally {
      sysClose(next.value);
    }
  }

  /** One line for a warning, or null when nothing unexpected happened. */
  summary(): string | null {
    if (this.problems.codes.size === 0) return null;
    const parts = [...this.problems.codes].map(([code, n]) => `${code} x${n}`);
    return `parent/owner namespaces could not be read (${parts.join(', ')}); PNS/ONS show 0 there`;
  }
}

function relationOf(info: NsInfo): NsRelation {
  const type = info.type.ok && isNsType(info.type.value) ? info.type.value : null;
  return {
    ino: info.id.ino,
    type,
    pns: (type === 'pid' || type === 'user') && info.parent.ok ? info.parent.value.ino : 0,
    ons: info.owner.ok ? info.owner.value.ino : 0,
    ownerUid: info.ownerUid.ok ? info.ownerUid.value : null,
  };
}
