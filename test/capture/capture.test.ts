import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import t from 'tap';
import { capture, cmdlinePids, copyFdLinks, copyThreads, emptySkipNotes, fixStatusUid, MAX_FDS_PER_PROCESS, pickTaskPid, type SourceIo } from '../../src/capture/snapshot.js';
import { NS_TYPES, type NsType } from '../../src/procfs/types.js';
import { mortal } from '../support/tag.js';

const links = (entries: Array<[number, Array<[NsType, string]>]>) => new Map(entries.map(([pid, l]) => [pid, new Map(l)]));

t.test('fixStatusUid rewrites only the effective uid, only when it differs', async (t) => {
  const status = 'Name:\tx\nUid:\t1000\t65534\t65534\t65534\nGid:\t0\t0\t0\t0\n';
  t.equal(fixStatusUid(status, 65534), null);
  t.equal(fixStatusUid(status, 0), 'Name:\tx\nUid:\t1000\t0\t65534\t65534\nGid:\t0\t0\t0\t0\n');
  t.equal(fixStatusUid('Name:\tx\n', 0), null, 'no Uid line: left alone');
});

t.test('pickTaskPid and cmdlinePids', async (t) => {
  const l = links([
    [
      2,
      [
        ['uts', 'uts:[1]'],
        ['ipc', 'ipc:[2]'],
      ],
    ],
    [
      50,
      [
        ['uts', 'uts:[1]'],
        ['ipc', 'ipc:[2]'],
      ],
    ],
    [
      60,
      [
        ['uts', 'uts:[3]'],
        ['ipc', 'ipc:[2]'],
      ],
    ],
    [
      70,
      [
        ['uts', 'uts:[4]'],
        ['ipc', 'ipc:[5]'],
      ],
    ],
    [
      80,
      [
        ['uts', 'uts:[4]'],
        ['ipc', 'ipc:[5]'],
      ],
    ],
  ]);
  t.equal(pickTaskPid(l, new Set()), 70, 'most non-first namespaces, lowest pid');
  t.equal(pickTaskPid(l, new Set([70, 80])), 60);
  t.equal(pickTaskPid(links([[2, [['uts', 'uts:[1]']]]]), new Set()), null);
  t.same(
    [...cmdlinePids(l)].sort((a, b) => a - b),
    [2, 60, 70, 80],
    'not 50: only in the first namespaces, lowest of none',
  );
});

/** A SourceIo over a table of paths: a string is a link target or a file's text, a string[] a
 * directory listing, a number a directory's nlink, an Error thrown as is. */
function fakeSource(entries: Record<string, string | string[] | number | NodeJS.ErrnoException>): SourceIo {
  const get = (p: string): string | string[] | number => {
    const v = entries[p];
    if (v === undefined) throw errno('ENOENT', p);
    if (v instanceof Error) throw v;
    return v;
  };
  return {
    readdir: (d) => get(d) as string[],
    readlink: (f) => Buffer.from(get(f) as string, 'latin1'),
    nlink: (d) => get(`nlink:${d}`) as number,
    readFile: (f) => Buffer.from(get(f) as string, 'latin1'),
  };
}

function errno(code: string, p: string): NodeJS.ErrnoException {
  const err: NodeJS.ErrnoException = new Error(`${code}: ${p}`);
  err.code = code;
  return err;
}

const readTree = (dir: string): Record<string, string> => {
  const out: Record<string, string> = {};
  const walk = (rel: string): void => {
    for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const r = path.join(rel, e.name);
      if (e.isDirectory()) walk(r);
      else if (e.isSymbolicLink()) out[r] = `-> ${fs.readlinkSync(path.join(dir, r), { encoding: 'buffer' }).toString('latin1')}`;
      else out[r] = fs.readFileSync(path.join(dir, r), 'latin1');
    }
  };
  walk('');
  return out;
};

t.test('copyFdLinks: every fd link with its text, capped, failures counted and never thrown', async (t) => {
  const dst = fs.mkdtempSync(path.join(os.tmpdir(), 'capture-fds-'));
  t.teardown(() => fs.rmSync(dst, { recursive: true, force: true }));
  const notes = emptySkipNotes();
  const io = fakeSource({
    '/p/1/fd': ['0', '1', '2', '3', '4', '5', '07', 'x'],
    '/p/1/fd/0': '/dev/null',
    '/p/1/fd/1': 'socket:[12345]',
    '/p/1/fd/2': 'net:[4026532001]',
    '/p/1/fd/3': '/tmp/caf\xe9 (deleted)',
    '/p/1/fd/4': 'anon_inode:[eventfd]',
    // 5: closed between the listing and the readlink (ENOENT)
    '/p/2/fd': errno('EACCES', '/p/2/fd'),
    '/p/3/fd': errno('ESRCH', '/p/3/fd'),
    '/p/4/fd': Array.from({ length: MAX_FDS_PER_PROCESS + 10 }, (_, i) => String(MAX_FDS_PER_PROCESS + 9 - i)),
    ...Object.fromEntries(Array.from({ length: MAX_FDS_PER_PROCESS + 10 }, (_, i) => [`/p/4/fd/${i}`, `pipe:[${i}]`])),
  });
  for (const pid of [1, 2, 3, 4, 5]) copyFdLinks(io, `/p/${pid}`, path.join(dst, String(pid)), pid, notes);
  const one = readTree(path.join(dst, '1'));
  t.same(one, {
    'fd/0': '-> /dev/null',
    'fd/1': '-> socket:[12345]',
    'fd/2': '-> net:[4026532001]',
    'fd/3': '-> /tmp/caf\xe9 (deleted)',
    'fd/4': '-> anon_inode:[eventfd]',
  });
  t.notOk(fs.existsSync(path.join(dst, '2')), 'EACCES: nothing recorded');
  const four = fs.readdirSync(path.join(dst, '4', 'fd')).map(Number);
  t.equal(four.length, MAX_FDS_PER_PROCESS, 'capped');
  t.equal(Math.max(...four), MAX_FDS_PER_PROCESS - 1, 'the lowest numbers kept');
  t.same(notes, { fdDirUnreadable: [2], fdsCapped: [4], fdLinks: 1, taskDirUnreadable: [], threads: 0, vanished: [3, 5] });
});

