/**
 * Live holders fixture: processes started by pid, each under `setpriv --pdeathsig KILL` (they die
 * with the test process) and carrying the run's tag (test/support/tag.ts), in a tagged temp dir;
 * a small python3 helper that holds a namespace by an open fd or by one non-leader thread, or asks
 * the kernel for a namespace's parent (ioctl NS_GET_PARENT); and what /proc says holds a set of
 * namespaces (process, thread, fd, nsfs bind mount), read here, never by the code under test.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { mortal, onAbort, taggedTempDir, type AbortCleanup } from './tag.js';

/** Debian's python3 (comm `python3`), else the first in PATH. */
export const PYTHON = fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

/**
 * `fd PATH...`: opens each namespace file, prints the fds, sleeps.
 * `thread PATH FLAG`: a second thread setns()es into PATH (FLAG = its CLONE_NEW* value), closes
 * the fd, prints its tid and sleeps; the main thread stays where it was and waits for it.
 * `parent PATH`: prints the inode of PATH's parent namespace (NS_GET_PARENT), that parent's
 * creator uid (NS_GET_OWNER_UID) and the inode of the parent's own parent, then exits.
 */
const HELPER_PY = `import ctypes, fcntl, os, struct, sys, threading, time
NS_GET_PARENT = 0xb702
NS_GET_OWNER_UID = 0xb704
mode = sys.argv[1]
if mode == 'fd':
    fds = [os.open(p, os.O_RDONLY) for p in sys.argv[2:]]
    print(' '.join(str(fd) for fd in fds), flush=True)
    while True:
        time.sleep(3600)
elif mode == 'thread':
    fd = os.open(sys.argv[2], os.O_RDONLY)
    flag = int(sys.argv[3], 0)
    libc = ctypes.CDLL(None, use_errno=True)
    def run():
        if libc.setns(fd, flag) != 0:
            print('setns: errno %d' % ctypes.get_errno(), flush=True)
            os._exit(1)
        os.close(fd)
        print(threading.get_native_id(), flush=True)
        while True:
            time.sleep(3600)
    th = threading.Thread(target=run)
    th.start()
    th.join()
elif mode == 'parent':
    fd = os.open(sys.argv[2], os.O_RDONLY)
    parent = fcntl.ioctl(fd, NS_GET_PARENT)
    uid = struct.unpack('I', fcntl.ioctl(parent, NS_GET_OWNER_UID, bytes(4)))[0]
    grand = fcntl.ioctl(parent, NS_GET_PARENT)
    print(os.fstat(parent).st_ino, uid, os.fstat(grand).st_ino, flush=True)
else:
    sys.exit('unknown mode ' + mode)
`;

