/**
 * A simulated container (no Docker engine here): `serve` runs as the image would run it under
 * `docker run --pid=host -v /var/run/scope/plugins:/var/run/scope/plugins` / the DaemonSet:
 *   - new mount, uts and ipc namespaces; the host's pid and net namespaces (--pid=host);
 *   - a fresh procfs mounted on /proc (what --pid=host gives: the host's pids);
 *   - a hostname that is not the host's;
 *   - every util-linux binary hidden (/dev/null bind-mounted over each, lsns included);
 *   - a tmpfs on /run, the test's plugins root bind-mounted at /var/run/scope/plugins;
 *   - the root filesystem read-only (readOnlyRootFilesystem);
 *   - uid 0 with exactly the manifest's capabilities.
 * A probe-like client on the host side discovers the socket in the bind-mounted directory and
 * polls it. The report must carry every host namespace (compared with host-side `report` runs
 * before and after, on the rows both agree on) under the HOST's node id: with SCOPE_HOSTNAME as the
 * README and the DaemonSet set it, and — once host.ts reads the host UTS namespace — without it.
 * The daemon is stopped with SIGTERM (by pid); its mount namespace, and every mount in it, die with
 * it, which is checked. Needs root, util-linux (unshare, setpriv), mount and a build.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import t, { type Test } from 'tap';
import { type ScopeReport } from '../../src/scope/report.js';
import { hostOf, tableRows } from '../support/report.js';
import { cli, waitFor } from '../support/daemon.js';
import { loadManifests, manifestCapabilities } from '../support/deploy.js';
import { haveRootAndTools, startDeployNamespaces } from '../support/deploy-namespaces.js';
import { discover, ProbeClient } from '../support/probe-client.js';
import { retryWhileRacing } from '../support/stable.js';
import { TAG_VAR, TEST_TAG, mortal, taggedTempDir } from '../support/tag.js';

type Rows = Map<string, string>;
const HOST = os.hostname();
const CONTAINER_HOST = 'sim-container';

/** util-linux's executables (and mount's), resolved and deduplicated; lsns always included. */
function utilLinuxBinaries(): string[] {
  const listed = spawnSync('dpkg', ['-L', 'util-linux', 'mount'], { encoding: 'utf8' });
  const names = (listed.status === 0 ? listed.stdout.split('\n') : []).filter((p) => /\/s?bin\/[^/]+$/.test(p));
  names.push('/usr/bin/lsns', '/usr/bin/nsenter', '/usr/bin/unshare', '/usr/bin/setpriv', '/usr/bin/mount');
  const out = new Set<string>();
  for (const n of names) {
    try {
      const real = fs.realpathSync(n);
      if (fs.statSync(real).isFile()) out.add(real);
    } catch {
      /* not installed */
    }
  }
  return [...out].sort();
}

function which(cmd: string): string {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  const p = r.stdout.trim();
  if (r.status !== 0 || p === '') throw new Error(`${cmd} not found`);
  return fs.realpathSync(p);
}

function hostReportRows(): Rows {
  const r = spawnSync(process.execPath, [cli, 'report', '--hostname', HOST], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`host report exited ${r.status}: ${r.stderr}`);
  return rowsOf(JSON.parse(r.stdout) as ScopeReport);
}

function rowsOf(report: ScopeReport): Rows {
  const out: Rows = new Map();
  for (const [id, row] of tableRows(report, HOST)) out.set(`${id}:${row.type}`, JSON.stringify(row));
  return out;
}

interface Sim {
  child: ChildProcess;
  out: () => string;
  exited: Promise<number | null>;
}

