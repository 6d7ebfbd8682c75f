/**
 * Process and Container topologies, the Host node's namespace-count metric, `--topologies`, and
 * the report's size and serialisation time at 5,000 processes. On hand-made procfs trees with
 * cgroup files; the live counterpart (real namespaces, real cgroups) is test/live/containers.test.ts.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { gunzipSync } from 'node:zlib';
import t from 'tap';
import { NS_TYPES } from '../../src/procfs/types.js';
import { initialNamespaces } from '../../src/scan/host-namespaces.js';
import { serialiseJson, type ScopeReport } from '../../src/scope/report.js';
import { reportProblems } from '../../src/scope/schema.js';
import { HOST_COUNT_METRIC, MetricHistory } from '../../src/scope/host-metric.js';
import { PROC_TABLE_PREFIX } from '../../src/scope/ns-list.js';
import { ProcessNodeCache } from '../../src/scope/process-topology.js';
import { META } from '../../src/scope/topologies.js';
import { takeSnapshot } from '../../src/snapshot/full-source.js';
import { serialiseReport } from '../../src/snapshot/serialise.js';
import { cli, killDaemon, startDaemon, tempRoot, waitFor, waitServing, type Daemon } from '../support/daemon.js';
import { fakeContainerId, fakeProcess, INITIAL_NS, manyProcesses, writeFakeProcfs, type FakeProcess } from '../support/fake-procfs.js';
import { ProbeClient } from '../support/probe-client.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sn-topo-'));
const daemons: Daemon[] = [];
t.teardown(async () => {
  for (const d of daemons) await killDaemon(d);
  fs.rmSync(tmp, { recursive: true, force: true });
});

const SHARING = 'a'.repeat(8) + '0123456789abcdef'.repeat(3) + 'b'.repeat(8);
const ISOLATED = 'c'.repeat(64);
const POD = 'beef'.padEnd(64, '9');
const UID = '12345678-1234-1234-1234-123456789abc';
/** Like `docker run --net=host --pid=host`: host net and pid, everything else new. */
const sharingNs = { ...INITIAL_NS, mnt: 4026532301, uts: 4026532302, ipc: 4026532303, user: 4026532304, cgroup: 4026532305, time: 4026532306 };
const isolatedNs = { mnt: 4026532401, net: 4026532402, pid: 4026532403, uts: 4026532404, ipc: 4026532405, user: 4026532406, cgroup: 4026532407, time: 4026532408 };

function host(): FakeProcess[] {
  const p = (pid: number, ns: FakeProcess['ns'], cgroup: string, extra: Partial<FakeProcess> = {}): FakeProcess => fakeProcess(pid, ns, cgroup, extra);
  return [
    // pid 1's ns links unreadable (an init that hides them even from root): the host's namespaces come from pid 2.
    p(1, INITIAL_NS, '0::/init.scope\n', { ppid: 0, noNs: true }),
    p(2, INITIAL_NS, '0::/\n', { ppid: 0, argv: [] }),
    p(40, INITIAL_NS, '0::/system.slice/sshd.service\n'),
    p(500, sharingNs, `0::/system.slice/docker-${SHARING}.scope\n`),
    p(501, sharingNs, `0::/system.slice/docker-${SHARING}.scope\n`),
    // `docker exec` into the sharing container that kept the host's mnt: the container's stays the majority's.
    p(502, { ...sharingNs, mnt: INITIAL_NS.mnt }, `0::/system.slice/docker-${SHARING}.scope\n`),
    p(600, isolatedNs, `12:pids:/docker/${ISOLATED}\n1:name=systemd:/docker/${ISOLATED}\n0::/\n`),
    p(700, isolatedNs, `0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID.replace(/-/g, '_')}.slice/cri-containerd-${POD}.scope\n`),
    p(800, INITIAL_NS, '0::/machine.slice/libpod-conmon-' + ISOLATED + '.scope\n'),
  ];
}

const proc = path.join(tmp, 'proc');
writeFakeProcfs(proc, host(), 'root:x:0:0:root:/root:/bin/bash\n');

