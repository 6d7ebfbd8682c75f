/**
 * The plugin run "in a container": `list`, `report` and `serve` inside
 * `unshare --mount --uts --fork --propagation private`, where the hostname is `fake-container` and
 * a different passwd (uid 0 `notroot`, uid 65534 `fakebody`) is bind-mounted over /etc/passwd. The
 * pid namespace is the host's (like `--pid=host`). What must hold:
 *   - the Host node id is `<real host hostname>;<host>` (the host UTS namespace's name, read via
 *     /proc/1 or /proc/2), unless SCOPE_HOSTNAME says otherwise;
 *   - user names come from the HOST's passwd (root / nobody), not the container's;
 *   - the container's UTS row shows hostname fake-container (HOSTNAME column / Hostname cell);
 *   - a UTS namespace pinned only by a bind mount shows as an NPROCS-0 row with its hostname;
 *   - the daemon keeps one UTS worker across refreshes.
 * Every process is started in one process group and killed by pid/pgid; the mounts die with the
 * mount namespace, which is checked. Needs root, util-linux (unshare, setpriv) and a build.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import t, { type Test } from 'tap';
import { type ScopeReport } from '../../src/scope/report.js';
import { hostOf, tableRows } from '../support/report.js';
import { reportProblems } from '../../src/scope/schema.js';
import { cli, waitFor } from '../support/daemon.js';
import { discover, ProbeClient } from '../support/probe-client.js';
import { DIE_WITH_PARENT, mortal, taggedTempDir } from '../support/tag.js';

const missing = ['unshare', 'setpriv', 'hostname'].filter((c) => spawnSync('sh', ['-c', `command -v ${c}`]).status !== 0);
if (process.getuid?.() !== 0 || missing.length > 0) t.plan(0, `needs root and ${missing.join(', ') || 'util-linux'}`);
else run();

function run(): void {
  t.ok(fs.existsSync(cli), 'dist/cli/main.js is built');

  const realHost = os.hostname();
  const dir = taggedTempDir('snc');
  const pinned = path.join(dir, 'pins', 'uts');
  fs.writeFileSync(path.join(dir, 'passwd'), 'notroot:x:0:0:not root:/root:/bin/bash\nfakebody:x:65534:65534:fake nobody:/nonexistent:/usr/sbin/nologin\n');

  const script = `
set -u
D="$1"; NODE="$2"; CLI="$3"
echo $$ > "$D/container.pid"
SLEEPER=
cleanup() { if [ -n "$SLEEPER" ]; then kill "$SLEEPER" 2>/dev/null; wait "$SLEEPER" 2>/dev/null; fi; }
trap cleanup EXIT
hostname fake-container || exit 10
mount --bind "$D/passwd" /etc/passwd || exit 11
mkdir -p "$D/pins" && mount -t tmpfs sn-pins "$D/pins" && touch "$D/pins/uts" || exit 12
# A UTS namespace no process is in, kept alive by a bind mount, with its own hostname.
unshare --uts="$D/pins/uts" hostname pinned-uts || exit 13
# uid 65534 alone (so the lowest pid) in a new ipc namespace: its USER cell must say nobody.
# setpriv sets the death signal after the uid change (which clears it): dies with this shell.
unshare --ipc setpriv --reuid 65534 --regid 65534 --clear-groups --pdeathsig KILL sleep 600 &
SLEEPER=$!
echo "$SLEEPER" > "$D/sleeper.pid"
for i in $(seq 200); do [ "$(cat /proc/$SLEEPER/comm 2>/dev/null)" = sleep ] && break; sleep 0.05; done
id -nu 0 > "$D/id-0"; hostname > "$D/hostname"
"$NODE" "$CLI" list -J -l -o NS,TYPE,PID,USER,HOSTNAME > "$D/list.json" 2> "$D/list.err"; echo $? > "$D/list.rc"
env -u SCOPE_HOSTNAME "$NODE" "$CLI" report > "$D/report.json" 2> "$D/report.err"; echo $? > "$D/report.rc"
SCOPE_HOSTNAME=from-env "$NODE" "$CLI" report > "$D/report-env.json" 2> "$D/report-env.err"; echo $? > "$D/report-env.rc"
${DIE_WITH_PARENT} env -u SCOPE_HOSTNAME "$NODE" "$CLI" serve --plugins-root "$D/plugins" --interval 1s --log-format json --log-level debug 2> "$D/serve.log" &
echo $! > "$D/serve.pid"
wait $!
echo $? > "$D/serve.rc"
`;
  fs.writeFileSync(path.join(dir, 'container.sh'), script);

  const read = (name: string): string => fs.readFileSync(path.join(dir, name), 'utf8');
  const readPid = (name: string): number | null => {
    try {
      return Number(read(name).trim()) || null;
    } catch {
      return null;
    }
  };
  const alive = (pid: number): boolean => {
    try {
      // A zombie is dead already (only its parent's wait is missing).
      return !/^\d+ \(.*\) Z /s.test(fs.readFileSync(`/proc/${pid}/stat`, 'latin1'));
    } catch {
      return false;
    }
  };

  // Own process group (detached), so cleanup reaches everything the script started.
  // Dies with this process, and its forked bash with it (--kill-child).
  const container = spawn(...mortal('unshare', ['--mount', '--uts', '--fork', '--kill-child', '--propagation', 'private', 'bash', path.join(dir, 'container.sh'), dir, process.execPath, cli]), {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, LC_ALL: 'C' },
  });
  let containerErr = '';
  container.stderr?.on('data', (d: Buffer) => (containerErr += d.toString()));
  container.stdout?.resume();
  const containerExit = new Promise<number | null>((resolve) => container.on('exit', (code) => resolve(code)));
  const pgid = container.pid ?? 0;

  t.teardown(async () => {
    const pids = [container.pid, readPid('container.pid'), readPid('sleeper.pid'), readPid('serve.pid')].filter((p): p is number => typeof p === 'number' && p > 0);
    if (pids.some(alive)) {
      try {
        process.kill(-pgid, 'SIGKILL');
      } catch {
        // group already gone
      }
      for (const p of pids) {
        try {
          process.kill(p, 'SIGKILL');
        } catch {
          // gone
        }
      }
      await containerExit;
      await waitFor(() => !pids.some(alive), 30_000, 'every container process gone').catch(() => {});
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  interface ListRow {
    ns: number;
    type: string;
    pid: number | null;
    user: string | null;
    hostname: string | null;
    children?: ListRow[];
  }
  const flatten = (rows: ListRow[]): ListRow[] => rows.flatMap((r) => [r, ...flatten(r.children ?? [])]);
  const inode = (p: string): number => fs.statSync(p).ino;

  t.test('list, report and serve inside a fake container', async (t) => {
    const sock = path.join(dir, 'plugins', 'host-namespaces', 'host-namespaces.sock');
    await waitFor(() => fs.existsSync(sock) || container.exitCode !== null, 60_000, 'the daemon in the container to serve');
    t.equal(container.exitCode, null, 'container still running', { stderr: containerErr });
    if (container.exitCode !== null) return;

    const containerPid = readPid('container.pid');
    const sleeper = readPid('sleeper.pid');
    t.ok(containerPid && sleeper, 'pids recorded');
    // unshare(1) calls unshare(2) itself before forking: it is the lowest pid of the new namespaces.
    const lowest = container.pid;
    const containerUts = inode(`/proc/${containerPid}/ns/uts`);
    const hostUts = inode('/proc/self/ns/uts');
    const sleeperIpc = inode(`/proc/${sleeper}/ns/ipc`);
    t.not(containerUts, hostUts, 'the container has its own UTS namespace');
    t.equal(read('hostname').trim(), 'fake-container', 'inside, the hostname is fake-container');
    t.equal(read('id-0').trim(), 'notroot', "inside, /etc/passwd is the container's");
    t.equal(fs.statSync(`/proc/${sleeper}`).uid, 65534, 'the sleeper runs as uid 65534');

    t.test('list -J -o NS,TYPE,PID,USER,HOSTNAME', async (t) => {
      t.equal(read('list.rc').trim(), '0', 'exit 0', { stderr: read('list.err') });
      const rows = flatten((JSON.parse(read('list.json')) as { namespaces: ListRow[] }).namespaces);
      const byNs = new Map(rows.map((r) => [r.ns, r]));
      t.match(byNs.get(containerUts), { type: 'uts', pid: lowest, user: 'root', hostname: 'fake-container' }, 'container UTS row');
      t.match(byNs.get(hostUts), { type: 'uts', user: 'root', hostname: realHost }, 'host UTS row');
      t.match(byNs.get(sleeperIpc), { type: 'ipc', pid: sleeper, user: 'nobody' }, "uid 65534 is the host's nobody");
      t.match(byNs.get(inode(`/proc/${containerPid}/root${pinned}`)), { type: 'uts', pid: null, user: 'root', hostname: 'pinned-uts' }, 'pinned UTS namespace, no process');
      t.same(
        rows.filter((r) => r.user === 'notroot' || r.user === 'fakebody'),
        [],
        "no name from the container's passwd",
      );
    });

    const checkReport = (t: Test, report: ScopeReport, hostname: string): void => {
      t.same(reportProblems(report, 'host-namespaces'), [], 'valid for a probe');
      t.same(Object.keys(hostOf(report).nodes), [`${hostname};<host>`], `host node ${hostname};<host>`);
      const table = tableRows(report, hostname);
      t.match(table.get(String(containerUts)), { type: 'uts', pid: String(lowest), user: 'root', hostname: 'fake-container' }, 'container UTS row: Hostname fake-container');
      t.match(table.get(String(hostUts)), { type: 'uts', user: 'root', hostname: realHost }, 'host UTS row');
      t.match(table.get(String(sleeperIpc)), { type: 'ipc', pid: String(sleeper), user: 'nobody' }, "uid 65534 is the host's nobody");
      t.match(
        table.get(String(inode(`/proc/${containerPid}/root${pinned}`))),
        { type: 'uts', nprocs: '0', pid: '', command: '', hostname: 'pinned-uts' },
        'pinned UTS row: NPROCS 0, empty Pid/Command',
      );
      const users = new Set([...table.values()].map((r) => r['user']));
      t.notOk(users.has('notroot') || users.has('fakebody'), "no name from the container's passwd");
      for (const row of table.values()) if (row['type'] !== 'uts') t.equal(row['hostname'], undefined, `no Hostname cell on ${row['type']} ${row['ns']}`);
    };

    t.test('report: host node named after the host UTS namespace', async (t) => {
      t.equal(read('report.rc').trim(), '0', 'exit 0', { stderr: read('report.err') });
      t.not(realHost, 'fake-container');
      checkReport(t, JSON.parse(read('report.json')) as ScopeReport, realHost);
    });

    t.test('report with SCOPE_HOSTNAME: the variable wins', async (t) => {
      t.equal(read('report-env.rc').trim(), '0', 'exit 0', { stderr: read('report-env.err') });
      checkReport(t, JSON.parse(read('report-env.json')) as ScopeReport, 'from-env');
    });

    t.test('serve: /report over the socket', async (t) => {
      const found = discover(path.join(dir, 'plugins'));
      t.same(found, [{ id: 'host-namespaces', socketPath: sock }]);
      const client = new ProbeClient({ id: 'host-namespaces', socketPath: sock });
      t.teardown(() => client.close());
      const r = await client.poll();
      t.equal(r.status, 'ok', 'a probe takes it');
      if (r.report) checkReport(t, r.report, realHost);
      t.match(read('serve.log'), /"hostname":"[^"]+","hostnameSource":"host-uts"/, 'the source of the host identity is logged');

      // A few incremental ticks later (one a second by default) it still answers.
      await new Promise((r) => setTimeout(r, 2500));
      t.equal((await client.poll()).status, 'ok', 'still ok after some ticks');

      const servePid = readPid('serve.pid');
      t.ok(servePid);
      if (servePid) process.kill(servePid, 'SIGTERM');
      await waitFor(() => fs.existsSync(path.join(dir, 'serve.rc')), 30_000, 'serve to stop');
      t.equal(read('serve.rc').trim(), '0', 'serve exits 0 on SIGTERM');
      t.notOk(fs.existsSync(path.dirname(sock)), 'socket directory removed');
    });

    t.test('everything is gone afterwards', async (t) => {
      t.equal(await containerExit, 0, 'the container script ends cleanly', { stderr: containerErr });
      const pids = [container.pid, containerPid, sleeper, readPid('serve.pid')].filter((p): p is number => typeof p === 'number');
      await waitFor(() => !pids.some(alive), 30_000, 'no survivor').catch(() => {});
      t.same(pids.filter(alive), [], 'no process survives');
      const mine = fs.readFileSync('/proc/self/mountinfo', 'utf8');
      t.notOk(mine.includes(dir), 'no mount of the test leaked into our mount namespace');
    });
  });
}
