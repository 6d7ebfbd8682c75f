/**
 * The incremental scanner on the live /proc with pidfds (the daemon's mode), against what the
 * kernel says about the test's own processes: start, exec, setuid, unshare without exec (seen
 * after the sweep), reparenting, exit. Only the test's own namespaces are compared: other
 * processes of the machine come and go meanwhile.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import t from 'tap';
import { mortal } from '../support/tag.js';
import { loadUserNames, passwdCandidates } from '../../src/procfs/passwd.js';
import { ProcReader } from '../../src/procfs/reader.js';
import { PidWatcher } from '../../src/native/pid-watch.js';
import { IncrementalScanner } from '../../src/scan/incremental.js';
import { drainTick as runTick } from '../support/drain-tick.js';
import type { NamespaceRow } from '../../src/scan/namespaces.js';

const why = process.getuid?.() !== 0 ? 'needs root' : !fs.existsSync('/usr/bin/unshare') ? 'needs unshare' : null;
if (why) t.plan(0, why);

/**
 * A python3 process that obeys lines on stdin: unshare, setuid, fork, exec, exit. It dies with the
 * test: it runs under setpriv --pdeathsig and sets that again after setuid, which clears it. Its
 * fork must outlive it (reparenting is what is tested), so no death signal there: it blocks on
 * fd 3, a pipe whose other end only the test process holds, and exits when that closes.
 */
const CONTROLLER = String.raw`
import ctypes, os, sys, time
libc = ctypes.CDLL(None, use_errno=True)
print("ready", flush=True)
for line in sys.stdin:
    cmd = line.split()
    if not cmd: continue
    if cmd[0] == "unshare-uts":
        if libc.unshare(0x04000000) != 0: print("error", ctypes.get_errno(), flush=True); continue
    elif cmd[0] == "setuid":
        os.setuid(int(cmd[1])); libc.prctl(1, 9)  # PR_SET_PDEATHSIG, SIGKILL
    elif cmd[0] == "fork":
        if os.fork() == 0:
            os.setsid(); os.execvp("python3", ["python3", "-c", "import os; os.read(3, 1)"])
    elif cmd[0] == "exec": os.execvp(cmd[1], cmd[1:])
    elif cmd[0] == "exit": os._exit(0)
    print("ok", flush=True)
`;

const users = loadUserNames(passwdCandidates('/proc'));
const scanner = (fullRescanMs: number): IncrementalScanner => new IncrementalScanner(new ProcReader('/proc'), users, { fullRescanMs, cgroups: false, detailsMaxAgeMs: 0 });

function ino(pid: number, type: string): number {
  return Number(/\[(\d+)\]/.exec(fs.readlinkSync(`/proc/${pid}/ns/${type}`))?.[1]);
}

function ppidOf(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}

function commandOf(pid: number): string {
  return fs.readFileSync(`/proc/${pid}/cmdline`, 'latin1').replace(/\0$/, '').replaceAll('\0', ' ');
}

const rowOf = (s: IncrementalScanner, ns: number): NamespaceRow | undefined => s.rows.find((r) => r.ns === ns);

/**
 * The controller's replies, a line at a time: a pipe read may hold part of a line or several
 * lines (print's text and its newline can come as separate writes), so replies are framed by
 * newlines, never by read boundaries.
 */
function replies(child: ChildProcess): () => Promise<string> {
  const lines: string[] = [];
  const waiting: Array<(line: string) => void> = [];
  let partial = '';
  child.stdout?.on('data', (d: Buffer) => {
    const parts = (partial + d.toString()).split('\n');
    partial = parts.pop() ?? '';
    for (const line of parts) {
      const next = waiting.shift();
      if (next) next(line);
      else lines.push(line);
    }
  });
  return () => {
    const line = lines.shift();
    return line !== undefined ? Promise.resolve(line) : new Promise<string>((resolve) => waiting.push(resolve));
  };
}

async function send(child: ChildProcess, nextReply: () => Promise<string>, line: string, expect = 'ok'): Promise<void> {
  child.stdin?.write(`${line}\n`);
  const reply = await nextReply();
  if (!reply.startsWith(expect)) throw new Error(`controller said ${JSON.stringify(reply)} to ${line}`);
}

