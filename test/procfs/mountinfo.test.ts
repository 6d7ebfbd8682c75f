import t from 'tap';
import { parseNsfsMounts, unescapeMountField } from '../../src/procfs/mountinfo.js';

t.test('nsfs mounts are found, escapes decoded, other lines ignored', async (t) => {
  const text = [
    '22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw',
    '42 65 0:4 net:[4026532177] /run/netns/a rw shared:2 - nsfs nsfs rw',
    '43 65 0:4 net:[4026532246] /run/netns/tn\\040sfs2 rw shared:3 - nsfs nsfs rw',
    '44 27 0:4 uts:[4026532315] /tmp/nsb/uts1 rw - nsfs nsfs rw',
    '45 27 0:4 uts:[4026532315] /tmp/back\\134slash rw master:7 propagate_from:2 - nsfs nsfs rw',
    '',
  ].join('\n');
  t.same(parseNsfsMounts(text), [
    { type: 'net', ino: 4026532177, mountPoint: '/run/netns/a', dev: '0:4' },
    { type: 'net', ino: 4026532246, mountPoint: '/run/netns/tn sfs2', dev: '0:4' },
    { type: 'uts', ino: 4026532315, mountPoint: '/tmp/nsb/uts1', dev: '0:4' },
    { type: 'uts', ino: 4026532315, mountPoint: '/tmp/back\\slash', dev: '0:4' },
  ]);
});

t.test('garbage lines never throw and yield nothing', async (t) => {
  const bad = [
    'x',
    '1 2 3',
    '42 65 0:4 net:[abc] /run/netns/a rw - nsfs nsfs rw',
    '42 65 0:4 pid_for_children:[1] /x rw - nsfs nsfs rw',
    '42 65 zz net:[1] /x rw - nsfs nsfs rw',
    '42 65 0:4 net:[1] /x rw - nsfs',
    '42 65 0:4 net:[1] /x rw nsfs nsfs rw',
    '\u0000\u00ff\n\n',
  ].join('\n');
  t.same(parseNsfsMounts(bad), []);
  t.same(parseNsfsMounts('42 65 0:4 net:[1] /x rw - nsfs nsfs rw'), [{ type: 'net', ino: 1, mountPoint: '/x', dev: '0:4' }]);
});

t.test('unescapeMountField', async (t) => {
  t.equal(unescapeMountField('a\\040b\\011c\\012d\\134e'), 'a b\tc\nd\\e');
  t.equal(unescapeMountField('plain'), 'plain');
  t.equal(unescapeMountField('\\04'), '\\04', 'incomplete escapes are left alone');
});