async function main(): Promise<void> {
  const caps = manifestCapabilities(loadManifests().daemonSet);
  const dir = taggedTempDir('sndc');
  const bin = path.join(dir, 'bin');
  fs.mkdirSync(bin);
  // The launcher tools run from copies: the originals are hidden before they are needed last.
  const tools = ['mount', 'umount', 'setpriv', 'hostname'];
  for (const tool of tools) fs.copyFileSync(which(tool), path.join(bin, tool));
  for (const tool of tools) fs.chmodSync(path.join(bin, tool), 0o755);
  const hidden = utilLinuxBinaries();
  const ns = await startDeployNamespaces('sndc');
  const sims: Sim[] = [];
  t.teardown(async () => {
    for (const s of sims) {
      if (s.child.exitCode === null && s.child.signalCode === null) {
        s.child.kill('SIGKILL');
        await s.exited;
      }
    }
    const survivors = await ns.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
    if (survivors.length > 0) throw new Error(`processes survived cleanup: ${survivors.join(' ')}`);
  });

  function startSim(name: string, env: NodeJS.ProcessEnv): { sim: Sim; plugins: string } {
    const plugins = path.join(dir, name);
    fs.mkdirSync(plugins, { mode: 0o755 });
    const bounding = ['-all', ...caps.map((c) => `+${c}`)].join(',');
    // The run's tag too: the daemon must be found by it if it outlives the test.
    const containerEnv = Object.entries({ PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', [TAG_VAR]: TEST_TAG, ...env })
      .map(([k, v]) => `${k}=${v ?? ''}`)
      .join(' ');
    const script = [
      'set -e',
      `B=${bin}`,
      `$B/hostname ${CONTAINER_HOST}`,
      // unshare --mount copies the host's mount table; a container's starts from its image
      // (pivot_root drops the rest). At least drop the host's nsfs bind mounts (ip netns add):
      // a real container does not have them in its own table.
      // mountinfo escapes spaces and the like as \\ooo (another test's `/tmp/x/second mount`): printf %b undoes it.
      "grep ' - nsfs ' /proc/self/mountinfo | cut -d' ' -f5 | sort -r | while read -r m; do $B/umount -l \"$(printf '%b' \"$m\")\"; done",
      '$B/mount -t proc proc /proc',
      '$B/mount -t tmpfs -o mode=755 tmpfs /run',
      'mkdir -p /run/scope/plugins',
      `$B/mount --bind ${plugins} /run/scope/plugins`,
      `for f in ${hidden.join(' ')}; do $B/mount --bind /dev/null "$f"; done`,
      '$B/mount -o remount,bind,ro /',
      'if touch /.sndc-write-test 2>/dev/null; then echo "root filesystem is writable"; exit 1; fi',
      'if [ -s /usr/bin/lsns ]; then echo "lsns still visible"; exit 1; fi',
      'echo "sim: hostname=$(cat /proc/sys/kernel/hostname) hidden=$(ls -l /usr/bin/lsns)"',
      // env -i: a container's environment, not the test runner's (tap's spawn wrapper adds a
      // NODE_OPTIONS that makes node write coverage data under the read-only root at exit).
      `exec $B/setpriv --inh-caps=-all --bounding-set=${bounding} -- env -i ${containerEnv} ${process.execPath} ${cli} serve --log-format json --interval 1s`,
    ].join('\n');
    // Dies with this process (its setpriv keeps a subset of the capabilities: the death signal stays).
    const child = spawn(...mortal('unshare', ['--mount', '--uts', '--ipc', '--propagation', 'private', 'sh', '-c', script]), {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const sim = { child, out: () => out, exited };
    sims.push(sim);
    return { sim, plugins };
  }

  async function check(t: Test, name: string, env: NodeJS.ProcessEnv): Promise<void> {
    const { sim, plugins } = startSim(name, env);
    await waitFor(() => sim.out().includes('"msg":"serving"') || sim.child.exitCode !== null, 30_000, 'serving');
    t.equal(sim.child.exitCode, null, `serve is running in the simulated container${sim.child.exitCode !== null ? `: ${sim.out()}` : ''}`);
    if (sim.child.exitCode !== null) return;
    const pid = sim.child.pid ?? 0;
    t.match(sim.out(), new RegExp(`sim: hostname=${CONTAINER_HOST} hidden=crw`), 'container hostname set, lsns replaced by /dev/null');
    t.not(fs.readlinkSync(`/proc/${pid}/ns/uts`), fs.readlinkSync('/proc/self/ns/uts'), 'own uts namespace');
    t.not(fs.readlinkSync(`/proc/${pid}/ns/ipc`), fs.readlinkSync('/proc/self/ns/ipc'), 'own ipc namespace');
    t.not(fs.readlinkSync(`/proc/${pid}/ns/mnt`), fs.readlinkSync('/proc/self/ns/mnt'), 'own mount namespace');
    t.equal(fs.readlinkSync(`/proc/${pid}/ns/pid`), fs.readlinkSync('/proc/self/ns/pid'), "the host's pid namespace");
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const want = caps.reduce((acc, c) => acc | (1n << BigInt(c === 'sys_ptrace' ? 19 : c === 'sys_admin' ? 21 : 63)), 0n);
    t.equal(BigInt(`0x${/^CapEff:\s*([0-9a-f]+)$/m.exec(status)?.[1] ?? '0'}`), want, `serve runs with exactly ${caps.join(', ')}`);

    const found = discover(plugins);
    t.same(
      found.map((f) => f.id),
      ['host-namespaces'],
      'the probe finds the socket through the bind-mounted plugins root',
    );
    const plugin = found[0];
    if (!plugin) return;
    const client = new ProbeClient(plugin);
    try {
      // Bracket one served snapshot between two host-side reports. Other processes on the host
      // start and exit meanwhile (NPROCS of the host's namespaces moves): compare only a bracket in
      // which nothing changed, i.e. retry until two consecutive comparisons agree with the host.
      // The host-side `report` process counts itself in the namespaces it shares with this test
      // (the host's); it is not running when the daemon takes its snapshot: one fewer there.
      const mine = new Set(['mnt', 'net', 'pid', 'uts', 'ipc', 'user', 'cgroup', 'time'].map((type) => `${/\[(\d+)\]/.exec(fs.readlinkSync(`/proc/self/ns/${type}`))?.[1] ?? ''}:${type}`));
      const expect = (k: string, v: string): string => {
        if (!mine.has(k)) return v;
        const row = JSON.parse(v) as Record<string, string>;
        return JSON.stringify({ ...row, nprocs: String(Number(row['nprocs']) - 1) });
      };
      interface Bracket {
        status: string;
        got: Rows | null;
        served: ScopeReport | null;
        missing: string[];
        changed: string[];
        extra: string[];
        stable: number;
      }
      const bracket = async (): Promise<Bracket> => {
        const a = hostReportRows();
        const afterA = Date.now();
        let served: ScopeReport | null = null;
        let status = '';
        // Wait (generously: the machine may be busy) for a snapshot taken after the first report.
        const deadline = Date.now() + 60_000;
        while (Date.now() < deadline) {
          const raw = await client.fetch();
          const r = client.decode(raw);
          status = r.status;
          const report = r.report;
          if (report !== null) {
            const latest = Object.values(hostOf(report).nodes)[0]?.latest ?? {};
            const takenAt = Math.min(...Object.values(latest).map((e) => Date.parse(e.timestamp)));
            if (takenAt >= afterA) {
              served = report;
              break;
            }
          }
          await new Promise((r) => setTimeout(r, 200));
        }
        const c = hostReportRows();
        const out: Bracket = { status, got: null, served, missing: [], changed: [], extra: [], stable: 0 };
        if (served === null) return out;
        const got = rowsOf(served);
        out.got = got;
        for (const [k, v] of a) {
          if (c.get(k) !== v) continue;
          out.stable++;
          const g = got.get(k);
          if (g === undefined) out.missing.push(k);
          else if (g !== expect(k, v)) out.changed.push(`${k}: ${expect(k, v)} -> ${g}`);
        }
        const union = new Set([...a.keys(), ...c.keys()]);
        out.extra = [...got.keys()].filter((k) => !union.has(k));
        return out;
      };
      const last: Bracket[] = [];
      const { attempts } = await retryWhileRacing(
        async () => {
          const b = await bracket();
          last[0] = b;
          if (b.served === null) return null; // asserted below
          return b.missing.length + b.changed.length + b.extra.length === 0 ? null : `${b.changed.length} changed`;
        },
        { attempts: 8, pauseMs: 500 },
      );
      const b = last[0];
      if (!b) return;
      t.equal(b.status, 'ok', 'the probe accepts the answer');
      if (b.served === null || b.got === null) {
        t.fail('no snapshot newer than the first host-side report');
        return;
      }
      const report: ScopeReport = b.served;
      const got: Rows = b.got;
      t.same(Object.keys(hostOf(report).nodes), [`${HOST};<host>`], `one host node, the host's (${HOST}), not ${CONTAINER_HOST}`);
      t.same(b.missing, [], `every host namespace is in the container's report (${b.stable} stable rows, ${attempts} bracket(s))`);
      t.same(b.changed, [], "with the same cells (NPROCS of the host's own namespaces one lower: no host-side report process then)");
      t.same(b.extra, [], 'and nothing the host does not see');
      for (const [k, what] of ns.inodes()) if (!what.includes('bind-mounted')) t.ok(got.has(k), `the report has ${what}`);
      const selfUts = `${/\[(\d+)\]/.exec(fs.readlinkSync(`/proc/${pid}/ns/uts`))?.[1] ?? ''}:uts`;
      t.ok(got.has(selfUts), "the container's own uts namespace is a row");
      const rootUts = [...ns.inodes()].find(([, w]) => w === 'rootUts uts')?.[0] ?? '';
      const cell = JSON.parse(got.get(rootUts) ?? '{}') as Record<string, string>;
      if ('hostname' in cell || [...got.values()].some((v) => v.includes('"hostname"'))) {
        t.equal(cell['hostname'], ns.rootUts.hostname, 'Hostname cell of a foreign uts namespace (setns with CAP_SYS_ADMIN)');
        t.equal((JSON.parse(got.get(selfUts) ?? '{}') as Record<string, string>)['hostname'], CONTAINER_HOST, "the container's own uts row shows its hostname");
      }
    } finally {
      client.close();
    }

    sim.child.kill('SIGTERM');
    const code = await sim.exited;
    t.equal(code, 0, `SIGTERM: serve exits 0${code !== 0 ? `: ${sim.out().slice(-2000)}` : ''}`);
    t.notOk(fs.existsSync(path.join(plugins, 'host-namespaces')), 'its socket directory is removed from the shared plugins root');
    await waitFor(() => !fs.existsSync(`/proc/${pid}`), 30_000, 'pid gone').catch(() => undefined);
    t.notOk(fs.existsSync(`/proc/${pid}/ns`), 'the process is gone, so is its mount namespace');
    const mi = fs.readFileSync('/proc/self/mountinfo', 'utf8');
    t.notOk(mi.includes(dir), 'no mount of the test leaked into the host mount namespace');
  }

  t.test('with SCOPE_HOSTNAME set to the host name (README, DaemonSet: spec.nodeName)', async (t) => {
    await check(t, 'env', { SCOPE_HOSTNAME: HOST });
  });

  t.test('without SCOPE_HOSTNAME: the host UTS namespace names the node', async (t) => {
    const host: Record<string, unknown> = await import('../../src/scope/host.js');
    if (typeof host['readHostUtsHostname'] !== 'function') {
      t.plan(0, 'src/scope/host.ts does not read the host UTS namespace yet; deployments set SCOPE_HOSTNAME');
      return;
    }
    await check(t, 'uts', {});
  });
}

const why = haveRootAndTools() ?? (spawnSync('sh', ['-c', 'command -v mount && command -v hostname']).status === 0 ? null : 'needs mount and hostname');
if (why !== null) {
  t.plan(0, `simulated container test skipped: ${why}`);
} else {
  await main();
}
