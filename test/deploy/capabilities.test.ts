/**
 * Least privilege: the scanner run with exactly the DaemonSet's capabilities (read from
 * manifests/daemonset.yaml) — uid 0, bounding/permitted/effective set = the manifest's `add`,
 * inheritable and ambient empty, as a container runtime sets them — prints the same rows as a
 * fully privileged run: `list --output-all -J --list`, `list -o NS,TYPE,HOSTNAME -t uts -J` and
 * `report`. The host has other users' processes (and other tests may start and stop processes
 * meanwhile), so each restricted run is bracketed by two full runs and compared on the rows both
 * full runs agree on. Counter-checks prove the comparison can fail: with no capabilities, or with
 * each manifest capability removed, rows or hostnames of the test's namespaces are lost.
 */
import { spawnSync } from 'node:child_process';
import t from 'tap';
import { type ScopeReport } from '../../src/scope/report.js';
import { hostOf, tableRows } from '../support/report.js';
import { cli } from '../support/daemon.js';
import { loadManifests, manifestCapabilities } from '../support/deploy.js';
import { haveRootAndTools, startDeployNamespaces } from '../support/deploy-namespaces.js';
import { retryWhileRacing } from '../support/stable.js';

type Row = Record<string, unknown>;
type Rows = Map<string, string>;

/** setpriv argv for uid 0 with exactly `caps` (lower case, no CAP_ prefix); null = full root. */
function prefix(caps: string[] | null): string[] {
  if (caps === null) return [];
  const bounding = ['-all', ...caps.map((c) => `+${c}`)].join(',');
  return ['setpriv', '--inh-caps=-all', `--bounding-set=${bounding}`, '--'];
}

function run(caps: string[] | null, args: string[]): { stdout: string; stderr: string; status: number | null } {
  const argv = [...prefix(caps), process.execPath, cli, ...args];
  const r = spawnSync(argv[0] ?? '', argv.slice(1), { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024, timeout: 60_000 });
  return { stdout: r.stdout, stderr: r.stderr, status: r.status };
}

