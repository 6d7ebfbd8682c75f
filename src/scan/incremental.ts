/**
 * The daemon's scanner: the same rows as scanNamespaces (namespaces.ts), kept up to date by cheap
 * incremental ticks instead of a full walk each refresh. A tick:
 *
 * 1. reads the pid allocator's counters (procfs/pid-alloc.ts), then lists /proc;
 * 2. drops processes that are gone; reads the ns links (and cgroup) of processes it has not seen,
 *    and of every listed pid that may have been reused since the last tick: pids in the range the
 *    allocator handed out meanwhile, or all of them when a wrap cannot be ruled out (a full scan);
 * 3. reads them again for a few ticks while they are young (runtimes setns/unshare right after
 *    fork), and sweeps a slice of the others so that every process is re-verified within
 *    `fullRescanMs` (a process may setns/unshare at any time without anything else showing it);
 * 4. reads the details (stat, owner, command line) of each namespace's lowest pid when it becomes
 *    the representative, when its parent exits (reparenting: the only way its ppid changes), when
 *    it exits, and at least every detailsMaxAgeMs (setuid, exec, an argv rewrite show within that).
 *
 * So between sweeps two things can be stale: the namespaces of a process older than the young
 * window that called setns/unshare (or turned zombie) since it was last verified, at most
 * `fullRescanMs` (and its cgroup, i.e. its container, the same); and a representative's USER and
 * COMMAND after a setuid, an exec or an argv rewrite, at most detailsMaxAgeMs (and, without
 * pidfds, its PPID when its parent turned zombie but is not reaped yet, the same). Rows
 * otherwise equal a full scan.
 *
 * tick() is a generator: it yields between small units of work, so the daemon can spread a tick
 * over many short slices of its event loop and never keep a /report request waiting.
 */
import { parseCgroupFile, type ContainerRef } from '../procfs/cgroup.js';
import type { UserNames } from '../procfs/passwd.js';
import { reuseBound, type PidAllocState } from '../procfs/pid-alloc.js';
import type { ProcReader } from '../procfs/reader.js';
import { NS_TYPES, type NsLink, type NsType, type ProcDetails } from '../procfs/types.js';
import { initialNamespaces, isHostNs } from './containers.js';
import { commandOf, type NamespaceRow } from './namespaces.js';
import { PidWatcher } from '../native/pid-watch.js';

export interface IncrementalOptions {
  /** Every process's links (and cgroup) are read again at least this often. */
  fullRescanMs: number;
  /** Read /proc/<pid>/cgroup too (for the Container topology). */
  cgroups: boolean;
  /**
   * A representative's details (stat, owner, command line) are read again at least this often
   * (default DETAILS_MAX_AGE_MS), and at once when its parent exits. 0: every tick.
   */
  detailsMaxAgeMs?: number;
  /** Ticks during which a new process is read again each tick. Default 3. */
  youngTicks?: number;
  /**
   * Exits from pidfds (native/pid-watch.ts) instead of listing /proc every tick; null: list.
   * Default: a watcher when pidfd_open and epoll work and the root is a real procfs.
   */
  watcher?: PidWatcher | null;
}

/** How long a representative's details may be taken from an earlier tick (see IncrementalOptions). */
export const DETAILS_MAX_AGE_MS = 10_000;

const PID_INDEX = NS_TYPES.indexOf('pid');
const NOT_PID_TYPES: readonly NsType[] = NS_TYPES.filter((t) => t !== 'pid');

/** Distinct cgroup file texts whose parse is kept (IncrementalScanner.parseCgroup). */
const MAX_CGROUP_TEXTS = 4096;

/** A reuse range wider than this is cheaper to find by listing /proc than by probing each pid. */
const MAX_PROBED_RANGE = 2048;

