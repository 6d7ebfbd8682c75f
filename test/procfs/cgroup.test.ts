/** The cgroup-path parser on strings and on the per-layout fixture files in fixtures/cgroup/. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { containerFromPath, parseCgroupFile, segmentContainer, shortId } from '../../src/procfs/cgroup.js';

const ID = '0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef';
const ID2 = 'fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210';
const UID = '12345678-1234-1234-1234-123456789abc';
const pick = (text: string) => {
  const r = parseCgroupFile(text);
  return r === null ? null : { id: r.id, runtime: r.runtime, ...(r.podUid !== undefined ? { podUid: r.podUid } : {}) };
};

t.test('cgroup v2 layouts', async (t) => {
  t.same(pick(`0::/system.slice/docker-${ID}.scope\n`), { id: ID, runtime: 'docker' }, 'docker, systemd driver');
  t.same(pick(`0::/docker/${ID}\n`), { id: ID, runtime: 'docker' }, 'docker, cgroupfs driver');
  t.same(
    pick(`0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID.replace(/-/g, '_')}.slice/cri-containerd-${ID}.scope\n`),
    { id: ID, runtime: 'containerd', podUid: UID },
    'containerd under kubepods (systemd): pod uid back in dashed form',
  );
  t.same(
    pick(`0::/kubepods.slice/kubepods-pod${UID.replace(/-/g, '_')}.slice/cri-containerd-${ID}.scope`),
    { id: ID, runtime: 'containerd', podUid: UID },
    'Guaranteed QoS: no QoS slice; no trailing newline',
  );
  t.same(pick(`0::/kubepods/besteffort/pod${UID}/${ID}\n`), { id: ID, runtime: 'kubernetes', podUid: UID }, 'kubepods cgroupfs: runtime not named by the path');
  t.same(pick(`0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${UID.replace(/-/g, '_')}.slice/crio-${ID}.scope\n`), { id: ID, runtime: 'cri-o', podUid: UID }, 'CRI-O');
  t.same(pick(`0::/system.slice/crio-${ID}.scope\n`), { id: ID, runtime: 'cri-o' }, 'CRI-O outside kubepods');
  t.same(pick(`0::/machine.slice/libpod-${ID}.scope\n`), { id: ID, runtime: 'podman' }, 'podman');
  t.same(pick(`0::/machine.slice/libpod-${ID}.scope/container\n`), { id: ID, runtime: 'podman' }, 'podman, process in the nested cgroup');
  t.same(pick(`0::/docker/${ID2}/docker/${ID}\n`), { id: ID, runtime: 'docker' }, 'nested: innermost wins');
  t.same(pick(`0::/docker/${ID}/init.scope\n`), { id: ID, runtime: 'docker' }, 'sub-cgroup of a container');
  t.same(pick(`0::/ecs/8a7b6c5d4e3f/${ID}\n`), { id: ID, runtime: 'unknown' }, 'a bare 64-hex id anywhere else: runtime unknown');
  t.same(pick(`0::/libpod_parent/libpod-${ID}\n`), { id: ID, runtime: 'podman' }, 'podman cgroupfs');
  t.same(pick(`0::/libpod_parent/${ID}\n`), { id: ID, runtime: 'podman' }, 'bare id under libpod_parent');
  t.same(pick(`0::/system.slice/docker-${ID}.scope (deleted)\n`), { id: ID, runtime: 'docker' }, 'a removed cgroup still names its container');
});

t.test('cgroup v1 and hybrid files', async (t) => {
  const v1 = ['12:pids', '11:hugetlb', '10:net_cls,net_prio', '4:memory', '1:name=systemd'].map((c) => `${c}:/docker/${ID}`).join('\n') + '\n';
  t.same(pick(v1), { id: ID, runtime: 'docker' }, 'multi-line v1 file');
  t.same(pick(`12:pids:/docker/${ID}\n0::/\n`), { id: ID, runtime: 'docker' }, 'hybrid with an empty v2 line: the v1 line tells');
  t.same(pick(`12:pids:/docker/${ID2}\n0::/system.slice/docker-${ID}.scope\n`), { id: ID, runtime: 'docker' }, 'v1 and v2 disagree: v2 wins');
  t.same(pick(`3:cpu:/\n2:pids:/docker/${ID}\n1:memory:/docker/${ID2}\n`), { id: ID, runtime: 'docker' }, 'v1 lines disagree: the first match wins');
  t.same(
    pick(`4:memory:/system.slice/containerd.service/kubepods-burstable-pod${UID.replace(/-/g, '_')}.slice:cri-containerd:${ID}\n`),
    { id: ID, runtime: 'containerd', podUid: UID },
    'systemd-style slice:prefix:id names (containerd on v1)',
  );
  t.same(pick(`4:memory:/system.slice/docker.service/x.slice:docker:${ID}\r\n`), { id: ID, runtime: 'docker' }, 'CRLF tolerated');
});

t.test('not a container: host cgroups, monitors, garbage', async (t) => {
  for (const text of [
    '0::/\n',
    '0::/init.scope\n',
    '0::/system.slice/sshd.service\n',
    '0::/user.slice/user-0.slice/session-1.scope\n',
    '4:memory:/process_api/2102e22c4119945c592b135c8787fa4c\n0::/\n',
    `0::/machine.slice/libpod-conmon-${ID}.scope\n`,
    `0::/kubepods.slice/crio-conmon-${ID}.scope\n`,
    '0::/docker/4f797c539e6c\n',
    `0::/docker/${ID.toUpperCase()}\n`,
    `0::/docker/${ID}0\n`,
    `0::/docker/${ID.slice(1)}\n`,
    `0::/docker/${ID.slice(0, 63)}g\n`,
    `0::/system.slice/docker-${ID}.service\n`,
    `0::/system.slice/podman-${ID}.scope\n`,
    `0::/x.slice:unknown:${ID}\n`,
    `0::docker/${ID}\n`,
    `x::/docker/${ID}\n`,
    `:pids:/docker/${ID}\n`,
    `/docker/${ID}\n`,
    '',
    '\n\n\n',
    'garbage\u0000\u00ff:::\n12:pids\n',
  ]) {
    t.equal(parseCgroupFile(text), null, JSON.stringify(text.slice(0, 80)));
  }
});

t.test('helpers', async (t) => {
  t.same(segmentContainer(`docker-${ID}.scope`), { id: ID, runtime: 'docker' });
  t.same(segmentContainer(ID), { id: ID, runtime: null });
  t.equal(segmentContainer('docker'), null);
  t.equal(containerFromPath('relative/path'), null);
  t.equal(containerFromPath(`/docker/${ID}`)?.path, `/docker/${ID}`);
  t.equal(shortId(ID), '0123456789ab');
});

t.test('fixture files of every runtime layout', async (t) => {
  const dir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/cgroup');
  const cases = JSON.parse(fs.readFileSync(path.join(dir, 'cases.json'), 'utf8')) as Array<{ file: string; layout: string; expect: { id: string; runtime: string; podUid?: string } | null }>;
  t.ok(cases.length >= 20, `${cases.length} cases`);
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.cgroup'));
  t.same(files.sort(), cases.map((c) => c.file).sort(), 'every fixture file has a case');
  for (const c of cases) t.same(pick(fs.readFileSync(path.join(dir, c.file), 'latin1')), c.expect, `${c.file}: ${c.layout}`);
});
