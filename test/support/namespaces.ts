/**
 * Live test fixture: starts a set of awkward namespaces with unshare/setpriv/nsenter/bash and
 * returns the pids of the interesting processes, plus a cleanup that kills every process it
 * started and checks that none survives.
 *
 * Every process dies with the test process, even when that is killed: each case is started by node
 * under `setpriv --pdeathsig KILL`, every command a script starts in the background gets the same
 * prefix, `unshare --fork` gets `--kill-child`, and a setpriv that changes uids (which clears the
 * setting) sets it again itself. Everything carries the run's tag (test/support/tag.ts).
 *
 * Every case is started with `detached: true` (setsid), so each case is its own session and
 * process group (pgid = sid = the pid node spawned). Cleanup kills each group (kill -- -pgid),
 * then every tracked pid one by one (pid + start time, so a reused pid is never hit), then waits
 * until all of them are gone. A process killed after its parent died is reparented to pid 1; an
 * init may reap orphans only every few seconds, so a dead zombie parented to pid 1 is
 * reported separately (zombiesLeftToInit) and not as a survivor.
 *
 * Needs root and util-linux's unshare, nsenter and setpriv.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { NS_TYPES, type NsType } from '../../src/procfs/types.js';
import { DIE_WITH_PARENT, mortal, onAbort, taggedTempDir, type AbortCleanup } from './tag.js';

export interface OddProcess {
  label: string;
  pid: number;
  /** Exact bytes of /proc/<pid>/cmdline (NUL-terminated args). */
  cmdline: Buffer;
}

export interface AwkwardNamespaces {
  /** unshare (in new mnt net uts ipc user cgroup) and its forked `sleep` (also new pid and time). */
  all8: { parent: number; child: number };
  /** Two levels of user+pid namespaces: outer unshare -Ur, inner unshare -Ur, leaf sleep. */
  nested: { outer: number; inner: number; leaf: number };
  /** Processes with odd argv, each alone (lowest pid) in a new uts namespace. */
  odd: OddProcess[];
  /** uid 65534 (nobody), alone in a new ipc namespace. */
  otherUid: { pid: number; uid: number };
  /** uid 4000000 (no passwd entry), alone in a new ipc namespace. */
  unknownUid: { pid: number; uid: number };
  /** A zombie alone in a new user namespace whose parent (`sleep`) never reaps it. Its comm
   * (shown as COMMAND) contains `) (` and a tab. */
  zombie: { parent: number; zombie: number; comm: string };
  /** A process tree whose children are in new namespaces of other types (uts > ipc > net/cgroup,
   * uts > mnt+time), so the lsns process tree nests across types. */
  tree: { root: number; ipcBash: number; net: number; cgroup: number; mntTime: number };
  /** A child in an OLD net namespace (created earlier, its creator since killed) whose inode is
   * smaller than its parent's new uts/ipc inodes: lsns prints it as a root (spec §2.2).
   * `ordered` says whether the inode order really came out that way. */
  oldNs: { parent: number; child: number; ordered: boolean; netIno: number };
  /** Every process started that is currently tracked (pids). */
  pids(): number[];
  cleanup(): Promise<CleanupReport>;
}

export interface CleanupReport {
  /** Pids that got a SIGKILL. */
  killed: number[];
  /** Processes still alive (not zombies) after the deadline, as "pid cmdline". Must be empty. */
  survivors: string[];
  /** Dead processes (state Z) reparented to pid 1 and not yet reaped by it at the deadline. */
  zombiesLeftToInit: number[];
}

interface ProcInfo {
  pid: number;
  ppid: number;
  state: string;
  pgrp: number;
  session: number;
  startTime: number;
  cmdline: Buffer;
}

const SLEEP = 'sleep';

function readProc(pid: number): ProcInfo | null {
  let stat: string;
  let cmdline: Buffer;
  try {
    stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    cmdline = fs.readFileSync(`/proc/${pid}/cmdline`);
  } catch {
    return null;
  }
  const close = stat.lastIndexOf(')');
  if (close < 0) return null;
  const f = stat.slice(close + 2).split(' ');
  const state = f[0];
  const ppid = Number(f[1]);
  const pgrp = Number(f[2]);
  const session = Number(f[3]);
  const startTime = Number(f[19]);
  if (state === undefined || !Number.isInteger(ppid) || !Number.isInteger(startTime)) return null;
  return { pid, ppid, state, pgrp, session, startTime, cmdline };
}