interface Proc {
  /** Readable links, NS_TYPES order; empty when none could be read (left out of every row). */
  links: NsLink[];
  /** Container from the cgroup file; null: none; undefined: not read or unreadable. */
  container: ContainerRef | null | undefined;
  /** The cgroup file it was parsed from (shared with other processes that have the same). */
  cgroupText: string | undefined;
  /** Tick in which the process was first read (again, after a possible pid reuse). */
  bornTick: number;
  /** performance.now() of the last read of its links. */
  verifiedAt: number;
}

/**
 * A namespace's processes, by count: the members themselves are the processes whose links hold it
 * (a set of pids per namespace cost ~30 bytes per process and namespace: the host's eight
 * namespaces each have nearly every process).
 */
interface NsMembers {
  type: NsType;
  count: number;
  /** Lowest member pid, or -1 when it left and must be found again (staleMins). */
  min: number;
}

export interface ProcessSummary {
  /** Links of the processes a report shows (see IncrementalScanner.summary), ascending pid. */
  memberships: Map<number, NsLink[]>;
  /** Processes with readable links. */
  processes: number;
  /** Processes in only the host's namespaces and in no container. */
  hostOnly: number;
  /** Container of each process in one (ascending pid), and how many cgroup files were unreadable. */
  containers: { byPid: Map<number, ContainerRef>; unreadable: number };
}

export interface TickStats {
  /** Every listed pid was read (first tick, or pid reuse could not be ruled out). */
  full: boolean;
  /** /proc was listed (first tick, no pidfd watcher, or a possible pid wrap). */
  listedProc: boolean;
  why?: string;
  listed: number;
  /** Processes whose links were read: new, possibly reused, young, swept. */
  read: number;
  swept: number;
  gone: number;
  /** Representatives whose details were read. */
  reps: number;
  /** Rows, memberships or containers differ from the previous tick's. */
  changed: boolean;
}

/** Whether `links` (readable links, NS_TYPES order) are exactly the non-zero entries of `inos` (by NS_TYPES index). */
function sameInos(links: readonly NsLink[], inos: Float64Array): boolean {
  let j = 0;
  for (let k = 0; k < NS_TYPES.length; k++) {
    const ino = inos[k] as number;
    if (ino === 0) continue;
    const l = links[j++];
    if (l === undefined || l.ino !== ino || l.type !== NS_TYPES[k]) return false;
  }
  return j === links.length;
}

function linksOf(inos: Float64Array): NsLink[] {
  const links: NsLink[] = [];
  for (let k = 0; k < NS_TYPES.length; k++) {
    const ino = inos[k] as number;
    if (ino > 0) links.push({ type: NS_TYPES[k] as NsType, ino });
  }
  return links;
}

function sameRef(a: ContainerRef | null | undefined, b: ContainerRef | null | undefined): boolean {
  if (a === b) return true;
  if (!a || !b) return false;
  return a.id === b.id && a.runtime === b.runtime && a.podUid === b.podUid;
}

function sameDetails(a: ProcDetails, b: ProcDetails): boolean {
  return a.pid === b.pid && a.ppid === b.ppid && a.uid === b.uid && a.comm === b.comm && a.cmdline === b.cmdline && a.startTime === b.startTime;
}

function sameRow(a: NamespaceRow, b: NamespaceRow): boolean {
  return a.ns === b.ns && a.type === b.type && a.nprocs === b.nprocs && a.pid === b.pid && a.ppid === b.ppid && a.uid === b.uid && a.command === b.command && a.user === b.user;
}

