/**
 * Pod nodes on a hand-made procfs tree: pods found through every kubepods cgroup layout (cgroupfs
 * and systemd drivers, cgroup v1 and v2, guaranteed / burstable / besteffort), their shared
 * namespaces and Host namespaces statement. Every expected value is written out here.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import t from 'tap';
import { reportProblems } from '../../src/scope/schema.js';
import { takeSnapshot } from '../../src/snapshot/full-source.js';
import { INITIAL_NS, writeFakeProcfs, type FakeProcess } from '../support/fake-procfs.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sn-pods-'));
t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));

const id = (c: string): string => c.repeat(64);
const uid = (n: number): string => `${String(n).repeat(8)}-1234-4321-abcd-${String(n).repeat(12)}`;
const u_ = (n: number): string => uid(n).replace(/-/g, '_');
/** Each layout a kubelet and its runtime write, for a container `c` of pod `n`. */
const layouts: Record<string, (n: number, c: string) => string> = {
  'cgroupfs v2 besteffort': (n, c) => `0::/kubepods/besteffort/pod${uid(n)}/${id(c)}\n`,
  'cgroupfs v2 guaranteed': (n, c) => `0::/kubepods/pod${uid(n)}/${id(c)}\n`,
  'systemd v2 burstable': (n, c) => `0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${u_(n)}.slice/cri-containerd-${id(c)}.scope\n`,
  'systemd v2 guaranteed': (n, c) => `0::/kubepods.slice/kubepods-pod${u_(n)}.slice/crio-${id(c)}.scope\n`,
  'cgroupfs v1 burstable': (n, c) => `12:pids:/kubepods/burstable/pod${uid(n)}/${id(c)}\n1:name=systemd:/kubepods/burstable/pod${uid(n)}/${id(c)}\n0::/\n`,
  'systemd v1 besteffort': (n, c) => `12:pids:/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${u_(n)}.slice:cri-containerd:${id(c)}\n0::/\n`,
};

const p = (pid: number, ns: FakeProcess['ns'], cgroup: string): FakeProcess => ({ pid, ppid: 1, uid: 0, comm: `p${pid}`, argv: [`/p${pid}`], ns, cgroup });

t.test('every kubepods layout: one Pod node per pod, its sandbox namespaces', async (t) => {
  const procs: FakeProcess[] = [p(1, INITIAL_NS, '0::/init.scope\n'), p(2, INITIAL_NS, '0::/\n')];
  const expected: Record<string, Record<string, string>> = {};
  let n = 0;
  for (const layout of Object.values(layouts)) {
    n++;
    // A pod: its sandbox (pause, pid 100n) and two app containers in the sandbox's net, ipc and
    // uts, each with its own mnt and pid.
    const base = 4026700000 + n * 100;
    const sandbox = { ...INITIAL_NS, net: base + 1, ipc: base + 2, uts: base + 3, mnt: base + 4, pid: base + 5 };
    procs.push(p(n * 100, sandbox, layout(n, 'a')));
    procs.push(p(n * 100 + 1, { ...sandbox, mnt: base + 11, pid: base + 12 }, layout(n, 'b')));
    procs.push(p(n * 100 + 2, { ...sandbox, mnt: base + 21, pid: base + 22 }, layout(n, 'c')));
    expected[`${uid(n)};<pod>`] = { 'hns-ns-net': String(base + 1), 'hns-ns-ipc': String(base + 2), 'hns-ns-uts': String(base + 3), 'hns-shared': 'none', 'hns-pod-containers': '3' };
  }
  // The same container ids recur across pods: a container id is unique per host, so make them so.
  const seen = new Set<string>();
  for (const proc of procs) {
    const m = /[0-9a-f]{64}/.exec(proc.cgroup ?? '');
    if (!m) continue;
    const unique = (proc.pid.toString(16).padStart(4, '0') + m[0]).slice(0, 64);
    t.notOk(seen.has(unique));
    seen.add(unique);
    proc.cgroup = (proc.cgroup ?? '').split(m[0]).join(unique);
  }
  const root = path.join(tmp, 'layouts');
  writeFakeProcfs(root, procs);
  const r = (await takeSnapshot({ proc: root, hostname: 'h', pluginId: 'host-namespaces' })).report;
  t.same(reportProblems(r, 'host-namespaces'), [], 'schema-valid with the Pod topology');
  const got: Record<string, Record<string, string>> = {};
  for (const [key, node] of Object.entries(r.Pod?.nodes ?? {})) got[key] = Object.fromEntries(Object.entries(node.latest).map(([k, v]) => [k, v.value]));
  t.same(got, expected, `${Object.keys(layouts).length} layouts, one pod each`);
  t.equal(r.Pod?.table_templates?.['hns-ns-']?.type, 'property-list');
  t.equal(r.Pod?.metadata_templates?.['hns-shared']?.label, 'Host namespaces');
});

