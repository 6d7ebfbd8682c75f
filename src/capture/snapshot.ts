/**
 * `capture`: freezes the live /proc into a fixture directory together with what /usr/bin/lsns
 * printed at the same moment, so `list --proc DIR/proc` can be compared byte for byte with lsns
 * on a machine (CI) that has neither these processes nor lsns.
 *
 * Layout written:
 *   DIR/proc/<pid>/ns/<type>        symlinks with the kernel's link text (`net:[4026531840]`);
 *                                   links that could not be read (EACCES, zombies' ENOENT) are absent
 *   DIR/proc/<pid>/stat             verbatim
 *   DIR/proc/<pid>/status           verbatim, unless its effective uid is not the dir owner (fixStatusUid)
 *   DIR/proc/<pid>/cmdline          first 8191 bytes (see cmdlinePids for which pids get one)
 *   DIR/proc/<pid>/fd/<n>           symlinks with the kernel's link text, every kind (`net:[4026531840]`,
 *                                   `socket:[123]`, `/dev/null`, `/tmp/x (deleted)`: the scanner reads only
 *                                   the text); at most MAX_FDS_PER_PROCESS (4096) per process, the lowest
 *                                   numbers; none for a process whose fd directory cannot be listed
 *   DIR/proc/<pid>/task/<tid>/ns/<type>, DIR/proc/<pid>/task/<tid>/stat
 *                                   only for processes with more than one thread, for EVERY thread,
 *                                   the leader's own tid included: the fixture's `<pid>/task` then has
 *                                   nlink 2 + threads, as on procfs, which is how the scanner counts them
 *   DIR/proc/<1|2>/root/etc/passwd  the passwd file the scanner would use on the live host
 *   DIR/expected/<n>.args           lsns arguments, one per line
 *   DIR/expected/<n>.out            lsns's exact stdout (LANG=C.UTF-8, stdout a pipe)
 *   DIR/capture.json                when, kernel, lsns version, passwd source, uid rewrites, the fd cap
 *                                   and what the fd / thread walk had to leave out (`skipped`)
 * Fd directories that cannot be listed (EACCES), and processes, threads or fds that end while they
 * are read (ENOENT, ESRCH), are left out and counted in capture.json's `skipped`, never an error:
 * lsns 2.38.1 shows neither fds nor threads, so they are not part of the consistency check below.
 * Pids none of whose ns links can be read (an init that hides them even from root) are left out: the scanner skips them
 * anyway, and they contribute nothing lsns could show.
 *
 * Consistency: lsns runs for every case BEFORE and AFTER the snapshot; the capture is accepted only
 * when every case printed the same bytes both times AND the set of pids was the same before the
 * first lsns run, at both ends of the snapshot walk and after the last lsns run. Otherwise it is
 * retried (bounded).
 *
 * Counting processes. lsns counts itself: each run sees baseline + this node process + the lsns
 * process. A snapshot taken by this node process alone would see baseline + node, one process short
 * in every namespace node is in (NPROCS off by one in the initial namespaces). So while the snapshot
 * is walked, a short-lived stand-in child (inheriting our namespaces, like each lsns run does) is
 * kept alive: the snapshot then sees baseline + node + stand-in, exactly as many processes in exactly
 * the same namespaces as every lsns run, and NPROCS match without any adjustment. The stand-in is
 * killed and reaped before the "after" runs (a zombie would be counted by lsns in its pid and user
 * namespaces). The stand-in (like lsns) has a higher pid than its parent, so it is never the lowest
 * pid of a namespace that matters.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parsePidName } from '../procfs/parse.js';
import { passwdCandidates } from '../procfs/passwd.js';
import { CMDLINE_READ_LIMIT, readCapped } from '../procfs/reader.js';
import { NS_TYPES, type NsType } from '../procfs/types.js';

export const DEFAULT_LSNS = '/usr/bin/lsns';

/** The cases stored for every capture; `-p` cases are added when a suitable pid exists. */
export const BASE_CASES: readonly (readonly string[])[] = [
  ['-J', '-l', '-o', 'NS,TYPE,PATH,NPROCS,PID,PPID,COMMAND,UID,USER'],
  ['-J'],
  [],
  ['-l'],
  ['-r'],
  ['-t', 'pid'],
  ['-t', 'user', '-t', 'uts'],
  ['-n', '-o', 'NS,TYPE,PID,PPID,COMMAND'],
  ['-o', 'NS,TYPE,PATH,NPROCS,PID,PPID,COMMAND,UID,USER'],
  ['-r', '-l', '-o', 'NS,TYPE,NPROCS,PID,PPID,UID,USER,COMMAND'],
];