t.test('copyThreads: only processes with more than one thread, every thread, failures counted', async (t) => {
  const dst = fs.mkdtempSync(path.join(os.tmpdir(), 'capture-threads-'));
  t.teardown(() => fs.rmSync(dst, { recursive: true, force: true }));
  const notes = emptySkipNotes();
  const io = fakeSource({
    'nlink:/p/1/task': 3, // one thread: nothing to record
    '/p/1/task': ['1'],
    'nlink:/p/2/task': 5,
    '/p/2/task': ['2', '20', '21'], // 22 ended between the stat and the listing; 21 after it
    '/p/2/task/2/ns/net': 'net:[1]',
    '/p/2/task/2/ns/uts': 'uts:[2]',
    '/p/2/task/2/stat': '2 (py) S 1',
    '/p/2/task/20/ns/net': 'net:[9]',
    '/p/2/task/20/ns/uts': 'uts:[2]',
    // 20's stat gone after its links were read: the links are still recorded
    'nlink:/p/3/task': errno('ENOENT', '/p/3/task'),
    'nlink:/p/4/task': 4,
    '/p/4/task': errno('EACCES', '/p/4/task'),
  });
  for (const pid of [1, 2, 3, 4]) copyThreads(io, `/p/${pid}`, path.join(dst, String(pid)), pid, notes);
  t.notOk(fs.existsSync(path.join(dst, '1')), 'single-threaded: no task directory');
  t.same(readTree(path.join(dst, '2')), {
    'task/2/ns/net': '-> net:[1]',
    'task/2/ns/uts': '-> uts:[2]',
    'task/2/stat': '2 (py) S 1',
    'task/20/ns/net': '-> net:[9]',
    'task/20/ns/uts': '-> uts:[2]',
  });
  t.equal(fs.statSync(path.join(dst, '2', 'task')).nlink, 2 + 2, 'nlink 2 + recorded threads, as procfs counts');
  t.same(notes, { fdDirUnreadable: [], fdsCapped: [], fdLinks: 0, taskDirUnreadable: [4], threads: 1, vanished: [3] });
});

