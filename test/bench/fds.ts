/**
 * The fd scenario of the bench's processes (`--fds N`, `--ns-fd-every M`): every sleeper (or
 * container process) the bench makes holds N more open fds, and 1 in M of them also one fd on the
 * net namespace of one of the isolated sleepers (a namespace that exists anyway: no new one
 * appears, only the cost of reading fds grows).
 *
 * The bench opens one fd of each kind once (/dev/null, a pipe's read end, one end of a unix stream
 * socket pair: what most processes hold) and, for the namespace, /proc/<pid>/ns/net of the first
 * isolated sleeper; each child gets them through spawn's stdio array, which libuv dup2()s into
 * place between fork and exec: making a sleeper costs what it did (no helper shell or
 * interpreter), and the fds survive `unshare` and `sh`, which exec without closing them. In every
 * child fd 3 is the namespace fd (holders only; closed in the others) and fds 4..N+3 are the N, in
 * turn /dev/null, pipe, socket. The bench's own copies are O_CLOEXEC: serve, list, lsns and any
 * other process it starts inherit none of them.
 */
import { createRequire } from 'node:module';
import * as fs from 'node:fs';
import type * as KoffiModule from 'koffi';

export const FD_KINDS = ['file', 'pipe', 'socket'] as const;
export type FdKind = (typeof FD_KINDS)[number];

/** What each kind is, for the table and the JSON. */
export const FD_KIND_TEXT: Readonly<Record<FdKind, string>> = { file: '/dev/null', pipe: 'a pipe', socket: 'a unix socket' };

/** The most fds --fds gives each process (20,000 processes x 1,000 fds is already 20 M fd slots). */
export const MAX_FDS = 1000;

/** The child fd of the namespace fd; the N others follow it. */
export const NS_FD_SLOT = 3;

export interface FdScenario {
  /** Extra fds per process made; 0: none (the scenario as it was, no namespace fds either). */
  fds: number;
  /** 1 in this many processes made also holds an fd on a namespace; 0: none. */
  nsFdEvery: number;
}

export const NO_FDS: FdScenario = { fds: 0, nsFdEvery: 50 };

/** What one batch of processes really got (processes made before the namespace fd existed hold none). */
export interface FdFigures {
  fds: number;
  nsFdEvery: number;
  kinds: string[];
  /** Processes made with the N fds. */
  processes: number;
  /** Processes that also hold the namespace fd. */
  nsFdHolders: number;
  /** The namespaces they hold, as their fd links read (`net:[<inode>]`). */
  nsFdTargets: string[];
}

/** The kind of each of the N fds (child fds 4..N+3): /dev/null, pipe, socket in turn. */
export function fdKinds(n: number): FdKind[] {
  return Array.from({ length: n }, (_, i) => FD_KINDS[i % FD_KINDS.length] ?? 'file');
}

/** Whether the index-th process made (0-based) holds the namespace fd: the last of every M. */
export function holdsNsFd(index: number, every: number): boolean {
  return every > 0 && index % every === every - 1;
}

/**
 * spawn's stdio for a process of the scenario: 0-2 /dev/null as before ('ignore'), fd 3 the
 * namespace fd or nothing, then the N fds from `sources`. 'ignore' alone when N is 0.
 */
export function sleeperStdio(sources: Readonly<Record<FdKind, number>>, n: number, nsFd: number | null): 'ignore' | Array<'ignore' | number> {
  if (n === 0) return 'ignore';
  return ['ignore', 'ignore', 'ignore', nsFd ?? 'ignore', ...fdKinds(n).map((k) => sources[k])];
}

/** The figures of several batches (the scale run's sizes) as one; null when none had fds. */
export function sumFdFigures(batches: ReadonlyArray<FdFigures | null>): FdFigures | null {
  const some = batches.filter((b): b is FdFigures => b !== null);
  const first = some[0];
  if (first === undefined) return null;
  return {
    fds: first.fds,
    nsFdEvery: first.nsFdEvery,
    kinds: first.kinds,
    processes: some.reduce((s, b) => s + b.processes, 0),
    nsFdHolders: some.reduce((s, b) => s + b.nsFdHolders, 0),
    nsFdTargets: [...new Set(some.flatMap((b) => b.nsFdTargets))],
  };
}

/** One line for the table's head: what the processes made hold. */
export function describeFds(f: FdFigures | null): string {
  if (f === null) return 'fds: none added (--fds 0)';
  const ns =
    f.nsFdEvery === 0 || f.nsFdTargets.length === 0 ? 'no namespace fds' : `1 in ${f.nsFdEvery} (${f.nsFdHolders.toLocaleString('en-US')}) also fd ${NS_FD_SLOT} on ${f.nsFdTargets.join(', ')}`;
  return `fds: ${f.processes.toLocaleString('en-US')} processes made with ${f.fds} more fds each (${f.kinds.join(', ')} in turn); ${ns}`;
}

const O_CLOEXEC = 0o2000000;
const AF_UNIX = 1;
const SOCK_STREAM = 1;

/** The fds the bench holds for its children: one of each kind, and the namespace fds it opened. */
export class FdSources {
  readonly byKind: Readonly<Record<FdKind, number>>;
  private readonly own: number[];
  private closed = false;

  private constructor(byKind: Record<FdKind, number>, own: number[]) {
    this.byKind = byKind;
    this.own = own;
  }

  /** /dev/null, a pipe and a socket pair (pipe2 and socketpair through koffi: Node has neither). */
  static open(): FdSources {
    const koffi = createRequire(import.meta.url)('koffi') as typeof KoffiModule;
    const libc = koffi.load('libc.so.6');
    const pipe2 = libc.func('int pipe2(_Out_ int *fds, int flags)') as (fds: Int32Array, flags: number) => number;
    const socketpair = libc.func('int socketpair(int domain, int type, int protocol, _Out_ int *sv)') as (d: number, t: number, p: number, sv: Int32Array) => number;
    const pipe = new Int32Array(2);
    const pair = new Int32Array(2);
    if (pipe2(pipe, O_CLOEXEC) !== 0) throw new Error('pipe2 failed');
    if (socketpair(AF_UNIX, SOCK_STREAM | O_CLOEXEC, 0, pair) !== 0) {
      for (const fd of pipe) fs.closeSync(fd);
      throw new Error('socketpair failed');
    }
    const file = fs.openSync('/dev/null', 'r'); // libuv opens with O_CLOEXEC
    return new FdSources({ file, pipe: pipe[0] ?? -1, socket: pair[0] ?? -1 }, [file, ...pipe, ...pair]);
  }

  /** Opens /proc/<pid>/ns/net (O_CLOEXEC); returns the fd and its link text (`net:[<inode>]`). */
  openNetNs(pid: number): { fd: number; link: string } {
    const fd = fs.openSync(`/proc/${pid}/ns/net`, 'r');
    this.own.push(fd);
    return { fd, link: fs.readlinkSync(`/proc/self/fd/${fd}`) };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const fd of this.own) {
      try {
        fs.closeSync(fd);
      } catch {
        /* already closed */
      }
    }
  }
}