export interface CaptureOptions {
  /** Fixture directory; DIR/proc and DIR/expected are created in it. */
  dest: string;
  /** Replace an existing DIR/proc and DIR/expected. */
  force?: boolean;
  /** Attempts before giving up on a quiet moment. */
  retries?: number;
  /** Store every pid's cmdline, not only the ones an lsns row can show (see cmdlinePids). */
  allCmdlines?: boolean;
  /** Path of lsns; a missing lsns means a proc-only capture. */
  lsns?: string;
  log?: (line: string) => void;
}

export interface CaptureResult {
  pids: number;
  cases: number;
  attempts: number;
  lsns: boolean;
  passwdSource: string | null;
  /** pids whose status got the /proc/<pid> owner as effective uid. */
  uidRewrites: number[];
  /** What the fd and thread walk left out (also in capture.json). */
  skipped: SkipNotes;
}

/** At most this many fd links are recorded per process (the lowest numbers): a process with a
 * huge fd table (a proxy, a database) would otherwise put 100 000s of symlinks into a fixture. */
export const MAX_FDS_PER_PROCESS = 4096;

/** What the fd and thread walk could not record. pid lists are sorted and without repeats. */
export interface SkipNotes {
  /** fd directory not listable for another reason than the process ending (EACCES): no fd recorded. */
  fdDirUnreadable: number[];
  /** More than MAX_FDS_PER_PROCESS fds: only the lowest MAX_FDS_PER_PROCESS were recorded. */
  fdsCapped: number[];
  /** fd links not recorded: closed between the listing and the readlink, or not readable. */
  fdLinks: number;
  /** task directory not listable for another reason than the process ending: no thread recorded. */
  taskDirUnreadable: number[];
  /** Threads not recorded: ended before their links were read (or none of them was readable). */
  threads: number;
  /** Processes that ended while their fds or threads were being read. */
  vanished: number[];
}

export function emptySkipNotes(): SkipNotes {
  return { fdDirUnreadable: [], fdsCapped: [], fdLinks: 0, taskDirUnreadable: [], threads: 0, vanished: [] };
}

/** The source side of the fd and thread walk: plain fs on the live /proc; a test passes failures. */
export interface SourceIo {
  readdir(dir: string): string[];
  /** The link's target text, byte for byte (an fd's path need not be UTF-8). */
  readlink(file: string): Buffer;
  /** st_nlink of a directory. */
  nlink(dir: string): number;
  readFile(file: string, limit: number): Buffer;
}

export const FS_SOURCE: SourceIo = {
  readdir: (dir) => fs.readdirSync(dir),
  readlink: (file) => fs.readlinkSync(file, { encoding: 'buffer' }),
  nlink: (dir) => fs.statSync(dir).nlink,
  readFile: (file, limit) => readCapped(file, limit),
};

/** ENOENT / ESRCH: what procfs says for a process, thread or fd that is gone. */
function gone(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code === 'ENOENT' || code === 'ESRCH';
}

/** Names that are numbers as procfs writes them (no sign, no leading zero), ascending. */
function numericNames(names: readonly string[]): number[] {
  return names
    .filter((n) => /^(0|[1-9][0-9]{0,9})$/.test(n))
    .map(Number)
    .sort((a, b) => a - b);
}

function addPid(list: number[], pid: number): void {
  if (!list.includes(pid)) list.push(pid);
}

/**
 * `src/fd/<n>` -> `dst/fd/<n>`: one symlink per fd with the same target bytes, at most
 * MAX_FDS_PER_PROCESS. Whatever cannot be read is counted in `notes`, never thrown.
 */