/** python3 itself, not a shim script that would exec it later. */
function python(): string | null {
  if (fs.existsSync('/usr/bin/python3')) return '/usr/bin/python3';
  const r = spawnSync('python3', ['-c', 'import sys; print(sys.executable)'], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.trim() !== '' ? r.stdout.trim() : null;
}

const liveSkip = process.geteuid?.() !== 0 ? 'needs root (unshare --net)' : python() === null ? 'needs python3' : false;

/** A non-leader thread setns's into the net namespace named by argv[1], prints its tid, sleeps. */
const THREAD_SETNS = `
import ctypes, os, sys, threading, time
libc = ctypes.CDLL(None, use_errno=True)
def run():
    fd = os.open(sys.argv[1], os.O_RDONLY)
    if libc.setns(fd, 0x40000000) != 0:
        print('setns failed', ctypes.get_errno(), flush=True)
        os._exit(1)
    os.close(fd)
    print(threading.get_native_id(), flush=True)
    time.sleep(300)
threading.Thread(target=run, daemon=True).start()
time.sleep(300)
`;

async function until(what: string, ok: () => boolean, ms = 10000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const comm = (pid: number): string => {
  try {
    return fs.readFileSync(`/proc/${pid}/comm`, 'latin1').trim();
  } catch {
    return '';
  }
};

t.test('capture records fd links and threads as the live /proc shows them', { skip: liveSkip }, async (t) => {
  const started: ChildProcess[] = [];
  const start = (cmd: string, args: string[]): ChildProcess => {
    const [c, a] = mortal(cmd, args);
    const child = spawn(c, a, { stdio: ['ignore', 'pipe', 'inherit'] });
    started.push(child);
    return child;
  };
  const dest = fs.mkdtempSync(path.join(os.tmpdir(), 'capture-live-'));
  t.teardown(async () => {
    for (const child of started) {
      if (child.exitCode !== null || child.signalCode !== null) continue;
      const exited = new Promise((r) => child.once('exit', r));
      if (child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
      await exited;
    }
    fs.rmSync(dest, { recursive: true, force: true });
  });

  // A net namespace of its own; its `sleep` (unshare execs it, same pid) is what the others name.
  const netns = start('unshare', ['--net', 'sleep', '300']).pid!;
  const ownNet = fs.readlinkSync('/proc/self/ns/net');
  await until('unshare --net', () => comm(netns) === 'sleep' && fs.readlinkSync(`/proc/${netns}/ns/net`) !== ownNet);
  const otherNet = fs.readlinkSync(`/proc/${netns}/ns/net`);

  // A process holding nsfs fds: 5 on its own ipc namespace, 6 on the other net namespace.
  const holder = start('bash', ['-c', `exec 5</proc/self/ns/ipc 6</proc/${netns}/ns/net; exec sleep 300`]).pid!;
  await until('fd holder', () => comm(holder) === 'sleep');

  // A process whose second thread is in the other net namespace.
  const py = start(python()!, ['-c', THREAD_SETNS, `/proc/${netns}/ns/net`]);
  const line = await new Promise<string>((resolve, reject) => {
    let text = '';
    py.stdout!.on('data', (b: Buffer) => {
      text += b.toString();
      if (text.includes('\n')) resolve(text.trim());
    });
    py.once('exit', () => reject(new Error(`python exited: ${text}`)));
  });
  t.match(line, /^[0-9]+$/, 'the thread setns-ed and printed its tid');
  const threaded = py.pid!;
  const tid = Number(line);

  // Proc-only (no lsns to agree with); the retries are for a host where processes come and go.
  const r = await capture({ dest, lsns: path.join(dest, 'no-lsns'), retries: 40, log: (l) => t.comment(`capture: ${l}`) });
  t.equal(r.lsns, false, 'proc-only capture');
  const out = path.join(dest, 'proc');
  const link = (p: string): string => fs.readlinkSync(p, { encoding: 'buffer' }).toString('latin1');

  // fds: the same set, each with the text the kernel gives (the kernel is the independent source).
  const liveFds = fs.readdirSync(`/proc/${holder}/fd`).sort();
  t.same(fs.readdirSync(path.join(out, String(holder), 'fd')).sort(), liveFds, 'every fd of the holder');
  for (const fd of liveFds) t.equal(link(path.join(out, String(holder), 'fd', fd)), link(`/proc/${holder}/fd/${fd}`), `fd ${fd}`);
  t.equal(link(path.join(out, String(holder), 'fd', '5')), fs.readlinkSync(`/proc/${holder}/ns/ipc`), 'fd 5: its ipc namespace');
  t.equal(link(path.join(out, String(holder), 'fd', '6')), otherNet, 'fd 6: the other net namespace');
  t.notOk(fs.existsSync(path.join(out, String(holder), 'task')), 'single-threaded: no task directory');

  // threads: every thread, every type, as readlink on the live task links says.
  const liveTids = fs.readdirSync(`/proc/${threaded}/task`).sort();
  t.ok(liveTids.includes(String(tid)) && liveTids.includes(String(threaded)), 'leader and thread are tasks');
  t.same(fs.readdirSync(path.join(out, String(threaded), 'task')).sort(), liveTids, 'every thread, the leader included');
  t.equal(fs.statSync(path.join(out, String(threaded), 'task')).nlink, fs.statSync(`/proc/${threaded}/task`).nlink, 'task nlink as on procfs');
  for (const tsk of liveTids) {
    for (const type of NS_TYPES) {
      t.equal(link(path.join(out, String(threaded), 'task', tsk, 'ns', type)), link(`/proc/${threaded}/task/${tsk}/ns/${type}`), `task ${tsk} ${type}`);
    }
    const stat = fs.readFileSync(path.join(out, String(threaded), 'task', tsk, 'stat'), 'latin1');
    const live = fs.readFileSync(`/proc/${threaded}/task/${tsk}/stat`, 'latin1');
    t.equal(stat.slice(0, stat.lastIndexOf(')') + 3), live.slice(0, live.lastIndexOf(')') + 3), `task ${tsk} stat: pid, comm, state`);
  }
  t.equal(link(path.join(out, String(threaded), 'task', String(tid), 'ns', 'net')), otherNet, 'the thread is in the other net namespace');
  t.equal(link(path.join(out, String(threaded), 'ns', 'net')), ownNet, 'the process is not');

  const info = JSON.parse(fs.readFileSync(path.join(dest, 'capture.json'), 'utf8')) as { fds: string; threads: string; skipped: unknown };
  t.match(info.fds, String(MAX_FDS_PER_PROCESS), 'capture.json names the fd cap');
  t.ok(info.threads, 'capture.json says which threads');
  t.same(Object.keys(info.skipped as object).sort(), Object.keys(emptySkipNotes()).sort(), 'capture.json says what was left out');
});