export class IncrementalScanner {
  private readonly procs = new Map<number, Proc>();
  private readonly byNs = new Map<number, NsMembers>();
  /** Sorted pids of `procs` for the sweep, rebuilt when the set changed. */
  private sweepOrder: number[] = [];
  private sweepDirty = true;
  private sweepCursor = 0;
  private lastSweepAt = 0;
  private prevAlloc: PidAllocState | null = null;
  private tickNo = 0;
  private rowsNow: NamespaceRow[] = [];
  private structureChanged = true;
  private readonly youngTicks: number;
  private watcher: PidWatcher | null;
  /** Why exits are found by listing /proc rather than by pidfds (null: pidfds in use). */
  private noWatcher: string | null = null;
  /** Known processes without a pidfd (RLIMIT_NOFILE reached): looked for one by one each tick. */
  private readonly unwatched = new Set<number>();
  /** Namespaces (by inode) whose lowest pid left since the last findStaleMins. */
  private readonly staleMins = new Set<number>();
  /** Exited processes still listed (zombies): checked each tick until reaped. */
  private readonly zombies = new Set<number>();
  private readonly linkSets = new Map<string, { links: NsLink[]; refs: number }>();
  /** Pids first read within the last youngTicks ticks (read again each tick). */
  private readonly young = new Set<number>();
  /** readNsInos' row, reused. */
  private readonly inos = new Float64Array(NS_TYPES.length);
  /** readLinks' row of every type but pid, reused. */
  private readonly someInos = new Float64Array(NOT_PID_TYPES.length);
  /** Parsed cgroup files by text; `text` is the one string kept for every process with that file. */
  private readonly parsedCgroups = new Map<string, { text: string; ref: ContainerRef | null }>();
  /** Details of the representatives, when they were read, and the last tick the pid was one. */
  private readonly repDetails = new Map<number, { d: ProcDetails; at: number; repTick: number }>();
  /** Pids that exited (or turned zombie) this tick: their children were reparented. */
  private readonly exitedNow = new Set<number>();
  /** USER names changed (setUsers): rows are rebuilt at the next tick. */
  private usersChanged = false;
  private readonly detailsMaxAgeMs: number;
  private readonly keyOf = new WeakMap<NsLink[], string>();

  constructor(
    private readonly reader: ProcReader,
    private users: UserNames,
    private readonly opts: IncrementalOptions,
  ) {
    this.youngTicks = opts.youngTicks ?? 3;
    this.detailsMaxAgeMs = opts.detailsMaxAgeMs ?? DETAILS_MAX_AGE_MS;
    if (opts.watcher !== undefined) {
      this.watcher = opts.watcher;
      if (this.watcher === null) this.noWatcher = 'pidfd watcher off';
    } else if (!reader.procfs) {
      this.watcher = null;
      this.noWatcher = 'not a procfs root';
    } else {
      const w = PidWatcher.create();
      this.watcher = w instanceof PidWatcher ? w : null;
      if (!(w instanceof PidWatcher)) this.noWatcher = `pidfd_open/epoll unavailable (${w.code}: ${w.reason})`;
    }
  }

  /** null when exits come from pidfds; else why /proc is listed every tick. */
  get listingReason(): string | null {
    return this.noWatcher;
  }

  /** Known processes whose exits are looked for one by one (no pidfd to spare for them). */
  get unwatchedCount(): number {
    return this.unwatched.size;
  }

  /** RLIMIT_NOFILE raises made for pidfds (`20000 -> 65536`) and failed attempts, oldest first. */
  get fdLimitNotes(): readonly string[] {
    return this.watcher?.fdLimitNotes ?? [];
  }

  /** Releases the pidfds. */
  close(): void {
    this.watcher?.close();
    this.watcher = null;
  }

  private disableWatcher(why: string): void {
    this.unwatched.clear();
    this.watcher?.close();
    this.watcher = null;
    this.noWatcher = why;
  }

  /** Names for USER from now on (the daemon reloads passwd now and then). */
  setUsers(users: UserNames): void {
    this.users = users;
    this.usersChanged = true;
  }

  /** Rows of the last tick: process-backed namespaces, sorted by inode, like scanNamespaces. */
  get rows(): readonly NamespaceRow[] {
    return this.rowsNow;
  }

