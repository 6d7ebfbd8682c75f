/**
 * The reader's I/O is chosen once, when it is built: plain fs or koffi's direct calls, for every
 * method, whatever runs first. Both strategies read the same bytes; a fixture tree is checked for
 * regular files by either.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import t from 'tap';
import { nativeAvailable, resetNativeForTests, setNativeWarningHook } from '../../src/native/loader.js';
import { FS_IO } from '../../src/procfs/fs-io.js';
import { NativeIo, procIo } from '../../src/procfs/native-io.js';
import { listPids, ProcReader } from '../../src/procfs/reader.js';

const koffi = nativeAvailable() ? false : 'koffi is not available';

t.test('the strategy is fixed at construction', { skip: koffi }, async (t) => {
  t.equal(new ProcReader('/proc').io.kind, 'native', 'default: koffi where it loads');
  t.equal(new ProcReader('/proc', { nativeLinks: false }).io.kind, 'fs');
  const reader = new ProcReader('/proc');
  const before = reader.io;
  reader.readStat(process.pid);
  reader.readNsLinks(process.pid);
  reader.readCgroup(process.pid);
  t.equal(reader.io, before, 'reads do not change it');
  const hook = setNativeWarningHook(() => {});
  resetNativeForTests('koffi disabled for this test');
  t.teardown(() => {
    resetNativeForTests();
    setNativeWarningHook(hook);
  });
  t.equal(new ProcReader('/proc').io.kind, 'fs', 'koffi unavailable: plain fs');
  t.equal(procIo(true), FS_IO);
  t.equal(NativeIo.create(), null);
});

t.test('native and fs read the same record, before any link was read', { skip: koffi || !ProcReader.isProcfs('/proc') ? 'no koffi or no procfs' : false }, async (t) => {
  const native = NativeIo.create();
  if (native === null) throw new Error('NativeIo.create() failed with koffi available');
  const a = Buffer.alloc(65536);
  const b = Buffer.alloc(65536);
  const file = `/proc/${process.pid}/cgroup`;
  const n = native.readRecord(file, a, a.length, false);
  const m = FS_IO.readRecord(file, b, b.length, false);
  t.ok(n > 0);
  t.equal(a.toString('latin1', 0, n), b.toString('latin1', 0, m));
  t.equal(a.toString('latin1', 0, n), fs.readFileSync(file, 'latin1'), 'what the kernel has');
  t.throws(() => native.readRecord('/proc/999999999/stat', a, 100, false), { code: 'ENOENT' });
  t.equal(native.readRecord(file, a, 5, false), 5, 'cut at the limit');
});

t.test('a FIFO where a record should be: ENOTREG through either strategy on a fixture tree', { skip: koffi }, async (t) => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'proc-io-'));
  t.teardown(() => fs.rmSync(root, { recursive: true, force: true }));
  fs.mkdirSync(path.join(root, '1'));
  execFileSync('mkfifo', [path.join(root, '1', 'stat')]);
  const native = NativeIo.create();
  if (native === null) throw new Error('NativeIo.create() failed with koffi available');
  const buf = Buffer.alloc(100);
  t.throws(() => native.readRecord(path.join(root, '1', 'stat'), buf, 100, true), { code: 'ENOTREG' });
  t.throws(() => FS_IO.readRecord(path.join(root, '1', 'stat'), buf, 100, true), { code: 'ENOTREG' });
});

t.test('listPids before a reader exists: pids ascending, names that are digits but no pid are noted', async (t) => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'proc-io-'));
  t.teardown(() => fs.rmSync(root, { recursive: true, force: true }));
  for (const name of ['10', '2', '007', 'self', '1']) fs.mkdirSync(path.join(root, name));
  const notes: string[] = [];
  t.same(
    listPids(root, (i) => notes.push(`${i.file}:${i.problem}`)),
    [1, 2, 10],
  );
  t.same(notes, ['007:garbage']);
});