export function copyFdLinks(io: SourceIo, src: string, dst: string, pid: number, notes: SkipNotes): void {
  let fds: number[];
  try {
    fds = numericNames(io.readdir(`${src}/fd`));
  } catch (err) {
    addPid(gone(err) ? notes.vanished : notes.fdDirUnreadable, pid);
    return;
  }
  if (fds.length > MAX_FDS_PER_PROCESS) {
    addPid(notes.fdsCapped, pid);
    fds = fds.slice(0, MAX_FDS_PER_PROCESS);
  }
  let made = false;
  for (const fd of fds) {
    let target: Buffer;
    try {
      target = io.readlink(`${src}/fd/${fd}`);
    } catch {
      notes.fdLinks++; // closed meanwhile (ENOENT), or not ours to read
      continue;
    }
    if (!made) fs.mkdirSync(path.join(dst, 'fd'), { recursive: true });
    made = true;
    fs.symlinkSync(target, path.join(dst, 'fd', String(fd)));
  }
}

/**
 * For a process with more than one thread (nlink of `src/task` minus 2, as the scanner counts):
 * `dst/task/<tid>/ns/<type>` for every thread and type whose link can be read, and the thread's
 * stat. A thread none of whose links can be read (it ended) is left out and counted.
 */
export function copyThreads(io: SourceIo, src: string, dst: string, pid: number, notes: SkipNotes): void {
  let tids: number[];
  try {
    if (io.nlink(`${src}/task`) - 2 <= 1) return;
    tids = numericNames(io.readdir(`${src}/task`));
  } catch (err) {
    addPid(gone(err) ? notes.vanished : notes.taskDirUnreadable, pid);
    return;
  }
  if (tids.length <= 1) return; // the others ended between the stat and the listing
  for (const tid of tids) {
    const links: Array<[NsType, Buffer]> = [];
    for (const type of NS_TYPES) {
      try {
        links.push([type, io.readlink(`${src}/task/${tid}/ns/${type}`)]);
      } catch {
        // ended meanwhile (ENOENT, ESRCH), or a link not ours to read: not created
      }
    }
    if (links.length === 0) {
      notes.threads++;
      continue;
    }
    const dir = path.join(dst, 'task', String(tid));
    fs.mkdirSync(path.join(dir, 'ns'), { recursive: true });
    for (const [type, text] of links) fs.symlinkSync(text, path.join(dir, 'ns', type));
    try {
      fs.writeFileSync(path.join(dir, 'stat'), io.readFile(`${src}/task/${tid}/stat`, 65536));
    } catch {
      // ended after its links were read: the links alone still say what it held
    }
  }
}

export class CaptureError extends Error {}

type Links = Map<number, Map<NsType, string>>;

/** One pass over /proc/<pid>/ns: the link texts that can be read, for pids with at least one. */
function readAllLinks(proc: string, pids: readonly number[]): Links {
  const all: Links = new Map();
  for (const pid of pids) {
    const links = new Map<NsType, string>();
    for (const type of NS_TYPES) {
      try {
        links.set(type, fs.readlinkSync(`${proc}/${pid}/ns/${type}`));
      } catch {
        // EACCES (pid 1 here), ENOENT (zombies' non-pid/user links, vanished processes): not created.
      }
    }
    if (links.size > 0) all.set(pid, links);
  }
  return all;
}

function listPids(proc: string, exclude: ReadonlySet<number>): number[] {
  const pids: number[] = [];
  for (const name of fs.readdirSync(proc)) {
    const pid = parsePidName(name);
    if (pid !== null && !exclude.has(pid)) pids.push(pid);
  }
  return pids.sort((a, b) => a - b);
}

const sameBytes = (a: Buffer | undefined, b: Buffer | undefined): boolean => a !== undefined && b !== undefined && a.equals(b);

const sameList = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

/** The namespace of each type that the lowest listed pid is in: the host's initial ones on a host. */
function firstNamespaces(links: Links): Map<NsType, string> {
  const first = new Map<NsType, string>();
  for (const pid of [...links.keys()].sort((a, b) => a - b)) {
    for (const [type, text] of links.get(pid) ?? []) if (!first.has(type)) first.set(type, text);
  }
  return first;
}