t.test('process, container and host topologies from one scan', async (t) => {
  const snap = await takeSnapshot({ proc, hostname: 'node-a', pluginId: 'host-namespaces' });
  const r = snap.report;
  t.same(reportProblems(r, 'host-namespaces'), [], 'the probe (schema) takes it');
  t.same(Object.keys(r), ['Host', 'Process', 'Container', 'Pod', 'Plugins']);
  t.same(Object.keys(r.Pod?.nodes ?? {}), [`${UID};<pod>`], "the kubepods container's pod");
  t.equal(snap.stats.initialFrom, '2', "pid 1's links unreadable: initial namespaces from pid 2");

  // Process nodes: every process with readable links, `<hostname>;<pid>`, same hostname as the Host node.
  t.same(Object.keys(r.Host?.nodes ?? {}), ['node-a;<host>']);
  // By default only 502, the one process whose namespaces differ from its container's (its mnt is
  // the host's): the Container nodes show the others'. 2, 40 and conmon 800 are host-only.
  t.same(Object.keys(r.Process?.nodes ?? {}), ['node-a;502']);
  t.equal(r.Process?.nodes['node-a;502']?.latest[`${PROC_TABLE_PREFIX}mnt`]?.value, `${INITIAL_NS.mnt} (host)`);
  t.equal(r.Process?.nodes['node-a;502']?.latest[META.shared]?.value, 'net, pid, mnt');
  const isolatedMode = (await takeSnapshot({ proc, hostname: 'node-a', pluginId: 'host-namespaces', processNodes: 'isolated' })).report;
  // --process-nodes isolated: every process in a container or in a non-host namespace.
  t.same(Object.keys(isolatedMode.Process?.nodes ?? {}).sort(), ['node-a;500', 'node-a;501', 'node-a;502', 'node-a;600', 'node-a;700'].sort());
  const p500 = isolatedMode.Process?.nodes['node-a;500']?.latest ?? {};
  for (const type of NS_TYPES) t.ok(p500[PROC_TABLE_PREFIX + type], `process 500 shows its ${type} namespace`);
  t.equal(p500[`${PROC_TABLE_PREFIX}net`]?.value, `${INITIAL_NS.net} (host)`);
  t.equal(p500[`${PROC_TABLE_PREFIX}uts`]?.value, `${sharingNs.uts}`);
  t.equal(p500[META.shared]?.value, 'net, pid');
  t.equal(p500[META.container]?.value, SHARING.slice(0, 12));
  const all = (await takeSnapshot({ proc, hostname: 'node-a', pluginId: 'host-namespaces', processNodes: 'all' })).report;
  t.same(Object.keys(all.Process?.nodes ?? {}).sort(), ['node-a;2', 'node-a;40', 'node-a;500', 'node-a;501', 'node-a;502', 'node-a;600', 'node-a;700', 'node-a;800'].sort(), '--process-nodes all');
  t.equal(all.Process?.nodes['node-a;40']?.latest[META.shared]?.value, 'net, pid, ipc, uts, mnt');
  t.equal(all.Process?.nodes['node-a;40']?.latest[META.container], undefined, 'host process: no container row');
  t.equal(r.Host?.nodes['node-a;<host>']?.latest[META.hostOnly]?.value, '3', 'the three host-only processes are counted on the Host node');
  t.equal(isolatedMode.Process?.nodes['node-a;600']?.latest[META.shared]?.value, 'isolated');
  t.equal(r.Process?.table_templates?.[PROC_TABLE_PREFIX]?.type, 'property-list');
  for (const node of Object.values(r.Process?.nodes ?? {})) t.same(Object.keys(node), ['latest'], 'no id/topology on process nodes');

  // Container nodes: `<64 hex>;<container>`, grouped by container, conmon is not a container process.
  const c = r.Container?.nodes ?? {};
  t.same(Object.keys(c).sort(), [`${ISOLATED};<container>`, `${POD};<container>`, `${SHARING};<container>`].sort());
  const sharing = c[`${SHARING};<container>`]?.latest ?? {};
  t.equal(sharing[META.shared]?.value, 'net, pid', 'the --net=host --pid=host container says so');
  t.equal(sharing[META.sharedDefault], undefined, 'own user, cgroup and time: nothing shared by default');
  t.equal(sharing[META.procs]?.value, '3');
  t.equal(sharing[META.runtime]?.value, 'docker');
  t.equal(sharing[META.mixed]?.value, 'mnt', 'the exec process in the host mnt ns is flagged');
  t.equal(sharing[`${PROC_TABLE_PREFIX}mnt`]?.value, String(sharingNs.mnt), 'majority mnt, not the exec process');
  t.equal(sharing[`${PROC_TABLE_PREFIX}net`]?.value, `${INITIAL_NS.net} (host)`);
  t.equal(sharing[`${PROC_TABLE_PREFIX}time`]?.value, String(sharingNs.time), 'own time namespace: shown');
  t.equal(Object.keys(sharing).filter((k) => k.startsWith(PROC_TABLE_PREFIX)).length, 8, 'one row per type, user/cgroup/time being its own');
  t.equal(r.Container?.table_templates?.[PROC_TABLE_PREFIX]?.type, 'property-list');
  const iso = c[`${ISOLATED};<container>`]?.latest ?? {};
  t.equal(iso[META.shared]?.value, 'isolated');
  t.equal(iso[META.procs]?.value, '1', 'v1 file with an empty v2 line: found through the v1 lines; conmon not counted');
  t.equal(iso[META.mixed], undefined);
  const pod = c[`${POD};<container>`]?.latest ?? {};
  t.equal(pod[META.runtime]?.value, 'containerd');
  t.equal(pod[META.pod]?.value, UID);
  t.equal(snap.stats.containers, 3);
  t.equal(snap.stats.containerized, 5);
  t.same(snap.stats.nodes, { host: 1, process: 1, container: 3, pod: 1 });

  // Host node: the Host table plus the namespace-count metric.
  const hostNode = r.Host?.nodes['node-a;<host>'];
  t.same(
    Object.keys(hostNode?.latest ?? {}).filter((k) => !k.startsWith('hnt-')),
    ['hns-host-types', 'hns-host-net', 'hns-host-pid', 'hns-host-ipc', 'hns-host-held', 'hns-host-only'],
    'host latest = the Host table and the six summary entries',
  );
  t.equal(hostNode?.latest['hns-host-net']?.value, `1: ${SHARING.slice(0, 12)}`);
  const m = hostNode?.metrics?.[HOST_COUNT_METRIC];
  t.equal(m?.samples.length, 1);
  t.equal(m?.samples[0]?.value, snap.stats.rows);
  t.equal(m?.max, snap.stats.rows);
  t.equal(m?.min, 0);
  t.same(r.Host?.metric_templates?.[HOST_COUNT_METRIC], { id: HOST_COUNT_METRIC, label: 'Namespaces', format: 'integer', priority: 20 });
});