function listProcs(): Map<number, ProcInfo> {
  const out = new Map<number, ProcInfo>();
  for (const name of fs.readdirSync('/proc')) {
    if (!/^[1-9][0-9]*$/.test(name)) continue;
    const p = readProc(Number(name));
    if (p) out.set(p.pid, p);
  }
  return out;
}

/** Inode of /proc/<pid>/ns/<type>, or null when unreadable. */
export function nsInode(pid: number, type: NsType): number | null {
  try {
    const m = /^[a-z]+:\[([0-9]+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/ns/${type}`));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

function ownerUid(pid: number): number | null {
  try {
    return fs.statSync(`/proc/${pid}`).uid;
  } catch {
    return null;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function waitFor<T>(what: string, probe: () => T | null, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== null) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

/** bash $'...' literal of arbitrary bytes. */
function ansiC(bytes: Buffer): string {
  let s = "$'";
  for (const b of bytes) s += /[A-Za-z0-9]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : '\\x' + b.toString(16).padStart(2, '0');
  return s + "'";
}

const nul = Buffer.from([0]);
function cmdlineOf(args: readonly Buffer[]): Buffer {
  return Buffer.concat(args.flatMap((a) => [a, nul]));
}

interface OddSpec {
  label: string;
  argv0: Buffer;
  args: Buffer[];
  /** Run through a symlink to bash with this name, so comm (stat) is odd as well. */
  symlink?: string;
}

const b = (s: string): Buffer => Buffer.from(s, 'utf8');

const ODD_SPECS: readonly OddSpec[] = [
  { label: 'spaces and ) (', argv0: b('odd  name) (with spaces'), args: [b('a b'), b(') (')], symlink: 'b) (x y' },
  { label: 'tab and newline', argv0: b('tab\there'), args: [b('new\nline'), b('cr\rx')] },
  { label: 'quote and backslash', argv0: b('say "hi"'), args: [b('back\\slash'), b('\\x41'), b("it's")] },
  { label: 'non-ASCII UTF-8', argv0: b('héllo中文😀'), args: [b('\u00a0nbsp\u200bzw'), b('\u2028ls\u0085nel')] },
  {
    label: 'invalid UTF-8 and controls',
    argv0: Buffer.from([0x62, 0x61, 0x64, 0xff, 0x62, 0x79, 0x74, 0x65, 0xc3]),
    args: [Buffer.from([0x01, 0x1b, 0x5b, 0x31, 0x6d, 0x7f, 0x80, 0x78])],
  },
  { label: 'argv longer than 8191 bytes', argv0: b('long'), args: [b('x'.repeat(10000)), b('tail')] },
  { label: 'empty last arg', argv0: b('emp'), args: [b('a  b'), b('')] },
];

class Tracker {
  readonly roots: ChildProcess[] = [];
  /** pid -> start time of every process seen as part of our cases. */
  readonly known = new Map<number, number>();
  readonly tmp: string;
  /** Kills every group at exit or when the test is stopped by a signal, unless cleanup() ran. */
  private readonly abort: AbortCleanup;

  constructor() {
    this.tmp = taggedTempDir('awkward-ns', os.tmpdir());
    this.abort = onAbort(() => {
      this.killGroupsSync();
      fs.rmSync(this.tmp, { recursive: true, force: true });
    });
  }

  spawn(cmd: string, args: readonly string[]): number {
    // Spawned by node itself: the death signal is sent when its parent, this process, dies.
    const child = spawn(...mortal(cmd, args), { detached: true, stdio: 'ignore' });
    child.on('error', () => undefined);
    child.unref();
    if (child.pid === undefined) throw new Error(`cannot start ${cmd}`);
    this.roots.push(child);
    const info = readProc(child.pid);
    if (info) this.known.set(child.pid, info.startTime);
    return child.pid;
  }

  /** Every process of our sessions or below our roots, registered on the way. */
  scan(): Map<number, ProcInfo> {
    const procs = listProcs();
    const rootPids = new Set(this.roots.map((r) => r.pid as number));
    const mine = new Map<number, ProcInfo>();
    for (const p of procs.values()) {
      if (rootPids.has(p.pid) || rootPids.has(p.session)) mine.set(p.pid, p);
    }
    // Descendants that might have left the session (setsid) are still found through ppid.
    let grew = true;
    while (grew) {
      grew = false;
      for (const p of procs.values()) {
        if (!mine.has(p.pid) && mine.has(p.ppid)) {
          mine.set(p.pid, p);
          grew = true;
        }
      }
    }
    for (const p of mine.values()) if (!this.known.has(p.pid)) this.known.set(p.pid, p.startTime);
    return mine;
  }

  children(procs: Map<number, ProcInfo>, parent: number): ProcInfo[] {
    return [...procs.values()].filter((p) => p.ppid === parent);
  }

  killGroupsSync(): void {
    for (const r of this.roots) {
      try {
        process.kill(-(r.pid as number), 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
  }

  async killRoot(pid: number): Promise<void> {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      /* gone */
    }
    await waitFor(`pid ${pid} to exit`, () => (readProc(pid) === null ? true : null), 30_000);
  }

  async cleanup(): Promise<CleanupReport> {
    this.scan();
    const killed: number[] = [];
    const alive = (): ProcInfo[] => {
      const out: ProcInfo[] = [];
      for (const [pid, start] of this.known) {
        const p = readProc(pid);
        if (p && p.startTime === start) out.push(p);
      }
      return out;
    };
    this.killGroupsSync();
    const deadline = Date.now() + 15000;
    for (;;) {
      this.scan();
      const left = alive();
      const living = left.filter((p) => p.state !== 'Z' && p.state !== 'X');
      for (const p of living) {
        try {
          process.kill(p.pid, 'SIGKILL');
          if (!killed.includes(p.pid)) killed.push(p.pid);
        } catch {
          /* raced with its exit */
        }
      }
      if (left.length === 0 || Date.now() > deadline) {
        // Only now: a test stopped while this awaited still needs the synchronous group kill.
        this.abort.cancel();
        fs.rmSync(this.tmp, { recursive: true, force: true });
        return {
          killed,
          survivors: living.map((p) => `${p.pid} ${p.cmdline.toString('latin1').replace(/\0/g, ' ')}`),
          zombiesLeftToInit: left.filter((p) => (p.state === 'Z' || p.state === 'X') && p.ppid === 1).map((p) => p.pid),
        };
      }
      await sleep(50);
    }
  }
}

/** The test process's own namespaces, to tell whether a child really entered new ones. */
function ownInodes(): Map<NsType, number | null> {
  return new Map(NS_TYPES.map((t) => [t, nsInode(process.pid, t)]));
}

export async function startAwkwardNamespaces(): Promise<AwkwardNamespaces> {
  const tr = new Tracker();
  const own = ownInodes();
  const entered = (pid: number, types: readonly NsType[]): boolean =>
    types.every((t) => {
      const ino = nsInode(pid, t);
      return ino !== null && ino !== own.get(t);
    });
  const cmd = (p: ProcInfo): string => p.cmdline.toString('latin1').replace(/\0/g, ' ').trimEnd();
  // Distinct sleep lengths make every leaf easy to pick out (and to spot in ps).
  let nextSleep = 860000 + (process.pid % 1000) * 20;
  const sleepArg = (): string => String(nextSleep++);

  try {
    // The OLD-namespace case first: its net namespace must get a smaller inode than the parent's
    // uts/ipc ones created later (inode numbers are handed out lowest-free, so check and retry).
    let oldNs: AwkwardNamespaces['oldNs'] | null = null;
    for (let attempt = 0; attempt < 5 && (oldNs === null || !oldNs.ordered); attempt++) {
      if (oldNs) await tr.killRoot(oldNs.parent);
      const holderSleep = sleepArg();
      const holder = tr.spawn('unshare', ['--net', '--', SLEEP, holderSleep]);
      await waitFor('net holder', () => (readProc(holder) && cmd(readProc(holder) as ProcInfo) === `sleep ${holderSleep}` && entered(holder, ['net']) ? true : null));
      const netIno = nsInode(holder, 'net') as number;
      const childSleep = sleepArg();
      const parent = tr.spawn('unshare', ['--uts', '--ipc', '--', 'bash', '-c', `${DIE_WITH_PARENT} nsenter --net=/proc/${holder}/ns/net -- ${SLEEP} ${childSleep} & wait`]);
      const child = await waitFor('child in the old net namespace', () => {
        if (!entered(parent, ['uts', 'ipc'])) return null;
        const c = tr.children(tr.scan(), parent).find((p) => cmd(p) === `sleep ${childSleep}`);
        return c && nsInode(c.pid, 'net') === netIno ? c.pid : null;
      });
      await tr.killRoot(holder);
      const uts = nsInode(parent, 'uts') as number;
      const ipc = nsInode(parent, 'ipc') as number;
      oldNs = { parent, child, netIno, ordered: netIno < uts && netIno < ipc };
    }

    const all8Sleep = sleepArg();
    const all8Parent = tr.spawn('unshare', ['--mount', '--net', '--pid', '--uts', '--ipc', '--user', '--cgroup', '--time', '--fork', '--kill-child', '--', SLEEP, all8Sleep]);

    const nestedSleep = sleepArg();
    const mp = ['-Ur', '--fork', '--kill-child', '--pid', '--mount-proc', '--'];
    const nestedOuter = tr.spawn('unshare', [...mp, 'unshare', ...mp, SLEEP, nestedSleep]);

    const oddStarted: Array<{ spec: OddSpec; pid: number; cmdline: Buffer; sleep: string }> = [];
    for (const spec of ODD_SPECS) {
      const s = sleepArg();
      let exe = '/bin/bash';
      if (spec.symlink !== undefined) {
        exe = path.join(tr.tmp, spec.symlink);
        fs.symlinkSync('/bin/bash', exe);
      }
      // `; :` keeps bash from exec'ing sleep, so sleep is its child: it needs its own death signal.
      const inner = `${DIE_WITH_PARENT} ${SLEEP} ${s}; :`;
      const script = `exec -a ${ansiC(spec.argv0)} "$0" -c '${inner}' ${spec.args.map(ansiC).join(' ')}`;
      const pid = tr.spawn('unshare', ['--uts', '--', 'bash', '-c', script, exe]);
      oddStarted.push({ spec, pid, sleep: s, cmdline: cmdlineOf([spec.argv0, b('-c'), b(inner), ...spec.args]) });
    }

    const setpriv = (uid: number): number => {
      // Changing uids clears the death signal: this setpriv sets it again after it has.
      return tr.spawn('unshare', ['--ipc', '--', 'setpriv', `--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', '--pdeathsig', 'KILL', '--', SLEEP, sleepArg()]);
    };
    const nobodyPid = setpriv(65534);
    const unknownPid = setpriv(4000000);

    const zombieComm = 'z) (q\tw';
    const zombieExe = path.join(tr.tmp, zombieComm);
    fs.symlinkSync('/bin/true', zombieExe);
    const zombieSleep = sleepArg();
    const zombieParent = tr.spawn('unshare', ['--uts', '--', 'bash', '-c', `( ${DIE_WITH_PARENT} sleep 0.3; exec unshare --user -- "$0" ) & exec ${SLEEP} ${zombieSleep}`, zombieExe]);

    const [sNet, sCg, sMnt] = [sleepArg(), sleepArg(), sleepArg()];
    const ipcBashCmd = `${DIE_WITH_PARENT} unshare --ipc -- bash -c "${DIE_WITH_PARENT} unshare --net -- ${SLEEP} ${sNet} & ${DIE_WITH_PARENT} unshare --cgroup -- ${SLEEP} ${sCg} & wait"`;
    const treeRoot = tr.spawn('unshare', ['--uts', '--', 'bash', '-c', `${ipcBashCmd} & ${DIE_WITH_PARENT} unshare --mount --time -- ${SLEEP} ${sMnt} & wait`]);

    const all8 = await waitFor('all 8 namespace types', () => {
      if (!entered(all8Parent, ['mnt', 'net', 'uts', 'ipc', 'user', 'cgroup'])) return null;
      const c = tr.children(tr.scan(), all8Parent).find((p) => cmd(p) === `sleep ${all8Sleep}`);
      return c && entered(c.pid, NS_TYPES) ? { parent: all8Parent, child: c.pid } : null;
    });

    const nested = await waitFor('nested user+pid namespaces', () => {
      if (!entered(nestedOuter, ['user', 'mnt'])) return null;
      const procs = tr.scan();
      const inner = tr.children(procs, nestedOuter).find((p) => cmd(p).startsWith('unshare '));
      if (!inner || !entered(inner.pid, ['pid', 'user', 'mnt'])) return null;
      if (nsInode(inner.pid, 'user') === nsInode(nestedOuter, 'user')) return null;
      const leaf = tr.children(procs, inner.pid).find((p) => cmd(p) === `sleep ${nestedSleep}`);
      if (!leaf || nsInode(leaf.pid, 'pid') === nsInode(inner.pid, 'pid') || nsInode(leaf.pid, 'user') !== nsInode(inner.pid, 'user')) return null;
      return { outer: nestedOuter, inner: inner.pid, leaf: leaf.pid };
    });

    const odd: OddProcess[] = [];
    for (const o of oddStarted) {
      await waitFor(`odd command "${o.spec.label}"`, () => {
        const p = readProc(o.pid);
        return p && p.cmdline.equals(o.cmdline) && entered(o.pid, ['uts']) ? true : null;
      });
      odd.push({ label: o.spec.label, pid: o.pid, cmdline: o.cmdline });
    }

    const uidReady = (pid: number, uid: number) => (): { pid: number; uid: number } | null =>
      ownerUid(pid) === uid && entered(pid, ['ipc']) && (readProc(pid)?.cmdline.toString().startsWith(SLEEP) ?? false) ? { pid, uid } : null;
    const otherUid = await waitFor('uid 65534 process', uidReady(nobodyPid, 65534));
    const unknownUid = await waitFor('uid 4000000 process', uidReady(unknownPid, 4000000));

    const zombie = await waitFor('unreaped zombie in a new user namespace', () => {
      const parent = readProc(zombieParent);
      if (!parent || cmd(parent) !== `sleep ${zombieSleep}` || !entered(zombieParent, ['uts'])) return null;
      const z = tr.children(tr.scan(), zombieParent).find((p) => p.state === 'Z');
      if (!z) return null;
      const zi = nsInode(z.pid, 'user');
      return zi !== null && zi !== own.get('user') && zi !== nsInode(zombieParent, 'user') ? { parent: zombieParent, zombie: z.pid, comm: zombieComm } : null;
    });

    const tree = await waitFor('cross-type process tree', () => {
      if (!entered(treeRoot, ['uts'])) return null;
      const procs = tr.scan();
      const kids = tr.children(procs, treeRoot);
      const ipcBash = kids.find((p) => cmd(p).startsWith(`bash -c ${DIE_WITH_PARENT} unshare --net`));
      const mnt = kids.find((p) => cmd(p) === `sleep ${sMnt}`);
      if (!ipcBash || !mnt || !entered(ipcBash.pid, ['ipc']) || !entered(mnt.pid, ['mnt', 'time'])) return null;
      const grand = tr.children(procs, ipcBash.pid);
      const net = grand.find((p) => cmd(p) === `sleep ${sNet}`);
      const cg = grand.find((p) => cmd(p) === `sleep ${sCg}`);
      if (!net || !cg || !entered(net.pid, ['net']) || !entered(cg.pid, ['cgroup'])) return null;
      return { root: treeRoot, ipcBash: ipcBash.pid, net: net.pid, cgroup: cg.pid, mntTime: mnt.pid };
    });

    tr.scan();
    return {
      all8,
      nested,
      odd,
      otherUid,
      unknownUid,
      zombie,
      tree,
      oldNs: oldNs as AwkwardNamespaces['oldNs'],
      pids: () => [...tr.known.keys()].filter((pid) => readProc(pid)?.startTime === tr.known.get(pid)),
      cleanup: () => tr.cleanup(),
    };
  } catch (err) {
    const report = await tr.cleanup();
    if (report.survivors.length > 0) {
      throw new Error(`${(err as Error).message}; and these survived the cleanup: ${report.survivors.join(', ')}`, { cause: err });
    }
    throw err;
  }
}