/**
 * Pids whose cmdline is stored. A row shows the cmdline of the lowest pid of its namespace only, so
 * that is all the list cases need; processes in some non-first namespace are kept too, so that
 * `lsns <ns>` (one row per process) can be reproduced for every namespace but the host's own. The
 * remaining host processes (whatever else runs on the host, whose command lines a fixture has no
 * need for) get stat and status only.
 */
export function cmdlinePids(links: Links): Set<number> {
  const keep = new Set<number>();
  const first = firstNamespaces(links);
  const seen = new Set<string>();
  for (const pid of [...links.keys()].sort((a, b) => a - b)) {
    for (const [type, text] of links.get(pid) ?? []) {
      if (!seen.has(text)) {
        seen.add(text);
        keep.add(pid); // lowest pid of this namespace
      }
      if (first.get(type) !== text) keep.add(pid);
    }
  }
  return keep;
}

/**
 * The scanner reads uids from `status` on a fixture, lsns shows the owner of /proc/<pid>. Should
 * they ever differ, the captured status gets the owner as its effective uid (the other three
 * fields stay verbatim), so the fixture reproduces what lsns showed; capture.json lists such pids.
 * Observed on Linux 6.18 (fixtures/make-busy.sh, item 6): a non-dumpable process (setuid without
 * exec, suid_dumpable 0) has root-owned files INSIDE /proc/<pid>, but the directory itself still
 * belongs to the effective uid, and lsns shows that uid; so this has not fired yet.
 * Returns null when nothing had to change.
 */
export function fixStatusUid(status: string, owner: number): string | null {
  const re = /^(Uid:[ \t]+[0-9]+[ \t]+)([0-9]+)([ \t].*)$/m;
  const m = re.exec(status);
  if (!m || Number(m[2]) === owner) return null;
  return status.replace(re, `$1${owner}$3`);
}

/** The pid whose namespaces a `-p` case shows: the one in the most non-first namespaces. */
export function pickTaskPid(links: Links, exclude: ReadonlySet<number>): number | null {
  const first = firstNamespaces(links);
  let best: number | null = null;
  let bestScore = 0;
  for (const pid of [...links.keys()].sort((a, b) => a - b)) {
    if (exclude.has(pid)) continue;
    let score = 0;
    for (const [type, text] of links.get(pid) ?? []) if (first.get(type) !== text) score++;
    if (score > bestScore) [best, bestScore] = [pid, score];
  }
  return best;
}

function lsnsEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('LC_') && k !== 'LANG') env[k] = v;
  env.LANG = 'C.UTF-8';
  return env;
}

/** Runs lsns with stdout a pipe; its exact bytes. */
function runLsns(lsns: string, args: readonly string[]): Buffer {
  const r = spawnSync(lsns, args, { env: lsnsEnv(), stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 256 * 1024 * 1024 });
  if (r.error) throw new CaptureError(`cannot run ${lsns}: ${r.error.message}`);
  if (r.status !== 0) {
    throw new CaptureError(`${lsns} ${args.join(' ')} exited ${r.status ?? r.signal}: ${r.stderr.toString().trim()}`);
  }
  return r.stdout;
}

async function startStandIn(): Promise<ChildProcess> {
  // uv_spawn returns once the child has exec'd, so the pid is in /proc when 'spawn' fires.
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1 << 30)'], { stdio: 'ignore' });
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', reject);
  });
  return child;
}

async function stopStandIn(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGKILL');
  await exited; // reaped: no zombie left for the "after" runs to count
}

function copyCapped(from: string, to: string, limit: number): void {
  fs.writeFileSync(to, readCapped(from, limit));
}

interface Snapshot {
  pids: number;
  uidRewrites: number[];
  passwdSource: string | null;
  skipped: SkipNotes;
}