t.test('--topologies: only what is asked for', async (t) => {
  const only = async (topologies: Array<'host' | 'process' | 'container'>): Promise<ScopeReport> => (await takeSnapshot({ proc, hostname: 'node-a', pluginId: 'p', topologies })).report;
  t.same(Object.keys(await only(['host'])), ['Host', 'Plugins']);
  const p = await only(['process']);
  t.same(Object.keys(p), ['Process', 'Plugins']);
  t.equal(p.Process?.nodes['node-a;500']?.latest[META.container], undefined, 'no cgroup reads without the container topology');
  const c = await only(['container']);
  t.same(Object.keys(c), ['Container', 'Plugins']);
  t.same(reportProblems(c, 'p'), []);
});

t.test('the Host metric keeps its samples across refreshes', async (t) => {
  const history = new MetricHistory(3);
  for (let i = 0; i < 5; i++) await takeSnapshot({ proc, hostname: 'h', pluginId: 'p', topologies: ['host'] }, { history });
  const last = await takeSnapshot({ proc, hostname: 'h', pluginId: 'p', topologies: ['host'] }, { history });
  const samples = last.report.Host?.nodes['h;<host>']?.metrics?.[HOST_COUNT_METRIC]?.samples ?? [];
  t.equal(samples.length, 3, 'capped at the history size');
  t.ok(
    samples.every((s, i) => i === 0 || s.date > (samples[i - 1]?.date ?? '')),
    'dates ascending',
  );

  const h = new MetricHistory(10, 60_000);
  h.add(new Date('2026-01-01T00:00:00Z'), 1);
  h.add(new Date('2026-01-01T00:00:30Z'), 2);
  h.add(new Date('2026-01-01T00:00:30Z'), 3);
  t.same(
    h.list().map((s) => s.value),
    [1, 3],
    'same date: replaced',
  );
  h.add(new Date('2026-01-01T00:01:20Z'), 4);
  t.same(
    h.list().map((s) => s.value),
    [3, 4],
    'older than the window: dropped',
  );
  h.add(new Date('2026-01-01T00:00:40Z'), 5);
  t.same(
    h.list().map((s) => s.value),
    [3, 5],
    'a clock stepping back drops the future',
  );
});

