import t from 'tap';
import { cmdlinePids, fixStatusUid, pickTaskPid } from '../../src/capture/snapshot.js';
import type { NsType } from '../../src/procfs/types.js';

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