  /**
   * What the report needs from the processes, in one pass over them (no sorting of thousands of
   * pids on every rebuild): the links of every isolated process (in a container, or in a namespace
   * known not to be the host's) and of pids 1 and 2 (they give the host's namespaces), ascending;
   * of every process when `all`. Host-only processes are only counted. Whether a set of links is
   * all the host's is decided once per distinct (interned) set.
   */
  summary(all: boolean): ProcessSummary {
    const firstTwo = new Map<number, NsLink[]>();
    for (const pid of [1, 2]) {
      const p = this.procs.get(pid);
      if (p && p.links.length > 0) firstTwo.set(pid, p.links);
    }
    const initial = initialNamespaces(firstTwo);
    const hostOnlySets = new Map<NsLink[], boolean>();
    const kept: number[] = [];
    const inContainer: number[] = [];
    let processes = 0;
    let hostOnly = 0;
    let unreadable = 0;
    // forEach, not for-of: no entry array per process.
    this.procs.forEach((p, pid) => {
      if (p.links.length === 0) return;
      processes++;
      if (p.container === undefined) unreadable++;
      else if (p.container !== null) inContainer.push(pid);
      let onlyHost = hostOnlySets.get(p.links);
      if (onlyHost === undefined) {
        onlyHost = p.links.every((l) => isHostNs(initial, l.type, l.ino) !== false);
        hostOnlySets.set(p.links, onlyHost);
      }
      const isolated = !onlyHost || (p.container !== null && p.container !== undefined);
      if (!isolated) hostOnly++;
      if (all || isolated || pid <= 2) kept.push(pid);
    });
    const memberships = new Map<number, NsLink[]>();
    for (const pid of kept.sort((a, b) => a - b)) memberships.set(pid, (this.procs.get(pid) as Proc).links);
    const byPid = new Map<number, ContainerRef>();
    for (const pid of inContainer.sort((a, b) => a - b)) byPid.set(pid, (this.procs.get(pid) as Proc).container as ContainerRef);
    return { memberships, processes, hostOnly, containers: { byPid, unreadable } };
  }

  private addMember(pid: number, link: NsLink): void {
    let m = this.byNs.get(link.ino);
    if (!m) {
      m = { type: link.type, count: 0, min: pid };
      this.byNs.set(link.ino, m);
    } else if (m.min !== -1 && pid < m.min) {
      m.min = pid;
    }
    m.count++;
  }

  private removeMember(pid: number, link: NsLink): void {
    const m = this.byNs.get(link.ino);
    if (!m) return;
    m.count--;
    if (m.count <= 0) {
      this.byNs.delete(link.ino);
      this.staleMins.delete(link.ino);
    } else if (m.min === pid) {
      m.min = -1;
      this.staleMins.add(link.ino);
    }
  }

  /** The lowest pid of every namespace whose lowest left: one pass over the processes for all of them. */
  private findStaleMins(): void {
    if (this.staleMins.size === 0) return;
    const found = new Map<number, number>();
    for (const [pid, p] of this.procs) {
      for (const l of p.links) {
        if (!this.staleMins.has(l.ino)) continue;
        const min = found.get(l.ino);
        if (min === undefined || pid < min) found.set(l.ino, pid);
      }
    }
    for (const ino of this.staleMins) {
      const m = this.byNs.get(ino);
      const min = found.get(ino);
      if (m !== undefined && min !== undefined) m.min = min;
    }
    this.staleMins.clear();
  }

  /**
   * One shared, frozen array per distinct set of links: thousands of processes in the host's
   * namespaces then hold one array of eight links instead of thousands (memory).
   */
  private intern(links: NsLink[]): NsLink[] {
    let key = '';
    for (const l of links) key += `${l.type}:${l.ino},`;
    const known = this.linkSets.get(key);
    if (known) {
      known.refs++;
      return known.links;
    }
    Object.freeze(links);
    for (const l of links) Object.freeze(l);
    this.linkSets.set(key, { links, refs: 1 });
    this.keyOf.set(links, key);
    return links;
  }

  private release(links: NsLink[]): void {
    const key = this.keyOf.get(links);
    if (key === undefined) return;
    const set = this.linkSets.get(key);
    if (set && --set.refs === 0) this.linkSets.delete(key);
  }