t.test('initial namespaces', async (t) => {
  const m = new Map([
    [1, [{ type: 'net' as const, ino: 10 }]],
    [
      2,
      [
        { type: 'net' as const, ino: 11 },
        { type: 'mnt' as const, ino: 12 },
      ],
    ],
  ]);
  t.same(initialNamespaces(m), { ns: { net: 10, mnt: 12 }, from: { net: 1, mnt: 2 } }, 'pid 1 first, pid 2 for what pid 1 lacks');
  t.same(initialNamespaces(new Map()), { ns: {}, from: {} });
});

t.test('the schema checks every topology', async (t) => {
  const snap = await takeSnapshot({ proc, hostname: 'node-a', pluginId: 'host-namespaces' });
  const bad = (what: string, mutate: (r: ScopeReport) => void, expect: RegExp): void => {
    const r = JSON.parse(JSON.stringify(snap.report)) as ScopeReport;
    mutate(r);
    const problems = reportProblems(r, 'host-namespaces')
      .map((p) => `${p.path}: ${p.message}`)
      .join('\n');
    t.match(problems, expect, what);
  };
  const anyProc = (r: ScopeReport) => r.Process?.nodes['node-a;502'];
  const anyContainer = (r: ScopeReport) => r.Container?.nodes[`${SHARING};<container>`];
  const e = { timestamp: '2026-01-02T03:04:05Z', value: 'x' };
  bad(
    'short container id',
    (r) => {
      if (r.Container) r.Container.nodes[`${SHARING.slice(0, 12)};<container>`] = { latest: {} };
    },
    /container node ids/,
  );
  bad(
    'process node without a pid',
    (r) => {
      if (r.Process) r.Process.nodes['node-a;<process>'] = { latest: {} };
    },
    /process node ids/,
  );
  bad(
    'latest key without template',
    (r) => {
      const n = anyProc(r);
      if (n) n.latest['made-up'] = e;
    },
    /no metadata or table template/,
  );
  bad(
    'Host table cell without ___',
    (r) => {
      const n = r.Host?.nodes['node-a;<host>'];
      if (n) n.latest[`hnt-${INITIAL_NS.net}-ns`] = e;
    },
    /lacks '___'/,
  );
  bad(
    'metric without template',
    (r) => {
      if (r.Host?.nodes['node-a;<host>']) delete r.Host.metric_templates;
    },
    /no metric template/,
  );
  bad(
    'metric sample without zone',
    (r) => {
      const m = r.Host?.nodes['node-a;<host>']?.metrics?.[HOST_COUNT_METRIC];
      if (m?.samples[0]) m.samples[0].date = '2026-01-02T03:04:05';
    },
    /RFC 3339/,
  );
  bad(
    'node id set and different',
    (r) => {
      const n = anyContainer(r) as unknown as Record<string, unknown>;
      n['id'] = 'other;<container>';
    },
    /differs from its key/,
  );
  bad(
    'template id differs from its key',
    (r) => {
      const tpl = r.Container?.metadata_templates?.[META.shared];
      if (tpl) tpl.id = 'other';
    },
    /template id 'other' differs/,
  );
  bad(
    'empty multicolumn columns',
    (r) => {
      const tpl = r.Host?.table_templates['hnt-'];
      if (tpl) tpl.columns = [];
    },
    /needs columns/,
  );
});

