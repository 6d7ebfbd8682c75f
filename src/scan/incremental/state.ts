/**
 * The incremental scanner's whole state, one explicit object that the phases (phases/*.ts) read
 * and change, and the per-tick context the driver hands each phase. What each field means is said
 * here once; which phase touches which is said at the top of each phase.
 */
import type { PidWatcher } from '../../native/pid-watch.js';
import type { ContainerRef } from '../../procfs/cgroup.js';
import type { UserNames } from '../../procfs/passwd.js';
import type { PidAllocState, ReuseVerdict } from '../../procfs/pid-alloc.js';
import type { ProcReader } from '../../procfs/reader.js';
import { NS_TYPES, type NsLink, type ProcDetails } from '../../procfs/types.js';
import type { TaskHold } from '../holders/holder.js';
import type { NamespaceRow } from '../namespaces.js';
import { CgroupCache } from './cgroup-cache.js';
import { LinkSets } from './link-sets.js';
import { NamespaceMembers } from './ns-members.js';
import { NOT_PID_TYPES } from './process-links.js';
import type { WatchState } from './watch-policy.js';

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
export const DEFAULT_YOUNG_TICKS = 3;

export interface Proc {
  /** Readable links, NS_TYPES order, interned (link-sets.ts); empty when none could be read (left out of every row). */
  links: NsLink[];
  /** Container from the cgroup file; null: none; undefined: not read or unreadable. */
  container: ContainerRef | null | undefined;
  /** The cgroup file it was parsed from (shared with other processes that have the same). */
  cgroupText: string | undefined;
  /** Tick in which the process was first read (again, after a possible pid reuse). */
  bornTick: number;
  /** performance.now() of the last read of its links. */
  verifiedAt: number;
  /** Its main thread's run time (ns, schedstat) just before the sweep last read it in full; -1: unknown. */
  run: number;
  /** performance.now() of that read. */
  fullAt: number;
  /** Threads at the last read of its holds (holders phase); 1 until then. */
  threads: number;
}

export interface RepDetails {
  d: ProcDetails;
  /** performance.now() of the read. */
  at: number;
  /** The last tick the pid was a representative. */
  repTick: number;
}

export interface ScanState {
  readonly reader: ProcReader;
  users: UserNames;
  readonly fullRescanMs: number;
  readonly cgroups: boolean;
  readonly youngTicks: number;
  readonly detailsMaxAgeMs: number;

  /** Every known process by pid. */
  readonly procs: Map<number, Proc>;
  readonly members: NamespaceMembers;
  readonly linkSets: LinkSets;
  readonly cgroupCache: CgroupCache;
  /** Exits by pidfds, and the processes without one (watch-policy.ts). */
  readonly watch: WatchState;

  tickNo: number;
  /** The pid allocator's counters at the previous tick (null before the first). */
  prevAlloc: PidAllocState | null;
  /** Pids first read within the last youngTicks ticks (read again each tick). */
  readonly young: Set<number>;
  /** Exited processes still listed (zombies): checked each tick until reaped. */
  readonly zombies: Set<number>;
  /** Pids that exited (or turned zombie) this tick: their children were reparented. */
  readonly exitedNow: Set<number>;
  /** Details of the representatives. */
  readonly repDetails: Map<number, RepDetails>;

  /** Sorted pids of `procs` for the sweep, rebuilt when `dirty`. */
  readonly sweep: { order: number[]; dirty: boolean; cursor: number; lastAt: number };

  /** Threads and fds holding namespaces, by pid (holders phase); `due`: pids whose holds the sweep says to read this tick; `changed` until the rebuild sees it. */
  readonly holds: { byPid: Map<number, TaskHold[]>; fdUnreadable: Set<number>; due: Set<number>; changed: boolean; readonly scratch: Float64Array };

  /** Rows of the last tick (rebuild). */
  rows: NamespaceRow[];
  /** Memberships or containers changed since the last rebuild. */
  structureChanged: boolean;
  /** USER names changed (setUsers): rows are rebuilt at the next tick. */
  usersChanged: boolean;

  /** readNsInos' row (NS_TYPES order), reused. */
  readonly inos: Float64Array;
  /** The row of every type but pid, reused. */
  readonly someInos: Float64Array;
}

export function createScanState(reader: ProcReader, users: UserNames, opts: IncrementalOptions, watch: WatchState): ScanState {
  return {
    reader,
    users,
    fullRescanMs: opts.fullRescanMs,
    cgroups: opts.cgroups,
    youngTicks: opts.youngTicks ?? DEFAULT_YOUNG_TICKS,
    detailsMaxAgeMs: opts.detailsMaxAgeMs ?? DETAILS_MAX_AGE_MS,
    procs: new Map(),
    members: new NamespaceMembers(),
    linkSets: new LinkSets(),
    cgroupCache: new CgroupCache(),
    watch,
    tickNo: 0,
    prevAlloc: null,
    young: new Set(),
    zombies: new Set(),
    exitedNow: new Set(),
    repDetails: new Map(),
    sweep: { order: [], dirty: true, cursor: 0, lastAt: 0 },
    holds: { byPid: new Map(), fdUnreadable: new Set(), due: new Set(), changed: false, scratch: new Float64Array(NS_TYPES.length) },
    rows: [],
    structureChanged: true,
    usersChanged: false,
    inos: new Float64Array(NS_TYPES.length),
    someInos: new Float64Array(NOT_PID_TYPES.length),
  };
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

/** What one tick's phases hand on to the later ones. */
export interface TickContext {
  /** performance.now() at the start of the tick: "verified now" for every read in it. */
  readonly now: number;
  readonly first: boolean;
  /** The allocator window since the last tick (alloc-window phase). */
  verdict: ReuseVerdict;
  /** Not the first tick, no wrap possible, and the window small enough to probe pid by pid (alloc-window phase). */
  probeable: boolean;
  /** New pids are found by probing the window, not by listing /proc: probeable and a watcher (exits phase). */
  probe: boolean;
  /** /proc's listing when it was listed (exits phase), else null. */
  listed: number[] | null;
  /** Some representative's details differ from what the rows show (representatives phase). */
  detailsChanged: boolean;
  readonly stats: TickStats;
}

/**
 * One discovery phase: reads and changes `ScanState` as its file says, yielding between small
 * units of work (the daemon spreads a tick over short slices of its event loop).
 */
export interface Phase {
  readonly name: string;
  run(s: ScanState, t: TickContext): Generator<void, void>;
}