  private drop(pid: number): void {
    this.exitedNow.add(pid);
    this.watcher?.unwatch(pid);
    this.unwatched.delete(pid);
    this.young.delete(pid);
    this.repDetails.delete(pid);
    this.zombies.delete(pid);
    const p = this.procs.get(pid);
    if (!p) return;
    for (const l of p.links) this.removeMember(pid, l);
    this.release(p.links);
    this.procs.delete(pid);
    this.sweepDirty = true;
    if (p.links.length > 0) this.structureChanged = true;
  }

  /**
   * The links of `pid` into this.inos. A known process's own pid namespace never changes (setns
   * and unshare with CLONE_NEWPID change only pid_for_children), so re-verifying it reads the other
   * seven and keeps the pid link it had: one readlinkat in eight less on the sweep. The kernel's
   * access check is the same for every ns link, and a zombie keeps its pid and user links, so when
   * any other link is readable the pid link is too; when none is, neither is (process gone).
   */
  private readLinks(pid: number, known: Proc | undefined): boolean {
    let pidIno = 0;
    // Indexed, not for-of: on this path (every swept process) the iterator's results were ~15 % of
    // the daemon's steady-state allocation.
    const links = known?.links ?? [];
    for (let i = 0; i < links.length; i++) if (links[i]?.type === 'pid') pidIno = (links[i] as NsLink).ino;
    if (pidIno <= 0) return this.reader.readNsInos(pid, NS_TYPES, this.inos);
    const some = this.someInos;
    const any = this.reader.readNsInos(pid, NOT_PID_TYPES, some);
    for (let k = 0, j = 0; k < NS_TYPES.length; k++) this.inos[k] = k === PID_INDEX ? (any ? pidIno : 0) : (some[j++] as number);
    return any;
  }

  /**
   * Reads one process's links (and cgroup) and updates the index. `new`: a pid not known (young
   * from now on, except in the first tick: those processes were there before us); `reused`: a
   * known pid the allocator handed out again since the last tick (young again); `recheck`: a known
   * pid read again because reuse could not be ruled out (young again if what it shows changed);
   * `verify`: a known process read again.
   */
  private read(pid: number, now: number, kind: 'new' | 'reused' | 'recheck' | 'verify'): void {
    const inos = this.inos;
    const old = this.procs.get(pid);
    let any = this.readLinks(pid, kind === 'verify' ? old : undefined);
    // Outside a real procfs (uids from status) a process with a broken stat or status is left out
    // of every count, as scanNamespaces does; on procfs that is checked for representatives only.
    if (any && !this.reader.uidFromOwner && this.reader.readDetails(pid) === null) {
      inos.fill(0);
      any = false;
    }
    const read = this.opts.cgroups && any ? this.reader.readCgroup(pid, old?.cgroupText) : null;
    const parsed = read === null ? null : this.parseCgroup(read);
    const container = parsed === null ? (this.opts.cgroups && any ? undefined : null) : parsed.ref;
    const cgroupText = parsed?.text;
    if (old && sameInos(old.links, inos)) {
      old.verifiedAt = now;
      if (kind === 'reused') old.bornTick = this.tickNo;
      if (!sameRef(old.container, container)) {
        old.container = container;
        if (kind === 'recheck') old.bornTick = this.tickNo;
        if (any) this.structureChanged = true;
      }
      if (old.bornTick === this.tickNo) this.young.add(pid);
      old.cgroupText = cgroupText;
      return;
    }
    if (old) {
      for (const l of old.links) this.removeMember(pid, l);
      this.release(old.links);
    } else {
      this.sweepDirty = true;
    }
    const links = this.intern(linksOf(inos));
    for (const l of links) this.addMember(pid, l);
    const bornTick = kind === 'verify' && old ? old.bornTick : this.tickNo === 1 ? -Infinity : this.tickNo;
    this.procs.set(pid, { links, container, cgroupText, bornTick, verifiedAt: now });
    if (bornTick === this.tickNo) this.young.add(pid);
    if (links.length > 0 || (old && old.links.length > 0)) this.structureChanged = true;
  }