t.test('hostNetwork, hostPID, hostIPC pods and shareProcessNamespace', async (t) => {
  const pod = (n: number, c: string): string => `0::/kubepods/besteffort/pod${uid(n)}/${id(c)}\n`;
  const hostNet = { ...INITIAL_NS, mnt: 4026710001, pid: 4026710002, ipc: 4026710003 };
  const hostPidIpc = { ...INITIAL_NS, mnt: 4026720001, net: 4026720002, uts: 4026720003 };
  const shared = { ...INITIAL_NS, mnt: 4026730001, net: 4026730002, uts: 4026730003, ipc: 4026730004, pid: 4026730005 };
  const procs = [
    p(1, INITIAL_NS, '0::/init.scope\n'),
    p(2, INITIAL_NS, '0::/\n'),
    p(10, INITIAL_NS, '0::/user.slice\n'),
    p(100, hostNet, pod(1, 'a')),
    p(101, { ...hostNet, mnt: 4026710011, pid: 4026710012 }, pod(1, 'b')),
    p(200, hostPidIpc, pod(2, 'c')),
    p(201, { ...hostPidIpc, mnt: 4026720011 }, pod(2, 'd')),
    p(300, shared, pod(3, 'e')),
    p(301, { ...shared, mnt: 4026730011 }, pod(3, 'f')),
  ];
  const root = path.join(tmp, 'host');
  writeFakeProcfs(root, procs);
  const r = (await takeSnapshot({ proc: root, hostname: 'h', pluginId: 'host-namespaces' })).report;
  t.same(reportProblems(r, 'host-namespaces'), []);
  const v = (n: number, key: string) => r.Pod?.nodes[`${uid(n)};<pod>`]?.latest[key]?.value;
  t.equal(v(1, 'hns-shared'), 'hostNetwork');
  t.equal(v(1, 'hns-ns-net'), `${INITIAL_NS.net} (host)`);
  t.equal(v(1, 'hns-ns-pid'), undefined, 'own pid namespace per container: no pod pid');
  t.equal(v(2, 'hns-shared'), 'hostPID, hostIPC');
  t.equal(v(2, 'hns-ns-pid'), `${INITIAL_NS.pid} (host)`);
  t.equal(v(2, 'hns-ns-ipc'), `${INITIAL_NS.ipc} (host)`);
  t.equal(v(3, 'hns-shared'), 'none');
  t.equal(v(3, 'hns-ns-pid'), '4026730005', 'shareProcessNamespace: the pod pid namespace');
  t.equal(Object.keys(r.Pod?.nodes ?? {}).length, 3);

  const docker = path.join(tmp, 'docker');
  writeFakeProcfs(docker, [p(1, INITIAL_NS, '0::/init.scope\n'), p(2, INITIAL_NS, '0::/\n'), p(50, hostNet, `0::/system.slice/docker-${id('9')}.scope\n`)]);
  const d = (await takeSnapshot({ proc: docker, hostname: 'h', pluginId: 'host-namespaces' })).report;
  t.equal(d.Pod, undefined, 'no pods: no Pod topology');
  const bad = JSON.parse(JSON.stringify(r)) as typeof r;
  if (bad.Pod) bad.Pod.nodes[`${uid(1).toUpperCase()};<pod>`] = { latest: {} };
  t.match(
    reportProblems(bad, 'host-namespaces')
      .map((x) => x.message)
      .join('\n'),
    /pod node ids look like/,
    'the schema refuses a pod id Scope would not make',
  );
});