t.test('Process node cache: unchanged nodes reused as they were, the rest rebuilt; same report but timestamps', async (t) => {
  const before = manyProcesses(300, { containers: true });
  const a = path.join(tmp, 'cache-a');
  writeFakeProcfs(a, before);
  const cache = new ProcessNodeCache();
  // Every container process gets a node in this mode: the cache has thousands to keep.
  const params = { proc: a, hostname: 'c', pluginId: 'host-namespaces', processNodes: 'isolated' as const };
  const s1 = await takeSnapshot(params, { processNodes: cache });
  t.equal(serialiseJson(s1.report), JSON.stringify(s1.report), 'serialiseJson is JSON.stringify');
  const t1 = new Date(s1.stats.takenAt).toISOString();
  await new Promise((r) => setTimeout(r, 5));
  // pid 10 changes a namespace, pid 20 leaves its container (if in one), pid 30 is gone, pid 1000 is new.
  const after = before.filter((p) => p.pid !== 30).map((p) => (p.pid === 10 ? { ...p, ns: { ...p.ns, uts: 4026539999 } } : p.pid === 20 ? { ...p, cgroup: '0::/user.slice\n' } : p));
  const newcomer = after[after.length - 1];
  if (newcomer) after.push({ ...newcomer, pid: 1000 });
  const b = path.join(tmp, 'cache-b');
  writeFakeProcfs(b, after);
  const s2 = await takeSnapshot({ ...params, proc: b }, { processNodes: cache });
  const t2 = new Date(s2.stats.takenAt).toISOString();
  const fresh = await takeSnapshot({ ...params, proc: b });
  const norm = (r: ScopeReport): string => JSON.stringify(r.Process).replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/g, 'T');
  t.equal(norm(s2.report), norm(fresh.report), 'cached and uncached Process topologies agree but for timestamps');
  t.equal(serialiseJson(s2.report), JSON.stringify(s2.report), 'serialiseJson is JSON.stringify with cached nodes');
  t.equal(serialiseReport(s2.report).json.toString('utf8'), JSON.stringify(s2.report));
  const nodes = s2.report.Process?.nodes ?? {};
  const stamps = (pid: number): string[] => [...new Set(Object.values(nodes[`c;${pid}`]?.latest ?? {}).map((e) => e.timestamp))];
  t.same(stamps(11), [t1], 'unchanged: the timestamp of when its content was set');
  t.same(stamps(10), [t2], 'changed namespace: rebuilt now');
  t.same(stamps(20), [t2], 'changed container: rebuilt now');
  t.same(stamps(1000), [t2], 'new process: built now');
  t.notOk(nodes['c;30'], 'gone process: dropped');
  t.equal(nodes['c;11'], s1.report.Process?.nodes['c;11'], 'the same (frozen) node object');
  t.ok(Object.isFrozen(nodes['c;11']?.latest), 'cached nodes are frozen');
  t.equal(nodes['c;12'], nodes['c;11'], 'alike processes built in one refresh share one node');
  t.not(nodes['c;1000'], nodes['c;300'], 'but not with a node of an earlier refresh');
  t.equal(JSON.stringify(nodes['c;1000']?.latest[META.container]), JSON.stringify({ ...nodes['c;300']?.latest[META.container], timestamp: t2 }));
  // Another host identity invalidates every node.
  const s3 = await takeSnapshot({ ...params, proc: b, hostname: 'd' }, { processNodes: cache });
  t.equal(Object.keys(s3.report.Process?.nodes ?? {})[0]?.startsWith('d;'), true);
  t.same([...new Set(Object.values(s3.report.Process?.nodes ?? {}).flatMap((n) => Object.values(n.latest).map((e) => e.timestamp)))], [new Date(s3.stats.takenAt).toISOString()]);
});