  /**
   * The container a cgroup file names, parsed once per distinct text, and the text to keep:
   * processes of one service or container have the same file (every host process has the same
   * one), so one string serves them all (~170 bytes per process otherwise), and a swept process's
   * unchanged file comes back as that very string (ProcReader.readCgroup). Bounded: cleared when it
   * holds too many texts.
   */
  private parseCgroup(text: string): { text: string; ref: ContainerRef | null } {
    const known = this.parsedCgroups.get(text);
    if (known !== undefined) return known;
    if (this.parsedCgroups.size >= MAX_CGROUP_TEXTS) this.parsedCgroups.clear();
    const parsed = { text, ref: parseCgroupFile(text) };
    this.parsedCgroups.set(text, parsed);
    return parsed;
  }

  /**
   * A pid that may be a process not seen before: watched first (so an exit right after the read is
   * still reported), then read. Threads that are not group leaders are not processes (lsns and
   * /proc's listing skip them too).
   */
  private admit(pid: number, now: number, stats: TickStats): void {
    const w = this.watcher;
    if (!w) return;
    const known = this.procs.has(pid);
    const r = w.watch(pid);
    if (r === 'no-process' || r === 'thread') {
      if (known) {
        this.drop(pid);
        stats.gone++;
      }
      return;
    }
    if (r === 'full') {
      // No pidfd to spare: its exit is found by looking for it each tick (checkUnwatched).
      this.unwatched.add(pid);
      this.takeShed(w);
    } else if (r !== 'watching') {
      // pidfd_open or epoll failing otherwise: list /proc from the next tick on (exits of the
      // processes watched so far are then found by the listing).
      this.disableWatcher(`pidfd_open failed (${r.code}); listing /proc every tick`);
    } else {
      this.unwatched.delete(pid);
    }
    this.zombies.delete(pid);
    this.read(pid, now, known ? 'reused' : 'new');
    stats.read++;
  }

  /**
   * Processes beyond the pidfd limit: gone ones dropped, and as many as there is room for given a
   * pidfd (watched ones exit and free theirs). Only when no wrap is possible since the last tick:
   * a pid still there is then still its process. A zombie among them keeps its namespaces until
   * the sweep reads it again.
   */
  private *checkUnwatched(stats: TickStats): Generator<void, void> {
    const w = this.watcher;
    if (!w || this.unwatched.size === 0) return;
    let n = 0;
    for (const pid of [...this.unwatched]) {
      if (++n % 256 === 0) yield;
      if (!this.reader.exists(pid)) {
        this.drop(pid);
        stats.gone++;
        continue;
      }
      if (!w.hasRoom) continue;
      const r = w.watch(pid);
      if (r === 'watching') this.unwatched.delete(pid);
      else if (r === 'full') this.takeShed(w);
      else if (r === 'no-process') {
        this.drop(pid);
        stats.gone++;
      }
    }
  }

  /** Processes whose pidfds the watcher gave back to free fds: looked for one by one from now on. */
  private takeShed(w: PidWatcher): void {
    for (const p of w.takeShed()) this.unwatched.add(p);
  }

  /**
   * The representatives (lowest pid of each namespace) whose details must be read now: not read
   * yet, older than detailsMaxAgeMs, exited (zombie) or whose parent exited this tick (reparented:
   * the only way ppid changes). The others are marked as still representatives. `readNow`: pids
   * already read this tick (never twice), gains the returned ones.
   */
  private dueRepresentatives(now: number, readNow: Set<number>): number[] {
    const due: number[] = [];
    this.findStaleMins();
    this.byNs.forEach((m) => {
      const pid = m.min;
      if (readNow.has(pid)) return;
      const e = this.repDetails.get(pid);
      if (e === undefined || now - e.at >= this.detailsMaxAgeMs || this.exitedNow.has(pid) || this.exitedNow.has(e.d.ppid)) {
        due.push(pid);
        readNow.add(pid);
      } else {
        e.repTick = this.tickNo;
      }
    });
    return due;
  }

