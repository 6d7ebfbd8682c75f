/**
 * `scope-namespaces report --proc <tree>`: the printed report passes the probe's rules (zod schema)
 * and its rows equal the scanner's on the same tree; on captured fixtures they also equal the rows
 * of the real lsns captured alongside (expected/01.out is `lsns -J -l -o NS,TYPE,...,USER`).
 * Needs `npx tsc -p .` first (npm test does it).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import t, { type Test } from 'tap';
import { bytesToUnicode } from '../../src/procfs/bytes.js';
import { loadUserNames, passwdCandidates } from '../../src/procfs/passwd.js';
import { ProcReader } from '../../src/procfs/reader.js';
import { scanNamespaces } from '../../src/scan/namespaces.js';
import { type ScopeReport } from '../../src/scope/report.js';
import { hostOf, tableRows } from '../support/report.js';
import { reportProblems } from '../../src/scope/schema.js';
import { cli, repo } from '../support/daemon.js';
import { smallHost, writeFakeProcfs } from '../support/fake-procfs.js';

t.ok(fs.existsSync(cli), 'dist/cli/main.js is built');

function runReport(args: string[], env: NodeJS.ProcessEnv = {}): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [cli, 'report', ...args], { env: { ...process.env, ...env }, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function scannerRows(proc: string): Map<string, Record<string, string>> {
  const rows = scanNamespaces(new ProcReader(proc), loadUserNames(passwdCandidates(proc))).rows;
  return new Map(
    rows.map((r) => [
      String(r.ns),
      { ns: String(r.ns), type: r.type, nprocs: String(r.nprocs), pid: String(r.pid ?? ''), user: bytesToUnicode(r.user ?? ''), command: bytesToUnicode(r.command ?? '') },
    ]),
  );
}

function checkTree(t: Test, proc: string): ScopeReport | null {
  const r = runReport(['--proc', proc, '--hostname', 'fixture-host']);
  t.equal(r.status, 0, 'exit 0', { stderr: r.stderr });
  if (r.status !== 0) return null;
  t.ok(r.stdout.endsWith('}\n'), 'one JSON document and a newline');
  const report = JSON.parse(r.stdout) as ScopeReport;
  t.same(reportProblems(report, 'host-namespaces'), [], 'a probe takes it');
  const all = tableRows(report, 'fixture-host');
  // Rows no process is in (held by a thread, an fd, a bind mount) each say what holds them; the
  // process rows are the scanner's.
  for (const [id, row] of all) if (row['nprocs'] === '0') t.ok(row['holder'], `row ${id} (no process) says what holds it: ${row['holder']}`);
  const got = new Map([...all].filter(([, row]) => row['nprocs'] !== '0'));
  const want = scannerRows(proc);
  t.ok(want.size > 0, `${want.size} rows`);
  t.same([...got.keys()].sort(), [...want.keys()].sort(), 'same namespaces');
  for (const [id, row] of want) t.same(got.get(id), row, `row ${id}`);
  return report;
}

t.test('hand-made procfs tree', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sn-cli-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const { procs, passwd } = smallHost();
  writeFakeProcfs(dir, procs, passwd);
  const report = checkTree(t, dir);
  const rows = report ? tableRows(report, 'fixture-host') : new Map<string, Record<string, string>>();
  t.equal(rows.get('4026532204')?.['command'], 'nginx: café 日 \ufffd');
  t.equal(rows.size, 13, '8 host namespaces + 5 of the container');
});

const fixturesDir = path.join(repo, 'fixtures');
const fixtures = fs.existsSync(fixturesDir) ? fs.readdirSync(fixturesDir).filter((n) => fs.existsSync(path.join(fixturesDir, n, 'proc'))) : [];
for (const name of fixtures) {
  t.test(`fixture ${name}`, async (t) => {
    const proc = path.join(fixturesDir, name, 'proc');
    const report = checkTree(t, proc);
    const lsnsFile = path.join(fixturesDir, name, 'expected', '01.out');
    const argsFile = path.join(fixturesDir, name, 'expected', '01.args');
    if (!report || !fs.existsSync(lsnsFile) || !fs.readFileSync(argsFile, 'utf8').replace(/\n/g, ' ').includes('-J -l -o NS,TYPE,PATH,NPROCS,PID,PPID,COMMAND,UID,USER')) return;
    // lsns's JSON passes command bytes through; decoded as UTF-8 it is what the report shows.
    const lsns = JSON.parse(fs.readFileSync(lsnsFile, 'utf8')) as { namespaces: Array<{ ns: number; type: string; nprocs: number; pid: number; user: string; command: string }> };
    const got = tableRows(report, 'fixture-host');
    t.equal(got.size, lsns.namespaces.length, 'as many rows as lsns');
    for (const n of lsns.namespaces) {
      t.same(got.get(String(n.ns)), { ns: String(n.ns), type: n.type, nprocs: String(n.nprocs), pid: String(n.pid ?? ''), user: n.user, command: n.command }, `lsns row ${n.ns}`);
    }
  });
}

t.test('SCOPE_HOSTNAME names the host node; bad input exits 64', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sn-cli-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  writeFakeProcfs(dir, smallHost().procs);
  const r = runReport(['--proc', dir], { SCOPE_HOSTNAME: 'from-env' });
  t.equal(r.status, 0);
  t.same(Object.keys(hostOf(JSON.parse(r.stdout) as ScopeReport).nodes), ['from-env;<host>']);
  const bad = runReport(['--proc', dir, '--plugin-id', 'no_underscores']);
  t.equal(bad.status, 64);
  t.match(bad.stderr, /--plugin-id: must match Scope's plugin id rule/);
  const missing = runReport(['--proc', path.join(dir, 'nope')]);
  t.equal(missing.status, 1);
  t.match(missing.stderr, /cannot read .*nope: ENOENT/);
});
