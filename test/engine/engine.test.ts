/**
 * The image on a real Docker Engine (test/support/engine.ts finds or starts dockerd, builds the
 * local base images once and the repository's Dockerfile on them): no shell, no lsns, its size,
 * no CA bundle in it, HEALTHCHECK healthy; the README's `docker run` line next to real containers
 * (default, --net/--pid/--ipc/--uts=host, a pod-like pair, --privileged), whose Container nodes
 * and Host-table Container cells are checked against what the ENGINE says (docker inspect) and
 * what the KERNEL says (/proc/<State.Pid>/ns/* against this test process's /proc/self/ns, the
 * host's: pid 1's links are unreadable here); restart, removal and a new container within 1.5 s;
 * a container of a second dockerd started with --userns-remap=default (its own user namespace, its
 * root a subordinate uid of the host) in the Host table and as a Container node; docker stop /
 * kill + start of the plugin; JSON log lines.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import t, { type Test } from 'tap';
import { ProbeClient } from '../support/probe-client.js';
import { repo, tempRoot } from '../support/daemon.js';
import { baseImages, baseSourcesMissing, buildPluginImage, docker, dockerOk, getEngine, inspect, removeTagged, tagged, type Inspect, type PluginImage } from '../support/engine.js';
import { copyImage, startRemapEngine } from '../support/engine-userns.js';
import { onAbort, TEST_TAG } from '../support/tag.js';
import type { ScopeReport } from '../../src/scope/report.js';
import { tableRows } from '../support/report.js';

const TYPES = ['mnt', 'net', 'pid', 'uts', 'ipc', 'user', 'cgroup', 'time'] as const;
type NsType = (typeof TYPES)[number];
const ISOLATION: readonly NsType[] = ['net', 'pid', 'ipc', 'uts', 'mnt'];
const BY_DEFAULT: readonly NsType[] = ['user', 'cgroup', 'time'];
/** `node -e "setTimeout(()=>{},1e9)"`, node being the entrypoint. */
const SLEEP_ARGS = ['-e', 'setTimeout(()=>{},1e9)'];
const FRESH_MS = 1500;
const SIZE_LIMIT = 220 * 1024 * 1024;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The kernel's inode of a namespace link, or null when unreadable. */
function nsIno(pid: number | 'self', type: NsType): number | null {
  try {
    const m = /\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${String(pid)}/ns/${type}`));
    return m?.[1] === undefined ? null : Number(m[1]);
  } catch {
    return null;
  }
}
const HOST = Object.fromEntries(TYPES.map((ty) => [ty, nsIno('self', ty)])) as Record<NsType, number | null>;

function kernelNs(pid: number): Record<NsType, number | null> {
  return Object.fromEntries(TYPES.map((ty) => [ty, nsIno(pid, ty)])) as Record<NsType, number | null>;
}

/** Capabilities the kernel knows that this process's bounding set lacks (by number). */
function missingCaps(): string[] {
  const bnd = BigInt(`0x${/CapBnd:\s*([0-9a-f]+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'))?.[1] ?? '0'}`);
  const last = Number(fs.readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8').trim());
  const names: Record<number, string> = { 21: 'CAP_SYS_ADMIN', 24: 'CAP_SYS_RESOURCE' };
  const out: string[] = [];
  for (let i = 0; i <= last; i++) if ((bnd & (1n << BigInt(i))) === 0n) out.push(names[i] ?? `capability ${i}`);
  return out;
}

/** The README's Deployment `docker run` line, as words. */
function readmeRunLine(): string[] {
  const readme = fs.readFileSync(path.join(repo, 'README.md'), 'utf8');
  const m = /`(docker run -d [^`]*scope-namespaces)`/.exec(readme.slice(readme.indexOf('## Deployment')));
  if (m?.[1] === undefined) throw new Error('no `docker run -d ... scope-namespaces` line in the README Deployment section');
  return m[1].split(/\s+/);
}

type Latest = Record<string, { value: string }>;

function latestOf(report: ScopeReport, topology: 'Host' | 'Container', id: string): Latest | undefined {
  const topo = (report as unknown as Record<string, { nodes?: Record<string, { latest?: Latest }> } | undefined>)[topology];
  return topo?.nodes?.[id]?.latest;
}

/** The Host table one namespace per entry (support/report.ts), or why it is malformed. */
function hostRows(report: ScopeReport): Map<string, Record<string, string>> | string {
  try {
    return tableRows(report, os.hostname());
  } catch (e) {
    return `the Host table is malformed: ${String(e)}`;
  }
}

interface Subject {
  what: string;
  id: string;
  info: Inspect;
  ns: Record<NsType, number | null>;
}

async function subject(what: string, id: string): Promise<Subject> {
  const info = await inspect(id);
  return { what, id: info.Id, info, ns: kernelNs(info.State.Pid) };
}

/** What the engine's modes say a container's namespace is: the host's, another container's, or its own. */
function engineSays(s: Subject, type: NsType): { host: boolean; of?: string } {
  const mode = { net: s.info.HostConfig.NetworkMode, pid: s.info.HostConfig.PidMode, ipc: s.info.HostConfig.IpcMode, uts: s.info.HostConfig.UTSMode }[type as 'net'];
  if (mode === undefined) return { host: false };
  if (mode === 'host') return { host: true };
  const m = /^container:(.+)$/.exec(mode);
  return m?.[1] === undefined ? { host: false } : { host: false, of: m[1] };
}

t.test('real Docker Engine', async (t) => {
  const engine = await getEngine();
  if (typeof engine === 'string') {
    t.plan(0, engine);
    return;
  }
  t.teardown(() => engine.teardown());
  const missing = baseSourcesMissing();
  if (missing !== null) {
    t.plan(0, missing);
    return;
  }
  t.comment(`dockerd ${engine.serverVersion}${engine.startedPid === null ? ' (already running)' : ` (started by the suite, pid ${engine.startedPid})`}`);
  await runSuite(t);
});

async function runSuite(t: Test): Promise<void> {
  const started = Date.now();
  const bases = await baseImages();
  t.comment(`base images: ${bases.build}, ${bases.runtime} (${Date.now() - started} ms)`);
  const built: PluginImage = await buildPluginImage(bases);
  t.comment(`built ${built.image} in ${built.buildMs} ms${built.ca === null ? '' : ' (extra CA certificates passed as a build arg)'}`);
  const image = built.image;

  await t.test('the image: no shell, no lsns, no CA bundle, bounded size', async (t) => {
    for (const sh of ['sh', '/bin/sh', '/bin/bash', '/bin/busybox']) {
      const r = await docker(['run', '--rm', ...tagged(), '--entrypoint', sh, image, '-c', 'true']);
      t.not(r.code, 0, `docker run --entrypoint ${sh} fails: ${r.stderr.trim().split('\n')[0] ?? ''}`);
    }
    const probe =
      "const fs=require('fs');const hit=[];for(const d of ['/bin','/sbin','/usr/bin','/usr/sbin','/usr/local/bin']){try{for(const f of fs.readdirSync(d))if(f==='lsns'||f==='sh')hit.push(d+'/'+f)}catch{}};console.log(JSON.stringify(hit))";
    const found = await dockerOk(['run', '--rm', ...tagged(), '--entrypoint', '/nodejs/bin/node', image, '-e', probe]);
    t.same(JSON.parse(found), [], 'no lsns and no sh in any bin directory of the image');
    const size = Number(await dockerOk(['image', 'inspect', '--format', '{{.Size}}', image]));
    t.comment(`image size: ${(size / 1024 / 1024).toFixed(1)} MiB`);
    t.ok(size > 0 && size < SIZE_LIMIT, `image size ${size} bytes < ${SIZE_LIMIT}`);
    const history = await dockerOk(['history', '--no-trunc', '--format', '{{.CreatedBy}}', image]);
    t.notMatch(history, /EXTRA_CA_CERTS|BEGIN CERTIFICATE/, 'the final image history has no CA argument');
    if (built.ca !== null) {
      // The whole exported filesystem, searched for the first extra certificate's body lines.
      const cid = await dockerOk(['create', ...tagged(), image]);
      const dir = tempRoot();
      try {
        const tar = path.join(dir, 'fs.tar');
        await dockerOk(['export', '-o', tar, cid]);
        const bytes = fs.readFileSync(tar);
        const lines = built.ca.split('\n').filter((l) => /^[A-Za-z0-9+/]{64}$/.test(l));
        t.ok(lines.length > 0, 'the extra CA has body lines to look for');
        t.notOk(
          lines.slice(0, 3).some((l) => bytes.includes(l)),
          `no file of the image (${(bytes.length / 1024 / 1024).toFixed(0)} MiB exported) holds the extra CA`,
        );
        t.notOk(bytes.includes('tmp/extra-ca.pem'), 'no /tmp/extra-ca.pem');
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
        await docker(['rm', '-f', cid]);
      }
    } else t.comment("NODE_EXTRA_CA_CERTS unset or holds nothing beyond Node's store: no CA passed");
  });

  // The plugin, by the README's line: the plugins root a temporary directory, the image ours.
  const root = tempRoot();
  // Containers first: a running plugin would make its directory again under a removed root.
  const removeRoot = onAbort(() => {
    removeTagged();
    fs.rmSync(root, { recursive: true, force: true });
  });
  t.teardown(() => removeRoot.run());
  const words = readmeRunLine();
  const line = words.map((w) => (w === 'scope-namespaces' ? image : w.replace(/^\/var\/run\/scope\/plugins:/, `${root}:`)));
  t.ok(
    line.some((w) => w.startsWith(`${root}:`)),
    `README line: ${words.join(' ')}`,
  );
  const pluginId = await dockerOk([...line.slice(1, 3), ...tagged(), '--name', `${TEST_TAG}-plugin`, ...line.slice(3)]);
  const socket = path.join(root, 'host-namespaces', 'host-namespaces.sock');
  const client = new ProbeClient({ id: 'host-namespaces', socketPath: socket }, 2000);
  t.teardown(() => client.close());

  const poll = async (): Promise<ScopeReport | null> => {
    if (!fs.existsSync(socket)) return null;
    const r = await client.poll();
    return r.report;
  };
  const until = async <T>(what: string, timeoutMs: number, f: (r: ScopeReport) => T | undefined | false): Promise<T> => {
    const end = Date.now() + timeoutMs;
    let last = 'no answer';
    for (;;) {
      const r = await poll().catch((e: unknown) => ((last = String(e)), null));
      if (r !== null) {
        const v = f(r);
        if (v !== undefined && v !== false) return v;
        last = 'answered without it';
      }
      if (Date.now() > end) throw new Error(`${what}: not within ${timeoutMs} ms (${last})`);
      await sleep(100);
    }
  };
  await until('the plugin serving', 60_000, () => true);

  // The runtime image has node only: the sleeper is node itself (entrypoint replaced).
  const sleeper = (what: string, opts: string[]): Promise<string> =>
    dockerOk(['run', '-d', ...tagged(), '--name', `${TEST_TAG}-${what}`, '--no-healthcheck', '--entrypoint', '/nodejs/bin/node', ...opts, image, ...SLEEP_ARGS], 60_000);

  // --privileged asks runc for every capability the kernel knows; where this machine's bounding
  // set lacks some (this one has no CAP_SYS_RESOURCE), runc cannot apply them and docker run fails.
  const missing = missingCaps();
  const privileged = sleeper('privileged', ['--privileged']).catch((e: unknown) => {
    if (missing.length > 0 && String(e).includes('unable to apply caps')) return null;
    throw e;
  });
  const [plain, net, pid, ipc, uts, sandbox, priv] = await Promise.all([
    sleeper('default', []),
    sleeper('net-host', ['--net=host']),
    sleeper('pid-host', ['--pid=host']),
    sleeper('ipc-host', ['--ipc=host']),
    sleeper('uts-host', ['--uts=host']),
    sleeper('sandbox', ['--ipc=shareable']),
    privileged,
  ]);
  if (priv === null) t.comment(`--privileged skipped: docker run fails with "unable to apply caps": this machine's capability bounding set lacks ${missing.join(', ')}`);
  const app = await sleeper('app', [`--net=container:${sandbox}`, `--ipc=container:${sandbox}`]);
  const subjects = await Promise.all([
    subject('plugin (README line)', pluginId),
    subject('default', plain),
    subject('--net=host', net),
    subject('--pid=host', pid),
    subject('--ipc=host', ipc),
    subject('--uts=host', uts),
    subject('pod sandbox (--ipc=shareable)', sandbox),
    subject('pod app (--net/--ipc=container:sandbox)', app),
    ...(priv === null ? [] : [subject('--privileged', priv)]),
  ]);

  await t.test('engine and kernel agree (the ground truth is sound)', async (t) => {
    for (const ty of TYPES) t.not(HOST[ty], null, `the host's ${ty} (/proc/self/ns/${ty}) is readable`);
    for (const s of subjects) {
      t.ok(s.info.State.Running && s.info.State.Pid > 0, `${s.what}: running, pid ${s.info.State.Pid}`);
      for (const ty of ['net', 'pid', 'ipc', 'uts'] as const) {
        const says = engineSays(s, ty);
        const ofIno = says.of === undefined ? undefined : subjects.find((o) => o.id.startsWith(says.of ?? '-') || o.info.Name === `/${says.of ?? ''}`)?.ns[ty];
        if (says.host) t.equal(s.ns[ty], HOST[ty], `${s.what}: engine says host ${ty}, kernel agrees`);
        else if (ofIno !== undefined) t.equal(s.ns[ty], ofIno, `${s.what}: engine says ${ty} of ${says.of ?? ''}, kernel agrees`);
        else t.not(s.ns[ty], HOST[ty], `${s.what}: engine says own ${ty}, kernel agrees`);
      }
      t.not(s.ns.mnt, HOST.mnt, `${s.what}: own mnt`);
    }
  });

  const expectNode = (s: Subject, node: Latest | undefined): string[] => {
    const problems: string[] = [];
    if (node === undefined) return [`${s.what}: no Container node ${s.id};<container>`];
    const hostTypes: NsType[] = [];
    for (const ty of TYPES) {
      const ino = s.ns[ty];
      const isHost = ino === HOST[ty];
      if (isHost && ISOLATION.includes(ty)) hostTypes.push(ty);
      const want = BY_DEFAULT.includes(ty) && isHost ? undefined : `${String(ino)}${isHost ? ' (host)' : ''}`;
      const got = node[`hns-ns-${ty}`]?.value;
      if (got !== want) problems.push(`${s.what}: hns-ns-${ty} ${String(got)}, kernel says ${String(want)}`);
    }
    const shared = hostTypes.length === 0 ? 'isolated' : hostTypes.join(', ');
    if (node['hns-shared']?.value !== shared) problems.push(`${s.what}: Host namespaces ${String(node['hns-shared']?.value)}, kernel says ${shared}`);
    const byDefault = BY_DEFAULT.filter((ty) => s.ns[ty] === HOST[ty]).join(', ');
    if ((node['hns-shared-default']?.value ?? '') !== byDefault) problems.push(`${s.what}: Shared with host by default ${String(node['hns-shared-default']?.value)}, kernel says ${byDefault}`);
    return problems;
  };

  const expectRows = (s: Subject, all: readonly Subject[], rows: Map<string, Record<string, string>> | string): string[] => {
    if (typeof rows === 'string') return [rows];
    const problems: string[] = [];
    const short = s.id.slice(0, 12);
    for (const ty of TYPES) {
      const ino = s.ns[ty];
      if (ino === null) continue;
      const row = rows.get(String(ino));
      if (row === undefined) {
        problems.push(`${s.what}: no Host row names ${ty} ${ino}`);
        continue;
      }
      const cell = row['container'];
      if (ino === HOST[ty]) {
        if (cell !== undefined && cell.includes(short)) problems.push(`${s.what}: the host's ${ty} row names it: ${cell}`);
        continue;
      }
      // The containers (of ours) the kernel puts in this namespace; the cell names one and counts the others.
      const sharers = all.filter((o) => o.ns[ty] === ino).map((o) => o.id.slice(0, 12));
      if (!sharers.includes(short)) sharers.push(short);
      const m = /^([0-9a-f]{12})(?: \+(\d+))?$/.exec(cell ?? '');
      if (m?.[1] === undefined) problems.push(`${s.what}: ${ty} ${ino} row's Container cell ${String(cell)}`);
      else if (!sharers.includes(m[1]) || Number(m[2] ?? 0) !== sharers.length - 1) problems.push(`${s.what}: ${ty} ${ino} Container cell ${String(cell)}, kernel says ${sharers.join(' ')}`);
      // The PID cell: the lowest pid in the namespace; each test container has one process.
      const lowest = Math.min(...all.filter((o) => o.ns[ty] === ino).map((o) => o.info.State.Pid));
      if (!s.what.startsWith('plugin') && row['pid'] !== String(lowest)) problems.push(`${s.what}: ${ty} ${ino} PID cell ${String(row['pid'])}, engine says ${lowest}`);
    }
    return problems;
  };

  await t.test('Container nodes and Host-table Container cells match the kernel', async (t) => {
    // The first report may predate the last container's first scan: wait until it is right.
    let problems: string[] = [];
    await until('every container right', 20_000, (r) => {
      const rows = hostRows(r);
      problems = subjects.flatMap((s) => [...expectNode(s, latestOf(r, 'Container', `${s.id};<container>`)), ...expectRows(s, subjects, rows)]);
      return problems.length === 0;
    }).catch(() => undefined);
    t.same(problems, [], 'no differences');
    for (const s of subjects) t.comment(`${s.what}: ${TYPES.map((ty) => `${ty} ${String(s.ns[ty])}${s.ns[ty] === HOST[ty] ? ' (host)' : ''}`).join(', ')}`);
  });

  await t.test('lifecycle: restart, removal, a new container', async (t) => {
    const before = await subject('default', plain);
    await dockerOk(['restart', '-t', '0', plain]);
    const after = await subject('default (restarted)', plain);
    t.equal(after.id, before.id, 'same id');
    t.not(after.info.State.Pid, before.info.State.Pid, `new pid ${after.info.State.Pid}`);
    // The kernel may give the new namespaces the inode numbers of the old ones (freed numbers are
    // reused), so the report is checked against the new process: its namespaces, and its pid in
    // the Host rows of those namespaces.
    const changed = TYPES.filter((ty) => after.ns[ty] !== before.ns[ty]);
    t.comment(`inode numbers changed across the restart: ${changed.join(', ') || 'none (reused)'}`);
    let problems: string[] = [];
    const restartedAt = Date.now();
    await until('the restarted container', 10_000, (r) => {
      problems = [...expectNode(after, latestOf(r, 'Container', `${after.id};<container>`)), ...expectRows(after, [after], hostRows(r))];
      return problems.length === 0;
    }).catch(() => undefined);
    t.same(problems, [], `the restarted container's new namespaces show (${Date.now() - restartedAt} ms)`);

    const fresh = await sleeper('new', []);
    const ranAt = Date.now();
    const s = await subject('new', fresh);
    const shownMs = await until('the new container shown', 10_000, (r) => expectNode(s, latestOf(r, 'Container', `${s.id};<container>`)).length === 0 && Date.now() - ranAt);
    t.ok(shownMs <= FRESH_MS, `new container's namespaces shown ${shownMs} ms after docker run returned (<= ${FRESH_MS})`);

    await dockerOk(['rm', '-f', fresh]);
    const removedAt = Date.now();
    const goneMs = await until('the removed container gone', 10_000, (r) => latestOf(r, 'Container', `${s.id};<container>`) === undefined && Date.now() - removedAt);
    t.ok(goneMs <= FRESH_MS, `removed container gone from the report ${goneMs} ms after docker rm returned (<= ${FRESH_MS})`);
  });

  await t.test('a container in its own user namespace (a second dockerd, --userns-remap=default)', async (t) => {
    const remap = await startRemapEngine();
    if (typeof remap === 'string') {
      t.plan(0, `cannot start dockerd --userns-remap=default here: ${remap}`);
      return;
    }
    t.teardown(() => remap.teardown());
    await copyImage(bases.runtime, remap);
    const id = await dockerOk([...remap.host, 'run', '-d', ...tagged(), '--net=none', bases.runtime, '/nodejs/bin/node', ...SLEEP_ARGS], 60_000);
    const info = (JSON.parse(await dockerOk([...remap.host, 'inspect', id])) as Inspect[])[0];
    if (info === undefined) throw new Error(`docker inspect ${id}: nothing`);
    const s: Subject = { what: 'userns-remapped', id: info.Id, info, ns: kernelNs(info.State.Pid) };
    // The kernel's view: its own user namespace, its root a subordinate uid of the host.
    t.not(s.ns.user, HOST.user, `the kernel puts it in a user namespace of its own (${String(s.ns.user)})`);
    const euid = Number(/^Uid:\s+\d+\s+(\d+)/m.exec(fs.readFileSync(`/proc/${info.State.Pid}/status`, 'utf8'))?.[1] ?? NaN);
    t.ok(euid > 0, `its root is uid ${euid} on the host`);
    let problems: string[] = [];
    await until('the remapped container right', 10_000, (r) => {
      const rows = hostRows(r);
      problems = [...expectNode(s, latestOf(r, 'Container', `${s.id};<container>`)), ...expectRows(s, [s], rows)];
      return problems.length === 0;
    }).catch(() => undefined);
    t.same(problems, [], 'its Container node and Host rows match the kernel, its user namespace among them');
    // USER: the name of that uid if a passwd has one, else the number (as lsns prints it); the
    // host's passwd is the only one that could name it (the image's knows root alone).
    const named = fs
      .readFileSync('/etc/passwd', 'utf8')
      .split('\n')
      .find((l) => l.split(':')[2] === String(euid));
    const userRow = await until('its user namespace row', 10_000, (r) => {
      const rows = hostRows(r);
      return typeof rows === 'string' ? undefined : rows.get(String(s.ns.user));
    });
    if (named === undefined) t.equal(userRow['user'], String(euid), `the User cell of its user namespace is the host uid ${euid}`);
    else t.comment(`uid ${euid} is named in /etc/passwd (${named.split(':')[0] ?? ''}): which passwd the plugin reads decides the cell, not checked`);
    t.equal(userRow['pid'], String(info.State.Pid), 'its PID cell is the container process');
    t.equal(userRow['nprocs'], '1', '# Procs 1');
  });

  await t.test('the plugin container: healthy, JSON logs, kill + start, stop', async (t) => {
    const healthEnd = Date.now() + 120_000;
    let health = '';
    while (Date.now() < healthEnd) {
      health = (await inspect(pluginId)).State.Health?.Status ?? 'none';
      if (health === 'healthy' || health === 'unhealthy') break;
      await sleep(1000);
    }
    t.equal(health, 'healthy', 'HEALTHCHECK reaches healthy');

    const logs = await docker(['logs', pluginId]);
    const lines = (logs.stdout + logs.stderr).split('\n').filter((l) => l.trim() !== '');
    t.ok(lines.length > 0, `${lines.length} log lines`);
    const bad = lines.filter((l) => {
      try {
        return typeof JSON.parse(l) !== 'object';
      } catch {
        return true;
      }
    });
    t.same(bad, [], 'every log line is JSON');

    await dockerOk(['kill', pluginId]);
    t.ok(fs.existsSync(socket), 'after docker kill the socket is left behind');
    const stale = await client.poll();
    t.match(stale.status, /^error: /, `and nothing answers on it (${stale.status})`);
    await dockerOk(['start', pluginId]);
    const back = await until('serving again after kill + start', 60_000, (r) => r.Plugins.length === 1);
    t.ok(back, 'docker start reclaims the stale socket: /report answers again');

    const stopStarted = Date.now();
    let goneAt = 0;
    const watch = setInterval(() => {
      if (goneAt === 0 && !fs.existsSync(socket)) goneAt = Date.now();
    }, 10);
    await dockerOk(['stop', pluginId], 30_000);
    clearInterval(watch);
    const stopMs = Date.now() - stopStarted;
    if (goneAt === 0 && !fs.existsSync(socket)) goneAt = Date.now();
    t.ok(goneAt > 0 && goneAt - stopStarted <= 1000, `the socket was removed ${goneAt - stopStarted} ms after docker stop was called (<= 1000)`);
    const st = await inspect(pluginId);
    t.equal(st.State.ExitCode, 0, `docker stop: exit code 0 (stop took ${stopMs} ms)`);
    t.notOk(fs.existsSync(socket), 'the socket is gone once docker stop returns');
    t.notOk(fs.existsSync(path.dirname(socket)), 'and its directory');
  });
}