  /**
   * One incremental tick (see the module comment). Yields between units of work; the return value
   * says what it did. Throws only when the procfs root itself cannot be listed.
   */
  *tick(): Generator<void, TickStats> {
    this.tickNo++;
    this.exitedNow.clear();
    const now = performance.now();
    // Counters first, pids second: a pid handed out in between is then inside the next tick's
    // reuse range (looked at once more), never outside it.
    const alloc = this.reader.readPidAlloc();
    const first = this.tickNo === 1;
    const verdict = reuseBound(this.prevAlloc, alloc);
    this.prevAlloc = alloc;
    const stats: TickStats = { full: first, listedProc: false, listed: 0, read: 0, swept: 0, gone: 0, reps: 0, changed: false };

    // Exits reported by pidfds: gone, or zombies (still listed, in their pid and user ns only).
    if (this.watcher) {
      const exited = this.watcher.exited();
      if (Array.isArray(exited)) {
        for (const pid of exited) {
          this.watcher.unwatch(pid);
          if (!this.reader.exists(pid)) {
            this.drop(pid);
            stats.gone++;
          } else {
            this.exitedNow.add(pid);
            this.read(pid, now, 'verify');
            this.zombies.add(pid);
          }
        }
      } else {
        this.disableWatcher(`epoll_wait failed (${exited.code})`);
      }
    }
    yield;

    const probe = this.watcher !== null && !first && verdict.safe && verdict.to - verdict.from <= MAX_PROBED_RANGE;
    if (probe && verdict.safe) {
      // Every process created since the last tick has a pid in (from, to]: probe just those. A
      // watched pid there is still its old process (its pidfd reported no exit).
      for (let pid = verdict.from + 1; pid <= verdict.to; pid++) {
        if (this.watcher?.has(pid)) continue;
        this.admit(pid, now, stats);
        yield;
      }
      // The allocator did not wrap: an unwatched pid outside the range, if still there, is still its process.
      yield* this.checkUnwatched(stats);
    } else {
      stats.listedProc = true;
      if (!first && !verdict.safe) stats.why = verdict.why;
      // Without pidfds a possible wrap means any known pid may now be another process: read all.
      if (!first && !verdict.safe && !this.watcher) stats.full = true;
      const listed = this.reader.listPids();
      stats.listed = listed.length;
      yield;
      const listedSet = new Set(listed);
      for (const pid of [...this.procs.keys()]) {
        if (!listedSet.has(pid)) {
          this.drop(pid);
          stats.gone++;
        }
      }
      yield;
      for (const pid of listed) {
        const known = this.procs.has(pid);
        if (this.watcher) {
          // A watched pid is still its process; so is an unwatched one outside the reuse range when
          // the allocator did not wrap; anything else is new (or a zombie's number reused).
          if (known && this.watcher.has(pid)) continue;
          if (known && !first && verdict.safe && this.unwatched.has(pid) && !(pid > verdict.from && pid <= verdict.to)) continue;
          this.admit(pid, now, stats);
        } else {
          const reused = known && (first || !verdict.safe || (pid > verdict.from && pid <= verdict.to));
          if (known && !reused) continue;
          this.read(pid, now, !known ? 'new' : !verdict.safe ? 'recheck' : 'reused');
          stats.read++;
        }
        yield;
      }
    }

    // Zombies until reaped (a reaped zombie's reused pid was admitted above as a new process).
    for (const pid of [...this.zombies]) {
      if (this.watcher?.has(pid)) {
        this.zombies.delete(pid);
        continue;
      }
      if (!this.reader.exists(pid)) {
        this.drop(pid);
        stats.gone++;
      }
    }

    // Young processes again (their runtime may unshare/setns right after the fork).
    if (!stats.full) {
      for (const pid of [...this.young]) {
        const p = this.procs.get(pid);
        if (p === undefined || this.tickNo - p.bornTick > this.youngTicks) {
          this.young.delete(pid);
          continue;
        }
        if (p.bornTick === this.tickNo) continue;
        this.read(pid, now, 'verify');
        stats.read++;
        yield;
      }
    }

    // Sweep: a slice in pid order, sized so the whole set is covered within fullRescanMs, plus any
    // process not verified for that long (a tick that came late, a set that grew).
    if (!stats.full) {
      if (this.sweepDirty) {
        this.sweepOrder = [...this.procs.keys()].sort((a, b) => a - b);
        this.sweepDirty = false;
      }
      const elapsed = this.lastSweepAt === 0 ? 0 : now - this.lastSweepAt;
      const quota = Math.min(this.sweepOrder.length, Math.ceil((this.sweepOrder.length * elapsed) / this.opts.fullRescanMs));
      const order = this.sweepOrder;
      for (let i = 0; i < quota && order.length > 0; i++) {
        if (this.sweepCursor >= order.length) this.sweepCursor = 0;
        const pid = order[this.sweepCursor++] as number;
        const p = this.procs.get(pid);
        if (!p || p.verifiedAt === now) continue;
        this.read(pid, now, 'verify');
        stats.swept++;
        yield;
      }
      // By index over the pid list (iterating the Map would allocate an entry per process per tick).
      for (let i = 0; i < order.length; i++) {
        const pid = order[i] as number;
        const p = this.procs.get(pid);
        if (i % 1024 === 1023) yield;
        if (p === undefined || now - p.verifiedAt < this.opts.fullRescanMs) continue;
        this.read(pid, now, 'verify');
        stats.swept++;
        yield;
      }
    }
    this.lastSweepAt = now;
    stats.read += stats.swept;

    // Representatives: the lowest pid of each namespace whose details can be read (one that
    // vanished, or whose stat is garbage, is left out of every count, as in a full scan). Their
    // details are read when they become representatives, when their parent exits (reparenting),
    // when they exit (zombie) and at least every detailsMaxAgeMs; rows are rebuilt only when
    // something they show may have changed.
    let detailsChanged = false;
    const readNow = new Set<number>();
    for (;;) {
      const due = this.dueRepresentatives(now, readNow);
      if (due.length === 0) break;
      for (const pid of due) {
        const before = this.repDetails.get(pid);
        const d = this.reader.readDetails(pid);
        stats.reps++;
        if (d === null) {
          this.drop(pid);
          stats.gone++;
        } else {
          if (before === undefined || !sameDetails(before.d, d)) detailsChanged = true;
          this.repDetails.set(pid, { d, at: now, repTick: this.tickNo });
        }
        yield;
      }
    }
    let rowsChanged = false;
    if (this.structureChanged || detailsChanged || this.usersChanged || first) {
      // Details of pids that are no longer representatives would go stale unnoticed (a parent's
      // exit is only looked for among representatives): forget them.
      this.repDetails.forEach((e, pid) => {
        if (e.repTick !== this.tickNo) this.repDetails.delete(pid);
      });
      const rows: NamespaceRow[] = [];
      this.byNs.forEach((m, ino) => {
        const rep = this.repDetails.get(m.min)?.d;
        if (rep === undefined) return;
        rows.push({
          ns: ino,
          type: m.type,
          path: `/proc/${rep.pid}/ns/${m.type}`,
          nprocs: m.count,
          pid: rep.pid,
          ppid: rep.ppid,
          command: commandOf(rep),
          uid: rep.uid,
          user: this.users.name(rep.uid),
        });
      });
      rows.sort((a, b) => a.ns - b.ns);
      const prev = this.rowsNow;
      rowsChanged = rows.length !== prev.length || rows.some((r, i) => !sameRow(r, prev[i] as NamespaceRow));
      this.rowsNow = rows;
    }
    stats.changed = rowsChanged || this.structureChanged;
    this.structureChanged = false;
    this.usersChanged = false;
    return stats;
  }
}

/** Runs a tick to its end at once (the `report` command and tests; the daemon slices it). */
export function runTick(scanner: IncrementalScanner): TickStats {
  const gen = scanner.tick();
  for (;;) {
    const r = gen.next();
    if (r.done) return r.value;
  }
}
