import t from 'tap';
import { cmdlineToCommand, parseNsLink, parsePasswd, parsePidName, parseStat, parseStatusEuid } from '../../src/procfs/parse.js';

t.test('parseNsLink', async (t) => {
  t.same(parseNsLink('net:[4026531840]'), { type: 'net', ino: 4026531840 });
  t.same(parseNsLink('net:[4026531840]', 'net'), { type: 'net', ino: 4026531840 });
  t.equal(parseNsLink('net:[4026531840]', 'uts'), null, 'type must match the link name');
  t.equal(parseNsLink('pid_for_children:[1]'), null, 'not one of the 8 listed types');
  t.equal(parseNsLink('net:[]'), null);
  t.equal(parseNsLink('net:[0]'), null);
  t.equal(parseNsLink('net:[12a]'), null);
  t.equal(parseNsLink('/proc/1/ns/net'), null);
  t.equal(parseNsLink('net:[4026531840]\n'), null);
});

t.test('parseStat handles comm with spaces, parentheses and newlines', async (t) => {
  const tail = ' S 42 1 1 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 777 0 0';
  t.same(parseStat('123 (a) (b\nc) d)' + tail), { comm: 'a) (b\nc) d', state: 'S', ppid: 42, startTime: 777 });
  t.same(parseStat('2 (kthreadd) S 0 0 0 0 -1 2129984 0 0 0 0 0 0 0 0 20 0 1 0 25 0 0'), {
    comm: 'kthreadd',
    state: 'S',
    ppid: 0,
    startTime: 25,
  });
  t.equal(parseStat(''), null);
  t.equal(parseStat('1 (x'), null);
  t.equal(parseStat('1 (x) S'), null, 'too few fields');
  t.equal(parseStat('1 (x) S abc 1 1 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 777'), null);
});

t.test('parseStatusEuid takes the second Uid field', async (t) => {
  t.equal(parseStatusEuid('Name:\tx\nUid:\t1000\t0\t0\t0\nGid:\t0\t0\t0\t0\n'), 0);
  t.equal(parseStatusEuid('Uid:\t0\t1000\t1000\t1000\n'), 1000);
  t.equal(parseStatusEuid('Name:\tx\n'), null);
  t.equal(parseStatusEuid('Uid:\tfoo\n'), null);
});

t.test('cmdlineToCommand', async (t) => {
  t.equal(cmdlineToCommand('sleep\u00001000\u0000'), 'sleep 1000');
  t.equal(cmdlineToCommand(''), '');
  t.equal(cmdlineToCommand('a\u0000\u0000b\u0000\u0000'), 'a  b ', 'empty args keep their spaces');
  t.equal(cmdlineToCommand('setproctitle text'), 'setproctitle text', 'no trailing NUL');
});

t.test('parsePidName', async (t) => {
  t.equal(parsePidName('1'), 1);
  t.equal(parsePidName('self'), null);
  t.equal(parsePidName('01'), null);
  t.equal(parsePidName('99999999999'), null);
});

t.test('parsePasswd', async (t) => {
  const users = parsePasswd('root:x:0:0:root:/root:/bin/bash\n#c:x:5:5\n+nis::::::\nbad\nalice:x:1000:1000::/home/a:/bin/sh\nroot2:x:0:0::/:/bin/sh\n');
  t.equal(users.get(0), 'root', 'first name wins, as getpwuid');
  t.equal(users.get(1000), 'alice');
  t.equal(users.size, 2);
});
