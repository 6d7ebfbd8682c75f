/** The incremental scanner's small helpers and the one isolation rule, on hand-made values. */
import t from 'tap';
import type { NsLink } from '../../src/procfs/types.js';
import { initialNamespaces, isIsolated, outsideHostNamespaces } from '../../src/scan/host-namespaces.js';
import { CgroupCache, sameContainer } from '../../src/scan/incremental/cgroup-cache.js';
import { LinkSets } from '../../src/scan/incremental/link-sets.js';
import { NamespaceMembers } from '../../src/scan/incremental/ns-members.js';
import { linksOf, sameInos } from '../../src/scan/incremental/process-links.js';

const net = (ino: number): NsLink => ({ type: 'net', ino });
const uts = (ino: number): NsLink => ({ type: 'uts', ino });

t.test('LinkSets: one frozen array per distinct set, forgotten with its last holder', async (t) => {
  const sets = new LinkSets();
  const a = sets.intern([net(1), uts(2)]);
  const b = sets.intern([net(1), uts(2)]);
  t.equal(b, a, 'equal sets share the first array');
  t.ok(Object.isFrozen(a) && Object.isFrozen(a[0]));
  t.not(sets.intern([net(1), uts(3)]), a);
  t.equal(sets.size, 2);
  sets.release(a);
  t.equal(sets.size, 2, 'one holder left');
  sets.release(a);
  t.equal(sets.size, 1);
  t.not(sets.intern([net(1), uts(2)]), a, 'a new array once the set was forgotten');
});

t.test('CgroupCache: one parse and one string per text, bounded', async (t) => {
  const cache = new CgroupCache(2);
  const dockerLine = (): string => `0::/system.slice/docker-${'a'.repeat(64)}.scope\n`;
  const text = dockerLine();
  const p = cache.parse(text);
  t.match(p.ref, { id: 'a'.repeat(64), runtime: 'docker' });
  t.equal(cache.parse(dockerLine()), p, 'the same text (another string): the same parse');
  t.equal(cache.parse('0::/init.scope\n').ref, null);
  cache.parse('0::/user.slice\n');
  t.equal(cache.size, 1, 'cleared when full');
  t.ok(sameContainer(p.ref, cache.parse(text).ref));
  t.notOk(sameContainer(p.ref, null));
  t.notOk(sameContainer(null, undefined), 'no container is not an unread file');
});

t.test('NamespaceMembers: counts, lowest pid, and a lowest that left found again', async (t) => {
  const m = new NamespaceMembers();
  for (const pid of [30, 10, 20]) m.add(pid, net(7));
  t.match(m.byNs.get(7), { type: 'net', count: 3, min: 10 });
  m.remove(10, net(7));
  t.match(m.byNs.get(7), { count: 2, min: -1 });
  t.equal(m.staleCount, 1);
  m.findStaleMins(
    new Map([
      [20, { links: [net(7)] }],
      [30, { links: [net(7)] }],
      [5, { links: [net(8)] }],
    ]),
  );
  t.equal(m.byNs.get(7)?.min, 20);
  t.equal(m.staleCount, 0);
  m.remove(20, net(7));
  m.remove(30, net(7));
  t.notOk(m.byNs.has(7), 'gone with its last member');
  t.equal(m.staleCount, 0);
});

t.test('process links: a row of inodes to links and back', async (t) => {
  // NS_TYPES order: mnt, net, pid, uts, ipc, user, cgroup, time.
  const inos = new Float64Array([11, 0, 13, 14, 0, 0, 0, 18]);
  const links = linksOf(inos);
  t.same(links, [
    { type: 'mnt', ino: 11 },
    { type: 'pid', ino: 13 },
    { type: 'uts', ino: 14 },
    { type: 'time', ino: 18 },
  ]);
  t.ok(sameInos(links, inos));
  t.notOk(sameInos(links.slice(1), inos));
  t.notOk(sameInos(links, new Float64Array([11, 0, 13, 14, 0, 0, 0, 19])));
});

t.test('the isolation rule', async (t) => {
  const initial = initialNamespaces(new Map([[1, [net(1)]]]));
  t.notOk(isIsolated(initial, [net(1)], false), "the host's net namespace, no container");
  t.ok(isIsolated(initial, [net(1)], true), 'in a container');
  t.ok(isIsolated(initial, [net(2)], false), 'a namespace known not to be the host’s');
  t.notOk(isIsolated(initial, [net(1), uts(5)], false), "the host's uts namespace is unknown: not counted");
  const cache = new Map<readonly NsLink[], boolean>();
  const set = [net(2)];
  t.ok(isIsolated(initial, set, false, cache));
  t.equal(cache.get(set), true, 'decided once per links array');
  cache.set(set, false);
  t.notOk(isIsolated(initial, set, false, cache), 'and taken from the cache after');
  t.ok(outsideHostNamespaces(initial, [uts(5), net(3)]));
});
