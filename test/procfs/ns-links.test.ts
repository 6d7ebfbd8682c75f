/**
 * ProcReader.readNsInos on a hand-made tree, through koffi (an O_PATH handle on <pid>/ns and a
 * readlinkat per link) and through fs: the inodes of good links, and which note a broken tree
 * gives. The expected values are written out here from the tree, not taken from the reader.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import t, { type Test } from 'tap';
import { nativeAvailable } from '../../src/native/loader.js';
import { ProcReader, type ReadIssue } from '../../src/procfs/reader.js';
import { NS_TYPES } from '../../src/procfs/types.js';

const INO = { mnt: 4026531841, net: 4026531842, pid: 4026531843, uts: 4026531844, ipc: 4026531845, user: 4026531846, cgroup: 4026531847, time: 4026531848 };

/** A tree under a root whose name is not ASCII. */
function tree(): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ns-links-prôc-'));
  const pidDir = (pid: number): string => path.join(root, String(pid));
  const links = (pid: number, skip: readonly string[] = []): void => {
    fs.mkdirSync(path.join(pidDir(pid), 'ns'), { recursive: true });
    for (const type of NS_TYPES) if (!skip.includes(type)) fs.symlinkSync(`${type}:[${INO[type]}]`, path.join(pidDir(pid), 'ns', type));
  };
  links(1);
  links(4194304); // the largest pid_max: seven digits in the path
  links(20, ['mnt']); // the first link missing, the ns directory there
  links(21, ['time']);
  fs.mkdirSync(path.join(pidDir(22), 'ns'), { recursive: true });
  for (const type of NS_TYPES) {
    const file = path.join(pidDir(22), 'ns', type);
    if (type === 'net') fs.symlinkSync('net:[12ab]', file);
    else if (type === 'uts') fs.writeFileSync(file, 'uts:[1]');
    else fs.symlinkSync(`${type}:[${INO[type]}]`, file);
  }
  fs.mkdirSync(pidDir(23));
  fs.writeFileSync(path.join(pidDir(23), 'ns'), 'not a directory');
  fs.mkdirSync(pidDir(24)); // a process without an ns directory
  return root;
}

function read(t: Test, reader: ProcReader, pid: number): { ok: boolean; inos: number[]; issues: ReadIssue[] } {
  const issues: ReadIssue[] = [];
  const out = new Float64Array(NS_TYPES.length + 2).fill(7);
  const ok = reader.readNsInos(pid, NS_TYPES, out, 1, (i) => issues.push(i));
  t.equal(out[0], 7, 'nothing written before the row');
  t.equal(out[NS_TYPES.length + 1], 7, 'nothing written after the row');
  return { ok, inos: [...out.subarray(1, NS_TYPES.length + 1)], issues };
}

const all = NS_TYPES.map((type) => INO[type]);
const but = (type: string, ino = 0): number[] => NS_TYPES.map((k) => (k === type ? ino : INO[k]));

t.test('through koffi', { skip: nativeAvailable() ? false : 'koffi is not available' }, async (t) => {
  const root = tree();
  t.teardown(() => fs.rmSync(root, { recursive: true, force: true }));
  const reader = new ProcReader(root, { nativeLinks: true });
  t.same(read(t, reader, 1), { ok: true, inos: all, issues: [] }, 'every link');
  t.same(read(t, reader, 4194304), { ok: true, inos: all, issues: [] }, 'a seven-digit pid after a shorter one');
  t.same(read(t, reader, 1), { ok: true, inos: all, issues: [] }, 'a shorter pid after a longer one');
  t.same(read(t, reader, 20), { ok: true, inos: but('mnt'), issues: [{ pid: 20, file: 'ns/mnt', problem: 'vanished', code: 'ENOENT' }] }, 'the first link missing: a note for it, the others read');
  t.same(read(t, reader, 21), { ok: true, inos: but('time'), issues: [{ pid: 21, file: 'ns/time', problem: 'vanished', code: 'ENOENT' }] }, 'the last link missing');
  t.same(
    read(t, reader, 22),
    {
      ok: true,
      inos: NS_TYPES.map((k) => (k === 'net' || k === 'uts' ? 0 : INO[k])),
      issues: [
        { pid: 22, file: 'ns/net', problem: 'garbage' },
        { pid: 22, file: 'ns/uts', problem: 'garbage', code: 'EINVAL' },
      ],
    },
    'a garbage target and a file that is not a link',
  );
  t.same(read(t, reader, 23), { ok: false, inos: all.map(() => 0), issues: [{ pid: 23, file: 'ns', problem: 'vanished', code: 'ENOTDIR' }] }, 'ns is not a directory: one note');
  t.same(read(t, reader, 24), { ok: false, inos: all.map(() => 0), issues: [{ pid: 24, file: 'ns', problem: 'vanished', code: 'ENOENT' }] }, 'no ns directory: one note');
  t.same(read(t, reader, 99), { ok: false, inos: all.map(() => 0), issues: [{ pid: 99, file: 'ns', problem: 'vanished', code: 'ENOENT' }] }, 'a process that is gone: one note');
});

t.test('through fs: the same inodes', async (t) => {
  const root = tree();
  t.teardown(() => fs.rmSync(root, { recursive: true, force: true }));
  const reader = new ProcReader(root, { nativeLinks: false });
  t.same(read(t, reader, 1).inos, all);
  t.same(read(t, reader, 4194304).inos, all);
  t.same(read(t, reader, 20).inos, but('mnt'));
  t.same(read(t, reader, 21).inos, but('time'));
  t.same(
    read(t, reader, 22).inos,
    NS_TYPES.map((k) => (k === 'net' || k === 'uts' ? 0 : INO[k])),
  );
  t.equal(read(t, reader, 99).ok, false, 'a process that is gone');
});
