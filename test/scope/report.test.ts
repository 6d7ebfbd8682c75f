/** The Scope report's shape, the zod schema of the probe's rules, and rows against the scanner. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import t from 'tap';
import { bytesToUnicode } from '../../src/procfs/bytes.js';
import { loadUserNames, passwdCandidates } from '../../src/procfs/passwd.js';
import { ProcReader } from '../../src/procfs/reader.js';
import { scanNamespaces, type NamespaceRow } from '../../src/scan/namespaces.js';
import { ok } from '../../src/native/result.js';
import { hostNodeId, resolveHostname } from '../../src/scope/host.js';
import { buildHostTableReport, TABLE_PREFIX } from '../../src/scope/host-table.js';
import type { ScopeReport } from '../../src/scope/report.js';
import { hostOf, tableRows } from '../support/report.js';
import { reportProblems } from '../../src/scope/schema.js';
import { smallHost, writeFakeProcfs } from '../support/fake-procfs.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sn-report-'));
t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));
const { procs, passwd } = smallHost();
writeFakeProcfs(tmp, procs, passwd);
const reader = new ProcReader(tmp);
const rows = scanNamespaces(reader, loadUserNames(passwdCandidates(tmp))).rows;
const now = new Date('2026-01-02T03:04:05.678Z');
const report = buildHostTableReport(rows, { hostname: 'node-a', pluginId: 'host-namespaces', now });
const clone = (): ScopeReport => JSON.parse(JSON.stringify(report)) as ScopeReport;

t.test('the report has the Host table shape', async (t) => {
  t.same(Object.keys(report), ['Host', 'Plugins']);
  t.same(Object.keys(report.Host.nodes), ['node-a;<host>']);
  const node = report.Host.nodes['node-a;<host>'];
  t.ok(node);
  t.same(Object.keys(node ?? {}), ['latest'], 'no id or topology on the node');
  t.same(report.Host.table_templates, {
    'hnt-': {
      id: 'hnt-',
      label: 'Host Namespaces',
      prefix: 'hnt-',
      type: 'multicolumn-table',
      columns: [
        { id: 'ns', label: 'NS', dataType: 'number' },
        { id: 'type', label: 'Type', dataType: '' },
        { id: 'nprocs', label: '# Procs', dataType: 'number' },
        { id: 'pid', label: 'Pid', dataType: 'number' },
        { id: 'user', label: 'User', dataType: '' },
        { id: 'command', label: 'Command', dataType: '' },
        { id: 'container', label: 'Container', dataType: '' },
        { id: 'hostname', label: 'Hostname', dataType: '' },
        { id: 'holder', label: 'Held by', dataType: '' },
      ],
    },
  });
  t.equal(report.Plugins.length, 1);
  const spec = report.Plugins[0];
  t.equal(spec?.id, 'host-namespaces');
  t.equal(spec?.label, 'Host namespaces');
  t.ok(spec?.description);
  t.same(spec?.interfaces, ['reporter']);
  t.equal(spec?.api_version, '1');
  const entry = node?.latest[`${TABLE_PREFIX}4026532204___ns`];
  t.same(entry, { timestamp: '2026-01-02T03:04:05.678Z', value: '4026532204' });
  t.equal(Object.keys(node?.latest ?? {}).length, rows.length * 6, 'six cells a row: no hostname was read from a fake tree, so no Hostname cell');
  for (const e of Object.values(node?.latest ?? {})) t.type(e.value, 'string');
});

t.test('rows equal the scanner, commands and users as Unicode', async (t) => {
  const table = tableRows(report, 'node-a');
  t.equal(table.size, rows.length);
  for (const r of rows) {
    t.same(table.get(String(r.ns)), {
      ns: String(r.ns),
      type: r.type,
      nprocs: String(r.nprocs),
      pid: String(r.pid ?? ''),
      user: bytesToUnicode(r.user ?? ''),
      command: bytesToUnicode(r.command ?? ''),
    });
  }
  const container = table.get('4026532204');
  t.equal(container?.['command'], 'nginx: café 日 \ufffd', 'UTF-8 decoded, invalid bytes replaced');
  t.equal(container?.['user'], 'www-data');
  t.equal(container?.['nprocs'], '2');
  t.equal(table.get('4026531840')?.['pid'], '1');
  t.equal(table.get('4026531840')?.['nprocs'], '4');
});

t.test('Hostname cells: uts rows whose hostname is known; NPROCS-0 rows have empty Pid and Command', async (t) => {
  const withNames: NamespaceRow[] = rows.map((r) => ({ ...r }));
  const hostUts = withNames.find((r) => r.ns === 4026531838);
  const containerUts = withNames.find((r) => r.ns === 4026532202);
  const net = withNames.find((r) => r.type === 'net');
  t.ok(hostUts && containerUts && net);
  if (hostUts) hostUts.hostname = 'node-a';
  if (containerUts) containerUts.hostname = 'web-1 \u00c3\u00a9'; // byte string of UTF-8 'web-1 é'
  if (net) net.hostname = 'ignored: not a uts row';
  const pinned: NamespaceRow = { ns: 4026532999, type: 'uts', path: '/run/sn/uts', nprocs: 0, pid: null, ppid: null, command: null, uid: null, user: null, hostname: 'pinned' };
  const unknown: NamespaceRow = { ...pinned, ns: 4026533000, hostname: undefined };
  delete unknown.hostname;
  const r = buildHostTableReport([...withNames, pinned, unknown], { hostname: 'node-a', pluginId: 'host-namespaces', now });
  t.same(reportProblems(r, 'host-namespaces'), []);
  const table = tableRows(r, 'node-a');
  t.equal(table.get('4026531838')?.['hostname'], 'node-a');
  t.equal(table.get('4026532202')?.['hostname'], 'web-1 \u00e9', 'byte-string hostname shown as Unicode');
  t.equal(table.get(String(net?.ns))?.['hostname'], undefined, 'no Hostname cell on other types');
  t.same(table.get('4026532999'), { ns: '4026532999', type: 'uts', nprocs: '0', pid: '', user: '', command: '', hostname: 'pinned' });
  t.same(table.get('4026533000'), { ns: '4026533000', type: 'uts', nprocs: '0', pid: '', user: '', command: '' }, 'unknown hostname: no cell at all');
  const keys = Object.keys(hostOf(r).nodes['node-a;<host>']?.latest ?? {});
  t.equal(keys.filter((k) => k.endsWith('___hostname')).length, 3);
  t.equal(keys.length, (rows.length + 2) * 6 + 3);

  // A Hostname cell is only valid because the template declares the column.
  const undeclared = JSON.parse(JSON.stringify(r)) as ScopeReport;
  const tpl = hostOf(undeclared).table_templates[TABLE_PREFIX];
  if (tpl) tpl.columns = (tpl.columns ?? []).filter((c) => c.id !== 'hostname');
  t.match(
    reportProblems(undeclared, 'host-namespaces')
      .map((p) => p.message)
      .join('\n'),
    /undeclared column 'hostname'/,
  );
});

t.test('the schema accepts our report and an empty one', async (t) => {
  t.same(reportProblems(report, 'host-namespaces'), []);
  t.same(reportProblems(buildHostTableReport([] as NamespaceRow[], { hostname: 'h', pluginId: 'p', now }), 'p'), []);
});

t.test('the schema encodes the probe rules', async (t) => {
  const bad = (what: string, mutate: (r: Record<string, unknown> & ScopeReport) => void, expect: RegExp, id = 'host-namespaces'): void => {
    const r = clone() as Record<string, unknown> & ScopeReport;
    mutate(r);
    const problems = reportProblems(r, id);
    t.ok(problems.length > 0, `${what}: rejected`);
    t.match(problems.map((p) => `${p.path}: ${p.message}`).join('\n'), expect, what);
  };
  const latest = (r: ScopeReport): Record<string, unknown> => hostOf(r).nodes['node-a;<host>']?.latest ?? {};
  const firstKey = Object.keys(report.Host.nodes['node-a;<host>']?.latest ?? {})[0] ?? '';

  bad(
    'lower-case topology key',
    (r) => {
      r['host'] = r.Host;
    },
    /host/,
  );
  bad(
    'timestamp without zone',
    (r) => {
      latest(r)[firstKey] = { timestamp: '2026-01-02T03:04:05', value: 'x' };
    },
    /RFC 3339/,
  );
  bad(
    'numeric timestamp',
    (r) => {
      latest(r)[firstKey] = { timestamp: 1767322245, value: 'x' };
    },
    /timestamp/,
  );
  bad(
    'docs example timestamp',
    (r) => {
      latest(r)[firstKey] = { timestamp: '2016-07-20T15:51:05Z01:00', value: 'x' };
    },
    /RFC 3339/,
  );
  bad(
    'object value',
    (r) => {
      latest(r)[firstKey] = { timestamp: '2026-01-02T03:04:05Z', value: { a: 1 } };
    },
    /string/,
  );
  bad(
    'numeric value',
    (r) => {
      latest(r)[firstKey] = { timestamp: '2026-01-02T03:04:05Z', value: 5 };
    },
    /string/,
  );
  bad(
    'cell key without ___',
    (r) => {
      latest(r)[`${TABLE_PREFIX}4026531840-ns`] = { timestamp: '2026-01-02T03:04:05Z', value: 'x' };
    },
    /___/,
  );
  bad(
    'empty columns of a multicolumn table',
    (r) => {
      const tpl = hostOf(r).table_templates[TABLE_PREFIX];
      if (tpl) tpl.columns = [];
    },
    /columns/,
  );
  bad(
    'two plugin specs',
    (r) => {
      r.Plugins.push({ ...r.Plugins[0]!, id: 'other' });
    },
    /exactly one plugin/,
  );
  bad(
    'no plugin spec',
    (r) => {
      r.Plugins = [];
    },
    /exactly one plugin/,
  );
  bad(
    'Plugins missing',
    (r) => {
      delete (r as Partial<ScopeReport>).Plugins;
    },
    /Plugins/,
  );
  bad(
    'api version',
    (r) => {
      r.Plugins[0]!.api_version = '2';
    },
    /incorrect API version/,
  );
  bad(
    'no reporter interface',
    (r) => {
      r.Plugins[0]!.interfaces = ['controller'];
    },
    /reporter/,
  );
  bad(
    'empty label',
    (r) => {
      r.Plugins[0]!.label = '';
    },
    /label/,
  );
  bad(
    'id differs from the socket-derived id',
    (r) => {
      r.Plugins[0]!.id = 'host-namespaces';
    },
    /must not change its id/,
    'other-id',
  );
  bad(
    'node id differs from its key',
    (r) => {
      (hostOf(r).nodes['node-a;<host>'] as unknown as Record<string, unknown>)['id'] = 'x;<host>';
    },
    /differs from its key/,
  );
  bad(
    'host node key without ;<host>',
    (r) => {
      hostOf(r).nodes['node-a'] = { latest: {} };
    },
    /<host>/,
  );
  bad(
    'unknown node key',
    (r) => {
      (hostOf(r).nodes['node-a;<host>'] as unknown as Record<string, unknown>)['Latest'] = {};
    },
    /Latest/,
  );

  const ok = clone();
  (hostOf(ok).nodes['node-a;<host>'] as unknown as Record<string, unknown>)['id'] = 'node-a;<host>';
  t.same(reportProblems(ok, 'host-namespaces'), [], 'a node id equal to its key is fine');
  const zone = clone();
  latest(zone)[firstKey] = { timestamp: '2026-01-02T04:04:05.123456789+01:00', value: 'x' };
  t.same(reportProblems(zone, 'host-namespaces'), [], 'numeric zone and nanoseconds are fine');
});

t.test('host identity: flag, then SCOPE_HOSTNAME, then the host UTS namespace, then os.hostname()', async (t) => {
  let asked = 0;
  const hostUts = async (): Promise<ReturnType<typeof ok<string>>> => {
    asked++;
    return ok('real-host');
  };
  const osHostname = (): string => 'container-name';
  t.same(await resolveHostname({ flag: 'a', env: { SCOPE_HOSTNAME: 'b' }, hostUts, osHostname }), { hostname: 'a', source: 'flag' });
  t.same(await resolveHostname({ env: { SCOPE_HOSTNAME: 'b' }, hostUts, osHostname }), { hostname: 'b', source: 'env' });
  t.equal(asked, 0, 'the host is not asked when told');
  t.same(await resolveHostname({ env: { SCOPE_HOSTNAME: '' }, hostUts, osHostname }), { hostname: 'real-host', source: 'host-uts' });
  t.same(await resolveHostname({ env: {}, hostUts, osHostname }), { hostname: 'real-host', source: 'host-uts' });
  t.match(await resolveHostname({ env: {}, proc: '/x', hostUts: async () => ({ ok: false, code: 'ENOENT', errno: 2, reason: 'stat /x/2/ns/uts: ENOENT' }), osHostname }), {
    hostname: 'container-name',
    source: 'os',
    fallback: /via \/x: ENOENT/,
  });
  t.match(await resolveHostname({ env: {}, hostUts: async () => ok(''), osHostname }), { hostname: 'container-name', source: 'os', fallback: /empty/ });
  t.match(await resolveHostname({ env: {}, hostUts: async () => Promise.reject(new Error('boom')), osHostname }), { source: 'os', fallback: /boom/ });
  // Live: outside a container the host UTS namespace's name is ours; a tree without ns links falls back.
  t.same(await resolveHostname({ env: {} }), { hostname: os.hostname(), source: 'host-uts' });
  t.match(await resolveHostname({ env: {}, proc: tmp }), { hostname: os.hostname(), source: 'os', fallback: /ENOENT/ });
  t.equal(hostNodeId('x'), 'x;<host>');
});