t.test('5,000 processes: report size and serialisation time', async (t) => {
  const big = path.join(tmp, 'big');
  writeFakeProcfs(big, manyProcesses(5000, { containers: true }));
  const byDefault = await takeSnapshot({ proc: big, hostname: 'big', pluginId: 'host-namespaces' });
  t.same(byDefault.stats.nodes, { host: 1, process: 0, container: 499 }, 'every container process in its container namespaces: no Process node');
  const snap = await takeSnapshot({ proc: big, hostname: 'big', pluginId: 'host-namespaces', processNodes: 'isolated' });
  t.same(snap.stats.nodes, { host: 1, process: 4990, container: 499 });
  t.same(reportProblems(snap.report, 'host-namespaces'), []);
  const c1 = snap.report.Container?.nodes[`${fakeContainerId(1)};<container>`]?.latest;
  t.equal(c1?.[META.shared]?.value, 'pid, mnt', 'own net/uts/ipc only');
  t.equal(c1?.[META.sharedDefault]?.value, 'user, cgroup, time');
  const runs = Array.from({ length: 5 }, () => serialiseReport(snap.report));
  const ms = runs.map((r) => r.serialiseMs).sort((a, b) => a - b);
  const median = ms[2] ?? 0;
  const first = runs[0];
  t.ok(first);
  if (!first) return;
  const parse0 = performance.now();
  JSON.parse(gunzipSync(first.gzip).toString('utf8'));
  const parseMs = performance.now() - parse0;
  t.comment(
    `5,000 processes, 499 containers: JSON ${(first.json.length / 1e6).toFixed(2)} MB, gzip ${(first.gzip.length / 1e3).toFixed(1)} kB, ` +
      `serialise+gzip median ${median.toFixed(1)} ms (runs ${ms.map((x) => x.toFixed(0)).join('/')}), gunzip+JSON.parse ${parseMs.toFixed(1)} ms`,
  );
  // Most of it is the 4,990 Process nodes of this mode (~10 entries each).
  t.ok(first.json.length < 8e6, `JSON ${first.json.length} bytes < 8 MB`);
  t.ok(first.gzip.length < 1e6, `gzip ${first.gzip.length} bytes < 1 MB (what crosses the socket)`);
  // Durations are only reported (t.comment above): speed claims live in `npm run bench`.
});

t.test('serve --topologies: a probe sees Container nodes and a growing sparkline', async (t) => {
  const root = tempRoot();
  t.teardown(() => fs.rmSync(root, { recursive: true, force: true }));
  // A copy of the tree, changed while served: each change is a refresh (an unchanged report is
  // only rebuilt for the metric every 15 s).
  const own = path.join(root, 'proc');
  writeFakeProcfs(own, host(), 'root:x:0:0:root:/root:/bin/bash\n');
  const d = startDaemon(['--plugins-root', root, '--proc', own, '--interval', '1s', '--hostname', 'node-a', '--topologies', 'host,container', '--log-level', 'debug']);
  daemons.push(d);
  await waitServing(d);
  const client = new ProbeClient({ id: 'host-namespaces', socketPath: path.join(root, 'host-namespaces', 'host-namespaces.sock') });
  t.teardown(() => client.close());
  const first = await client.poll();
  t.equal(first.status, 'ok');
  t.same(Object.keys(first.report ?? {}), ['Host', 'Container', 'Plugins']);
  const refreshes = (): number => d.stderr().match(/"msg":"snapshot refreshed"/g)?.length ?? 0;
  for (const [i, pid] of [4001, 4002].entries()) {
    writeFakeProcfs(own, [{ pid, ppid: 1, uid: 0, comm: 'x', argv: ['x'], ns: { ...INITIAL_NS, uts: 4026590000 + pid } }]);
    await waitFor(() => refreshes() >= i + 1, 60_000, `refresh ${i + 1}`);
  }
  const later = await client.poll();
  t.equal(later.status, 'ok');
  const samples = later.report?.Host?.nodes['node-a;<host>']?.metrics?.[HOST_COUNT_METRIC]?.samples ?? [];
  t.ok(samples.length >= 3, `${samples.length} samples after 3 snapshots: kept across refreshes`);
  t.match(d.stderr(), /"nodes":\{"host":1,"container":3\}/, 'node counts in the refresh log');
  t.match(d.stderr(), /"topologies":\["host","container"\]/, 'start-up log names the topologies');
  d.child.kill('SIGTERM');
  t.equal((await d.exited).code, 0);
});

t.test('bad --topologies exits 64', async (t) => {
  for (const bad of ['hosts', 'host,,process', '', 'host,host', 'Host']) {
    const r = spawnSync(process.execPath, [cli, 'report', '--proc', proc, '--hostname', 'h', '--topologies', bad], { encoding: 'utf8' });
    t.equal(r.status, 64, `'${bad}'`);
    t.match(r.stderr, /--topologies: /);
  }
  const ok = spawnSync(process.execPath, [cli, 'report', '--proc', proc, '--hostname', 'h', '--topologies', 'container, process'], { encoding: 'utf8' });
  t.equal(ok.status, 0, 'spaces after commas, any order');
  t.same(Object.keys(JSON.parse(ok.stdout) as object), ['Process', 'Container', 'Plugins']);
});