export interface Started {
  pid: number;
  child: ChildProcess;
  /** What it printed so far. */
  stdout: () => string;
  stderr: () => string;
  exited: Promise<void>;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** comm, state letter and ppid from /proc/<pid>/stat; null once gone. */
export function procStat(pid: number): { comm: string; state: string; ppid: number } | null {
  let stat: string;
  try {
    stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return null;
  }
  const open = stat.indexOf('(');
  const close = stat.lastIndexOf(')');
  if (open < 0 || close < open) return null;
  const f = stat.slice(close + 2).split(' ');
  return { comm: stat.slice(open + 1, close), state: f[0] ?? '?', ppid: Number(f[1]) };
}

/** Inode named by a namespace link (`net:[4026532...]`), or null. */
export function linkInode(p: string): { type: string; ino: number } | null {
  try {
    const m = /^([a-z]+):\[([0-9]+)\]$/.exec(fs.readlinkSync(p));
    return m ? { type: m[1] as string, ino: Number(m[2]) } : null;
  } catch {
    return null;
  }
}

/** `stat -L -c %i`: the inode of the namespace a path names, or null. */
export function statInode(p: string): number | null {
  try {
    return fs.statSync(p).ino;
  } catch {
    return null;
  }
}

/** Polls `read` until two reads in a row are equal and `ok`, and returns that value. */
export async function stable<T>(what: string, read: () => T, ok: (v: T) => boolean, timeoutMs = 90_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: T | undefined;
  let have = false;
  for (;;) {
    const v = read();
    if (ok(v) && have && isDeepStrictEqual(v, last)) return v;
    have = ok(v);
    last = v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; last read: ${JSON.stringify(v)}`);
    await sleep(100);
  }
}

export type ProcHolder =
  | { kind: 'process'; pid: number }
  | { kind: 'thread'; pid: number; tid: number }
  | { kind: 'fd'; pid: number; fd: number }
  /** An nsfs mount in the mount namespace `mnt` (read through process `via`). */
  | { kind: 'mount'; mnt: number; point: string; via: number };

const numeric = (dir: string): number[] => {
  try {
    return fs
      .readdirSync(dir)
      .filter((n) => /^[0-9]+$/.test(n))
      .map(Number)
      .sort((a, b) => a - b);
  } catch {
    return [];
  }
};

/** Mount points in mountinfo are octal-escaped (`\\040` for a space). */
const unescapeMount = (s: string): string => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

/**
 * Everything /proc shows holding each of `inodes`: thread-group leaders' links, other threads'
 * links, open fds, and nsfs mounts in the mountinfo of every mount namespace a process is in.
 * Kernel threads and exiting processes simply show nothing. `skip`: pids to leave out.
 */
export function holdersInProc(inodes: ReadonlySet<number>, skip: ReadonlySet<number> = new Set([process.pid])): Map<number, ProcHolder[]> {
  const out = new Map<number, ProcHolder[]>();
  const add = (ino: number, h: ProcHolder): void => {
    if (!inodes.has(ino)) return;
    let list = out.get(ino);
    if (!list) out.set(ino, (list = []));
    list.push(h);
  };
  const mountNs = new Map<number, number>();
  for (const pid of numeric('/proc')) {
    if (skip.has(pid)) continue;
    for (const type of ['mnt', 'net', 'pid', 'uts', 'ipc', 'user', 'cgroup', 'time']) {
      const l = linkInode(`/proc/${pid}/ns/${type}`);
      if (l) add(l.ino, { kind: 'process', pid });
      if (l && type === 'mnt' && !mountNs.has(l.ino)) mountNs.set(l.ino, pid);
    }
    for (const tid of numeric(`/proc/${pid}/task`)) {
      if (tid === pid) continue;
      const seen = new Set<number>();
      for (const type of ['mnt', 'net', 'pid', 'uts', 'ipc', 'user', 'cgroup', 'time']) {
        const l = linkInode(`/proc/${pid}/task/${tid}/ns/${type}`);
        if (l && !seen.has(l.ino)) {
          seen.add(l.ino);
          add(l.ino, { kind: 'thread', pid, tid });
        }
      }
    }
    for (const fd of numeric(`/proc/${pid}/fd`)) {
      const l = linkInode(`/proc/${pid}/fd/${fd}`);
      if (l) add(l.ino, { kind: 'fd', pid, fd });
    }
  }
  for (const [mnt, via] of mountNs) {
    let text: string;
    try {
      text = fs.readFileSync(`/proc/${via}/mountinfo`, 'latin1');
    } catch {
      continue;
    }
    for (const line of text.split('\n')) {
      const sep = line.indexOf(' - ');
      if (sep < 0 || line.slice(sep + 3).split(' ')[0] !== 'nsfs') continue;
      const f = line.slice(0, sep).split(' ');
      const m = /^[a-z]+:\[([0-9]+)\]$/.exec(f[3] ?? '');
      if (m) add(Number(m[1]), { kind: 'mount', mnt, point: unescapeMount(f[4] ?? ''), via });
    }
  }
  return out;
}

/** Processes started by pid in a tagged temp dir; cleanup() kills each by pid and waits. */
export class HolderLab {
  readonly tmp: string;
  readonly helper: string;
  private readonly started: Started[] = [];
  private readonly abort: AbortCleanup;

  constructor(what: string) {
    this.tmp = fs.realpathSync(taggedTempDir(what, os.tmpdir()));
    this.helper = path.join(this.tmp, 'holder.py');
    fs.writeFileSync(this.helper, HELPER_PY);
    // Synchronous: also runs when the test is stopped by a signal (processes in other mount
    // namespaces take their mounts with them).
    this.abort = onAbort(() => {
      for (const s of this.started) if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill('SIGKILL');
      fs.rmSync(this.tmp, { recursive: true, force: true });
    });
  }

  start(cmd: string, args: readonly string[]): Started {
    const child = spawn(...mortal(cmd, args), { stdio: ['ignore', 'pipe', 'pipe'] });
    if (child.pid === undefined) throw new Error(`cannot start ${cmd}`);
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString('latin1')));
    child.stderr.on('data', (d: Buffer) => (err += d.toString('latin1')));
    const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
    child.on('error', () => undefined);
    const s: Started = { pid: child.pid, child, stdout: () => out, stderr: () => err, exited };
    this.started.push(s);
    return s;
  }

  /** The python helper (see HELPER_PY), held as a process of ours. */
  python(args: readonly string[]): Started {
    return this.start(PYTHON, [this.helper, ...args]);
  }

  /** The helper's one-shot `parent` query: [parent inode, its creator uid, grandparent inode]. */
  parentOf(nsPath: string): [number, number, number] {
    const r = spawnSync(PYTHON, [this.helper, 'parent', nsPath], { encoding: 'utf8', timeout: 60_000 });
    const m = /^([0-9]+) ([0-9]+) ([0-9]+)\n$/.exec(r.stdout);
    if (r.status !== 0 || !m) throw new Error(`holder.py parent ${nsPath}: exit ${r.status}: ${r.stdout}${r.stderr}`);
    return [Number(m[1]), Number(m[2]), Number(m[3])];
  }

  /** SIGKILL by pid, then wait until node has reaped it (its exit event: waitpid returned). */
  async kill(s: Started, timeoutMs = 60_000): Promise<void> {
    if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill('SIGKILL');
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
    const gone = await Promise.race([s.exited.then(() => true), late]);
    clearTimeout(timer);
    if (!gone) throw new Error(`pid ${s.pid} was not reaped within ${timeoutMs} ms`);
  }

  /** Kills everything started; returns the pids still there afterwards (must be none). */
  async cleanup(): Promise<number[]> {
    for (const s of this.started) {
      try {
        await this.kill(s, 30_000);
      } catch {
        /* reported below */
      }
    }
    this.abort.cancel();
    fs.rmSync(this.tmp, { recursive: true, force: true });
    return this.started.filter((s) => s.child.exitCode === null && s.child.signalCode === null).map((s) => s.pid);
  }
}