/** The children of pid (the controller's forks), for cleanup: read before pid is killed. */
function childrenOf(pid: number): number[] {
  try {
    return fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'latin1').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

t.test('start, exec, setuid, unshare, reparenting and exit, tick by tick', async (t) => {
  const child = spawn(...mortal('unshare', ['--ipc', 'python3', '-c', CONTROLLER]), { stdio: ['pipe', 'pipe', 'inherit', 'pipe'] });
  const extra: number[] = [];
  const nextReply = replies(child);
  t.teardown(() => {
    // A fork the test failed before recording would hold the controller's stdout open until this process exits.
    const forks = child.pid === undefined ? [] : childrenOf(child.pid);
    for (const pid of [child.pid, ...extra, ...forks]) {
      if (pid === undefined) continue;
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  });
  t.equal(await nextReply(), 'ready', 'the controller is up');
  const pid = child.pid as number;
  const ipc = ino(pid, 'ipc');
  const fast = scanner(3_600_000);
  const swept = scanner(5_000);
  runTick(fast);
  runTick(swept);
  t.match(rowOf(fast, ipc), { pid, nprocs: 1, ppid: ppidOf(pid), command: commandOf(pid), uid: 0 }, 'present from the first tick');

  // Old enough that it is no longer re-read as young.
  for (let i = 0; i < 5; i++) runTick(fast);

  await send(child, nextReply, 'unshare-uts');
  const uts = ino(pid, 'uts');
  runTick(fast);
  t.notOk(rowOf(fast, uts), 'its own unshare is not seen before the sweep (the documented bound)');
  await new Promise((r) => setTimeout(r, 5_100));
  runTick(swept);
  t.match(rowOf(swept, uts), { pid, nprocs: 1 }, 'seen once the sweep has re-read it');

  await send(child, nextReply, 'setuid 65534');
  runTick(fast);
  t.match(rowOf(fast, ipc), { pid, uid: 65534 }, 'setuid is seen by the next tick');

  await send(child, nextReply, 'fork');
  runTick(fast);
  t.match(rowOf(fast, ipc), { pid, nprocs: 2 }, 'a new process in the namespace is counted');
  const kids = fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'latin1').trim().split(/\s+/).map(Number);
  const kid = kids[0] as number;
  extra.push(kid);

  // The controller splits its line on whitespace: the program passed to -c must have none.
  child.stdin?.write("exec python3 -c __import__('time').sleep(300) renamed\n");
  // Wait for the exec to show in the kernel's cmdline (the controller says nothing after exec).
  for (let i = 0; i < 100 && !commandOf(pid).includes('renamed'); i++) await new Promise((r) => setTimeout(r, 20));
  runTick(fast);
  t.equal(rowOf(fast, ipc)?.command, commandOf(pid), 'exec is seen by the next tick');

  process.kill(pid, 'SIGKILL');
  for (let i = 0; i < 200 && fs.existsSync(`/proc/${pid}`); i++) await new Promise((r) => setTimeout(r, 20));
  runTick(fast);
  t.match(rowOf(fast, ipc), { pid: kid, nprocs: 1, ppid: ppidOf(kid) }, 'the child represents the namespace after its parent exited, reparented');

  process.kill(kid, 'SIGKILL');
  for (let i = 0; i < 200 && fs.existsSync(`/proc/${kid}`); i++) await new Promise((r) => setTimeout(r, 20));
  runTick(fast);
  t.notOk(rowOf(fast, ipc), 'the namespace is gone with its last process');
  fast.close();
  swept.close();
});

t.test('more processes than pidfds: the ones beyond are looked for one by one', async (t) => {
  // Six sleepers in their own uts namespaces; the watcher may hold 3 pidfds, so almost every
  // process of the machine, and most of the sleepers, are beyond it.
  const kids: ChildProcess[] = [];
  t.teardown(() => {
    for (const k of kids) {
      try {
        if (k.pid !== undefined) process.kill(k.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  });
  const start = async (): Promise<number> => {
    const k = spawn(...mortal('unshare', ['--uts', '--', 'sleep', '300']), { stdio: 'ignore' });
    kids.push(k);
    const pid = k.pid as number;
    for (let i = 0; i < 200 && !commandOf(pid).startsWith('sleep'); i++) await new Promise((r) => setTimeout(r, 10));
    return pid;
  };
  const stop = async (pid: number): Promise<void> => {
    process.kill(pid, 'SIGKILL');
    for (let i = 0; i < 200 && fs.existsSync(`/proc/${pid}`); i++) await new Promise((r) => setTimeout(r, 20));
  };
  const pids: number[] = [];
  for (let i = 0; i < 6; i++) pids.push(await start());
  const watcher = PidWatcher.create({ maxWatched: 3 });
  if (!(watcher instanceof PidWatcher)) throw new Error(`no pidfd watcher here: ${watcher.reason}`);
  const s = new IncrementalScanner(new ProcReader('/proc'), users, { fullRescanMs: 3_600_000, cgroups: false, detailsMaxAgeMs: 0, watcher });
  runTick(s);
  t.equal(watcher.size, 3, 'the watcher holds its 3 pidfds');
  t.ok(s.unwatchedCount > 3, `the other processes are unwatched (${s.unwatchedCount})`);
  t.equal(s.listingReason, null, 'pidfds stay in use');
  for (const pid of pids) t.match(rowOf(s, ino(pid, 'uts')), { pid, nprocs: 1 }, `sleeper ${pid} shown`);

  // Kill every sleeper that has no pidfd, and one that has (its pidfd frees a place).
  const unwatched = pids.filter((p) => !watcher.has(p));
  const watched = pids.find((p) => watcher.has(p));
  t.ok(unwatched.length > 0, 'some sleepers have no pidfd');
  const killed = [...unwatched, ...(watched === undefined ? [] : [watched])];
  const killedUts = killed.map((p) => ino(p, 'uts'));
  for (const pid of killed) await stop(pid);
  const stats = runTick(s);
  t.equal(stats.listedProc, false, '/proc was not listed');
  for (const [i, pid] of killed.entries()) t.notOk(rowOf(s, killedUts[i] as number), `sleeper ${pid} gone after one tick`);
  for (const pid of pids.filter((p) => !killed.includes(p))) t.match(rowOf(s, ino(pid, 'uts')), { pid, nprocs: 1 }, `sleeper ${pid} still shown`);
  t.equal(watcher.size, 3, 'the freed pidfd went to a process that had none');

  const late = await start();
  runTick(s);
  t.match(rowOf(s, ino(late, 'uts')), { pid: late, nprocs: 1 }, 'a new process beyond the pidfds is shown');
  const lateUts = ino(late, 'uts');
  await stop(late);
  runTick(s);
  t.notOk(rowOf(s, lateUts), 'and gone after it exits');
  s.close();
});