/** Rows keyed by `ns:type`, each serialised, from `list -J`. */
function listRows(caps: string[] | null, args: string[]): Rows {
  const r = run(caps, ['list', '-J', ...args]);
  if (r.status !== 0) throw new Error(`list ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  const doc = JSON.parse(r.stdout) as { namespaces: Row[] };
  return new Map(doc.namespaces.map((row) => [`${String(row['ns'])}:${String(row['type'])}`, JSON.stringify(row)]));
}

const HOST = 'least-privilege-test';
function reportRows(caps: string[] | null): Rows {
  const r = run(caps, ['report', '--hostname', HOST]);
  if (r.status !== 0) throw new Error(`report exited ${r.status}: ${r.stderr}`);
  const report = JSON.parse(r.stdout) as ScopeReport;
  const nodes = Object.keys(hostOf(report).nodes);
  if (nodes.length !== 1 || nodes[0] !== `${HOST};<host>`) throw new Error(`report nodes: ${nodes.join(', ')}`);
  const out: Rows = new Map();
  for (const [id, row] of tableRows(report, HOST)) out.set(`${id}:${row.type}`, JSON.stringify(row));
  return out;
}

interface Bracketed {
  /** Rows the two full runs agree on. */
  stable: Rows;
  /** Every row either full run saw. */
  union: Set<string>;
  restricted: Rows;
}

function bracket(get: (caps: string[] | null) => Rows, caps: string[]): Bracketed {
  const a = get(null);
  const restricted = get(caps);
  const c = get(null);
  const stable: Rows = new Map();
  for (const [k, v] of a) if (c.get(k) === v) stable.set(k, v);
  return { stable, union: new Set([...a.keys(), ...c.keys()]), restricted };
}

/** Stable rows missing from (or different in) the restricted run, and rows no full run saw. */
function compare(b: Bracketed): { missing: string[]; changed: string[]; extra: string[] } {
  const missing: string[] = [];
  const changed: string[] = [];
  for (const [k, v] of b.stable) {
    const got = b.restricted.get(k);
    if (got === undefined) missing.push(k);
    else if (got !== v) changed.push(`${k}: ${v} -> ${got}`);
  }
  const extra = [...b.restricted.keys()].filter((k) => !b.union.has(k));
  return { missing, changed, extra };
}

/**
 * A bracket whose stable rows still changed in the middle run saw a process start and exit between
 * the full runs (a busy host): retry until a bracket agrees, and compare the last one.
 */
async function agreedBracket(get: (caps: string[] | null) => Rows, caps: string[]): Promise<{ b: Bracketed; d: ReturnType<typeof compare> }> {
  const last: Array<{ b: Bracketed; d: ReturnType<typeof compare> }> = [];
  await retryWhileRacing(
    async () => {
      const b = bracket(get, caps);
      const d = compare(b);
      last[0] = { b, d };
      return d.missing.length + d.changed.length + d.extra.length === 0 ? null : 'rows changed during the bracket';
    },
    { attempts: 8, pauseMs: 500 },
  );
  const out = last[0];
  if (!out) throw new Error('no bracket ran');
  return out;
}

async function main(): Promise<void> {
  const caps = manifestCapabilities(loadManifests().daemonSet);
  const ns = await startDeployNamespaces('sncap');
  t.teardown(async () => {
    const survivors = await ns.cleanup();
    if (survivors.length > 0) throw new Error(`processes survived cleanup: ${survivors.join(' ')}`);
  });
  const ours = ns.inodes();

  t.test('the restricted process has exactly the manifest capabilities as uid 0', async (t) => {
    t.same([...caps].sort(), ['sys_admin', 'sys_ptrace'], 'manifest adds SYS_PTRACE and SYS_ADMIN');
    const argv = [...prefix(caps), 'cat', '/proc/self/status'];
    const r = spawnSync(argv[0] ?? '', argv.slice(1), { encoding: 'utf8' });
    const field = (name: string): bigint => BigInt(`0x${new RegExp(`^${name}:\\s*([0-9a-f]+)$`, 'm').exec(r.stdout)?.[1] ?? 'ffffffffffffffff'}`);
    const want = (1n << 19n) | (1n << 21n); // CAP_SYS_PTRACE, CAP_SYS_ADMIN
    t.equal(field('CapEff'), want, 'effective = {sys_ptrace, sys_admin}');
    t.equal(field('CapPrm'), want, 'permitted = {sys_ptrace, sys_admin}');
    t.equal(field('CapBnd'), want, 'bounding = {sys_ptrace, sys_admin}');
    t.equal(field('CapInh'), 0n, 'inheritable empty');
    t.equal(field('CapAmb'), 0n, 'ambient empty');
    t.match(r.stdout, /^Uid:\s*0\s+0\s+0\s+0$/m, 'uid 0');
  });

  t.test('list --output-all: the manifest capabilities see every row the full run sees', async (t) => {
    const { b, d } = await agreedBracket((c) => listRows(c, ['--output-all', '--list']), caps);
    for (const [k, what] of ours) t.ok(b.stable.has(k), `the full run sees ${what} (${k})`);
    t.same(d.missing, [], 'no stable row missing');
    t.same(d.changed, [], 'no stable row different (NS TYPE PATH NPROCS PID PPID COMMAND UID USER NETNSID NSFS PNS ONS)');
    t.same(d.extra, [], 'no row the full runs did not see');
    t.ok(b.stable.size >= ours.size, `${b.stable.size} stable rows compared`);
  });

  t.test('report: the manifest capabilities give the same table', async (t) => {
    const { b, d } = await agreedBracket(reportRows, caps);
    const withProcs = [...ours].filter(([, what]) => !what.includes('bind-mounted'));
    for (const [k, what] of withProcs) t.ok(b.stable.has(k), `the full report has ${what}`);
    t.same(d.missing, [], 'no stable row missing');
    t.same(d.changed, [], 'no stable row different');
    t.same(d.extra, [], 'no extra row');
  });

  const hostnames = (c: string[] | null): Rows => listRows(c, ['-o', 'NS,TYPE,HOSTNAME', '-t', 'uts']);

  t.test('list -o NS,TYPE,HOSTNAME -t uts: the same hostnames (setns works)', async (t) => {
    const b = bracket(hostnames, caps);
    const name = (k: string): string => (JSON.parse(b.restricted.get(k) ?? '{}') as Partial<Record<string, string>>)['hostname'] ?? '';
    const rootKey = [...ours].find(([, w]) => w === 'rootUts uts')?.[0] ?? '';
    const nobodyKey = [...ours].find(([, w]) => w === 'nobodyUserUts uts')?.[0] ?? '';
    t.equal(name(rootKey), ns.rootUts.hostname, 'root-owned uts namespace');
    t.equal(name(nobodyKey), ns.nobodyUserUts.hostname, 'uts namespace owned by a user namespace of uid 65534');
    const d = compare(b);
    t.same(d.missing, [], 'no stable row missing');
    t.same(d.changed, [], 'no hostname different');
    t.same(d.extra, [], 'no extra row');
  });

  t.test('counter-checks: without each manifest capability, something of ours is lost', async (t) => {
    const full = listRows(null, ['--output-all', '--list']);
    const none = listRows([], ['--output-all', '--list']);
    const lost = [...ours].filter(([k]) => full.has(k) && !none.has(k)).map(([, what]) => what);
    t.equal(lost.length, ours.size, `no capabilities: all ${ours.size} test namespaces are lost (${lost.join(', ')})`);
    const fullNames = hostnames(null);
    // Rows of `-t uts` (the bind-mounted uts namespace of the hidden mount namespace is not among
    // them: with -t uts the other mount namespaces' tables are not read).
    const utsOurs = [...ours.keys()].filter((k) => k.endsWith(':uts') && fullNames.has(k));
    t.ok(utsOurs.length >= 2, `${utsOurs.length} test uts rows with hostnames`);
    for (const cap of caps) {
      const fewer = caps.filter((c) => c !== cap);
      const rows = listRows(fewer, ['--output-all', '--list']);
      const names = hostnames(fewer);
      const lostRows = [...ours.keys()].filter((k) => !rows.has(k));
      const lostNames = utsOurs.filter((k) => names.get(k) !== fullNames.get(k));
      t.ok(lostRows.length + lostNames.length > 0, `without ${cap}: ${lostRows.length} test rows and ${lostNames.length} test hostnames lost`);
      if (cap === 'sys_ptrace') t.equal(lostRows.length, ours.size, 'without sys_ptrace every test namespace is invisible');
      if (cap === 'sys_admin') {
        t.same(lostRows, [], 'without sys_admin every row is still there');
        t.equal(lostNames.length, utsOurs.length, 'without sys_admin no foreign UTS hostname is read (setns EPERM)');
      }
    }
  });
}

const why = haveRootAndTools();
if (why !== null) {
  t.plan(0, `least-privilege test skipped: ${why}`);
} else {
  await main();
}