/** Copies what the scanner reads from `proc` into `out` (a fresh directory). */
function writeSnapshot(proc: string, out: string, pids: readonly number[], allCmdlines: boolean): Snapshot {
  const links = readAllLinks(proc, pids);
  const withCmdline = allCmdlines ? new Set(links.keys()) : cmdlinePids(links);
  const uidRewrites: number[] = [];
  const skipped = emptySkipNotes();
  for (const [pid, map] of links) {
    const src = `${proc}/${pid}`;
    const dst = path.join(out, String(pid));
    fs.mkdirSync(path.join(dst, 'ns'), { recursive: true });
    for (const [type, text] of map) fs.symlinkSync(text, path.join(dst, 'ns', type));
    copyFdLinks(FS_SOURCE, src, dst, pid, skipped);
    copyThreads(FS_SOURCE, src, dst, pid, skipped);
    try {
      copyCapped(`${src}/stat`, path.join(dst, 'stat'), 65536);
      const status = readCapped(`${src}/status`, 65536).toString('latin1');
      const owner = fs.statSync(src).uid;
      const fixed = fixStatusUid(status, owner);
      if (fixed !== null) uidRewrites.push(pid);
      fs.writeFileSync(path.join(dst, 'status'), Buffer.from(fixed ?? status, 'latin1'));
      if (withCmdline.has(pid)) copyCapped(`${src}/cmdline`, path.join(dst, 'cmdline'), CMDLINE_READ_LIMIT);
    } catch {
      // Vanished mid-walk: the pid-set check around the walk makes the caller retry.
    }
  }
  // The passwd the scanner would pick on the live host, stored where it looks in a fixture.
  let passwdSource: string | null = null;
  for (const file of passwdCandidates(proc)) {
    let text: Buffer;
    try {
      text = fs.readFileSync(file);
    } catch {
      continue;
    }
    passwdSource = file;
    const rel = path.relative(proc, file);
    // /etc/passwd (neither pid 1's nor 2's root readable) goes where the fixture reader looks first.
    const where = rel.startsWith('..') || path.isAbsolute(rel) ? path.join('1', 'root', 'etc', 'passwd') : rel;
    fs.mkdirSync(path.dirname(path.join(out, where)), { recursive: true });
    fs.writeFileSync(path.join(out, where), text);
    break;
  }
  for (const list of [skipped.fdDirUnreadable, skipped.fdsCapped, skipped.taskDirUnreadable, skipped.vanished]) list.sort((a, b) => a - b);
  return { pids: links.size, uidRewrites, passwdSource, skipped };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function lsnsVersion(lsns: string): string {
  const r = spawnSync(lsns, ['--version'], { env: lsnsEnv(), stdio: ['ignore', 'pipe', 'ignore'] });
  return r.stdout ? r.stdout.toString().trim() : '';
}

export async function capture(opts: CaptureOptions): Promise<CaptureResult> {
  const proc = '/proc';
  const log = opts.log ?? (() => {});
  const retries = opts.retries ?? 20;
  const lsns = opts.lsns ?? DEFAULT_LSNS;
  const procOut = path.join(opts.dest, 'proc');
  const expOut = path.join(opts.dest, 'expected');
  for (const d of [procOut, expOut]) {
    if (fs.existsSync(d) && !opts.force) throw new CaptureError(`${d} already exists (use --force to replace it)`);
  }
  fs.mkdirSync(opts.dest, { recursive: true });
  let haveLsns = true;
  try {
    fs.accessSync(lsns, fs.constants.X_OK);
  } catch {
    haveLsns = false;
    log(`${lsns} not found: capturing the proc tree only, no expected outputs`);
  }

  const mine = new Set<number>([process.pid]);
  for (let attempt = 1; attempt <= retries; attempt++) {
    const tmp = fs.mkdtempSync(path.join(opts.dest, '.capture-'));
    const t0 = listPids(proc, new Set());
    const task = pickTaskPid(readAllLinks(proc, t0), mine);
    const cases: string[][] = BASE_CASES.map((c) => [...c]);
    if (task !== null) cases.push(['-p', String(task)], ['-J', '-p', String(task)]);

    const before = haveLsns ? cases.map((c) => runLsns(lsns, c)) : [];
    const standIn = await startStandIn();
    let snap: Snapshot;
    let s0: number[];
    let s1: number[];
    try {
      // The stand-in is part of the snapshot (that is its job) but not of the pid-set comparison.
      const skip = new Set<number>(standIn.pid === undefined ? [] : [standIn.pid]);
      const walked = listPids(proc, new Set());
      snap = writeSnapshot(proc, tmp, walked, opts.allCmdlines ?? false);
      s0 = walked.filter((p) => !skip.has(p));
      s1 = listPids(proc, skip);
    } finally {
      await stopStandIn(standIn);
    }
    const after = haveLsns ? cases.map((c) => runLsns(lsns, c)) : [];
    const t1 = listPids(proc, new Set());

    const changed = cases.filter((_, i) => haveLsns && !sameBytes(before[i], after[i]));
    const pidsStable = sameList(t0, s0) && sameList(s0, s1) && sameList(s1, t1);
    if (changed.length === 0 && pidsStable) {
      // An old capture is replaced (--force) only now, when the new one is complete.
      for (const d of [procOut, expOut]) fs.rmSync(d, { recursive: true, force: true });
      fs.renameSync(tmp, procOut);
      if (haveLsns) {
        fs.mkdirSync(expOut);
        cases.forEach((args, i) => {
          const n = String(i + 1).padStart(2, '0');
          fs.writeFileSync(path.join(expOut, `${n}.args`), args.map((a) => a + '\n').join(''));
          fs.writeFileSync(path.join(expOut, `${n}.out`), before[i] as Buffer);
        });
      }
      const info = {
        captured: new Date().toISOString(),
        kernel: os.release(),
        lsns: haveLsns ? lsnsVersion(lsns) : null,
        passwdSource: snap.passwdSource,
        statusUidRewrittenForPids: snap.uidRewrites,
        cmdlines: opts.allCmdlines ? 'all' : 'lowest pid of each namespace, and processes outside the first namespaces',
        fds: `every /proc/<pid>/fd/<n> link as the symlink <pid>/fd/<n> with the same text, at most ${MAX_FDS_PER_PROCESS} per process (the lowest numbers)`,
        threads: 'processes with more than one thread: <pid>/task/<tid>/ns/<type> and <pid>/task/<tid>/stat for every thread, the leader included',
        skipped: snap.skipped,
        attempts: attempt,
      };
      const s = snap.skipped;
      const left = [
        s.fdDirUnreadable.length > 0 ? `fd directory unreadable for pids ${s.fdDirUnreadable.join(' ')}` : '',
        s.fdsCapped.length > 0 ? `only the first ${MAX_FDS_PER_PROCESS} fds of pids ${s.fdsCapped.join(' ')}` : '',
        s.fdLinks > 0 ? `${s.fdLinks} fd link(s) gone or unreadable` : '',
        s.taskDirUnreadable.length > 0 ? `task directory unreadable for pids ${s.taskDirUnreadable.join(' ')}` : '',
        s.threads > 0 ? `${s.threads} thread(s) gone` : '',
        s.vanished.length > 0 ? `pids ${s.vanished.join(' ')} ended during the fd / thread walk` : '',
      ].filter((x) => x !== '');
      if (left.length > 0) log(`left out (see capture.json "skipped"): ${left.join('; ')}`);
      fs.writeFileSync(path.join(opts.dest, 'capture.json'), JSON.stringify(info, null, 2) + '\n');
      return {
        pids: snap.pids,
        cases: haveLsns ? cases.length : 0,
        attempts: attempt,
        lsns: haveLsns,
        passwdSource: snap.passwdSource,
        uidRewrites: snap.uidRewrites,
        skipped: snap.skipped,
      };
    }
    fs.rmSync(tmp, { recursive: true, force: true });
    const why = [changed.length > 0 ? `lsns output changed for: ${changed.map((c) => `[${c.join(' ')}]`).join(' ')}` : '', pidsStable ? '' : 'processes came or went'].filter((s) => s !== '');
    log(`attempt ${attempt}/${retries}: ${why.join('; ')}; retrying`);
    await sleep(Math.min(3000, 150 * attempt));
  }
  throw new CaptureError(`no quiet moment in ${retries} attempts: the host keeps starting or ending processes`);
}
