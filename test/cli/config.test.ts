/** serve/report/check configuration, log formatting and Accept-Encoding parsing. */
import * as os from 'node:os';
import t from 'tap';
import { ConfigError, parseCheckConfig, parseReportConfig, parseServeConfig, type HostnameProbe, type ServeConfig } from '../../src/cli/config.js';
import { parseDuration } from '../../src/cli/option-values.js';
import { ok } from '../../src/native/result.js';
import { prettyLine } from '../../src/cli/logging.js';
import { acceptsGzip } from '../../src/server/http.js';

/** The host's UTS namespace, faked: its hostname is 'host-uts-name'. */
const fakeHost: HostnameProbe = { hostUts: async () => ok('host-uts-name') };
const serve = async (argv: string[], env: NodeJS.ProcessEnv = {}, probe: HostnameProbe = fakeHost): Promise<ServeConfig> => {
  const c = await parseServeConfig(argv, env, probe);
  if (c === 'help') throw new Error('help');
  return c;
};
const problems = async (fn: () => Promise<unknown>): Promise<string> => {
  try {
    await fn();
  } catch (e) {
    if (e instanceof ConfigError) return e.problems.join('\n');
    throw e;
  }
  return '';
};

t.test('defaults', async (t) => {
  t.same(await serve([]), {
    pluginsRoot: '/var/run/scope/plugins',
    pluginId: 'host-namespaces',
    hostname: 'host-uts-name',
    hostnameSource: 'host-uts',
    intervalMs: 1000,
    fullRescanMs: 30000,
    proc: '/proc',
    topologies: ['host', 'process', 'container', 'pod'],
    processNodes: 'distinct',
    logLevel: 'info',
    logFormat: 'auto',
  });
  t.equal(await parseServeConfig(['--help'], {}), 'help');
  // The live host: pid 1's or kthreadd's UTS namespace is readable as root here.
  const live = await serve([], {}, {});
  t.match(live, { hostnameSource: 'host-uts', hostname: os.hostname() }, 'the live host UTS namespace (same as ours outside a container)');
});

t.test('flags and environment', async (t) => {
  const c = await serve(['--plugins-root', '/tmp/x', '--plugin-id', 'ns2', '--interval', '1500ms', '--proc', '/host/proc', '--log-format', 'pretty'], {
    SCOPE_HOSTNAME: 'node-7',
    LOG_LEVEL: 'debug',
  });
  t.match(c, { pluginsRoot: '/tmp/x', pluginId: 'ns2', intervalMs: 1500, proc: '/host/proc', hostname: 'node-7', hostnameSource: 'env', logLevel: 'debug', logFormat: 'pretty' });
  t.match(await serve(['--hostname', 'h1', '--log-level', 'warn'], { SCOPE_HOSTNAME: 'node-7', LOG_LEVEL: 'debug' }), { hostname: 'h1', hostnameSource: 'flag', logLevel: 'warn' });
  t.match(await serve([], { LOG_FORMAT: 'json' }), { logFormat: 'json' });
  t.match(await serve([], { SCOPE_HOSTNAME: '' }), { hostname: 'host-uts-name', hostnameSource: 'host-uts' }, 'empty SCOPE_HOSTNAME is unset');
  const asked: string[] = [];
  await serve(['--proc', '/host/proc'], {}, { hostUts: async (proc) => (asked.push(proc), ok('h')) });
  t.same(asked, ['/host/proc'], 'the host UTS namespace is found through --proc');
  const fallback = await serve([], {}, { hostUts: async () => ({ ok: false, code: 'EACCES', errno: 13, reason: 'denied' }), osHostname: () => 'os-name' });
  t.match(fallback, { hostname: 'os-name', hostnameSource: 'os', hostnameFallback: /EACCES: denied/ });
});

t.test('clear messages for bad input', async (t) => {
  t.match(await problems(() => serve(['--plugin-id', 'bad_id'])), /^--plugin-id: must match Scope's plugin id rule.*\(got 'bad_id'\)$/);
  t.match(await problems(() => serve(['--plugin-id', 'a--b'])), /--plugin-id/);
  t.match(await problems(() => serve(['--plugin-id', '-a'])), /--plugin-id/);
  t.match(await problems(() => serve(['--topologies', 'host,pods'])), /^--topologies: 'host,pods' is not a list of host, process, container/);
  t.match(await problems(() => serve(['--topologies', 'process,process'])), /--topologies: 'process,process' names a topology twice/);
  t.match(await problems(() => serve(['--topologies', ''])), /--topologies/);
  t.match(await serve(['--topologies', 'container,host']), { topologies: ['host', 'container'] }, 'canonical order');
  t.match(await serve(['--topologies', ' process ']), { topologies: ['process'] });
  t.match(await problems(() => serve(['--interval', 'soon'])), /--interval: 'soon' is not a duration/);
  t.match(await problems(() => serve(['--interval', '10ms'])), /--interval: '10ms' is out of range/);
  t.match(await problems(() => serve(['--log-level', 'loud'])), /--log-level: must be one of trace, debug/);
  t.match(await serve(['--full-rescan', '2m', '--process-nodes', 'all']), { fullRescanMs: 120000, processNodes: 'all' });
  t.match(await problems(() => serve(['--full-rescan', '1s'])), /--full-rescan: '1s' is out of range/);
  t.match(await problems(() => serve(['--interval', '10s', '--full-rescan', '5s'])), /--full-rescan: must not be shorter than --interval \(10 s\)/);
  t.match(await problems(() => serve(['--process-nodes', 'some'])), /--process-nodes: must be one of distinct, isolated, all/);
  t.match(await problems(() => serve([], { LOG_LEVEL: 'loud' })), /^LOG_LEVEL: must be one of/);
  t.match(await problems(() => serve([], { SCOPE_HOSTNAME: 'a;b' })), /^SCOPE_HOSTNAME: must not contain ';'/);
  t.match(await problems(() => serve(['--hostname', ''])), /--hostname: must not be empty/);
  t.match(await problems(() => serve([], {}, { hostUts: async () => ok('two words') })), /^the host UTS namespace's hostname \(\/proc\/1 or 2\/ns\/uts\): must not contain/);
  t.match(await problems(() => serve(['--bogus'])), /Unknown option '--bogus'/);
  t.match(await problems(() => serve(['--interval'])), /argument missing/);
  t.match(await problems(() => serve(['--plugins-root', '/tmp/' + 'x'.repeat(80)])), /socket path .* is 1\d\d bytes; unix sockets allow at most 107/);
  const two = await problems(() => serve(['--plugin-id', 'x_', '--interval', 'y']));
  t.equal(two.split('\n').length, 2, 'every problem at once');
});

t.test('report and check configs', async (t) => {
  t.match(await parseReportConfig(['--proc', 'fixtures/x', '--hostname', 'h'], {}), { proc: `${process.cwd()}/fixtures/x`, hostname: 'h', pluginId: 'host-namespaces' });
  t.match(parseCheckConfig([]), { pluginsRoot: '/var/run/scope/plugins', pluginId: 'host-namespaces', timeoutMs: 2000 });
  t.match(parseCheckConfig(['--socket', '/tmp/a.sock', '--max-age', '30s']), { socket: '/tmp/a.sock', maxAgeMs: 30000 });
  t.match(await parseReportConfig(['--proc', 'fixtures/x'], {}, fakeHost), { hostname: 'host-uts-name', hostnameSource: 'host-uts' });
  t.match(await problems(async () => parseCheckConfig(['--timeout', 'x'])), /--timeout/);
});

t.test('parseDuration', async (t) => {
  t.equal(parseDuration('5s'), 5000);
  t.equal(parseDuration('5'), 5000);
  t.equal(parseDuration('250ms'), 250);
  t.equal(parseDuration('1.5s'), 1500);
  t.equal(parseDuration('2m'), 120000);
  t.equal(parseDuration('1h'), 3600000);
  t.equal(parseDuration('5 s'), 5000);
  t.equal(parseDuration('-1s'), null);
  t.equal(parseDuration('s'), null);
  t.equal(parseDuration('5d'), null);
});

t.test('pretty log lines', async (t) => {
  const line = prettyLine(JSON.stringify({ level: 40, time: '2026-01-02T03:04:05.000Z', pid: 1, msg: 'refresh failed', rows: 3, socket: '/tmp/a b', issues: { unreadable: 2 } }));
  t.match(line, /^\d\d:\d\d:\d\d WARN {2}refresh failed rows=3 socket="\/tmp\/a b" issues={"unreadable":2}\n$/);
  const err = prettyLine(JSON.stringify({ level: 60, time: 0, msg: 'boom', err: { message: 'bad', stack: 'Error: bad\n  at x' } }));
  t.match(err, /FATAL boom err=bad\n {4}Error: bad\n/);
  t.equal(prettyLine('not json'), 'not json\n');
});

t.test('acceptsGzip', async (t) => {
  t.equal(acceptsGzip('gzip'), true);
  t.equal(acceptsGzip('deflate, gzip;q=0.5'), true);
  t.equal(acceptsGzip('gzip;q=0'), false);
  t.equal(acceptsGzip('identity'), false);
  t.equal(acceptsGzip(undefined), false);
  t.equal(acceptsGzip('GZIP'), true);
});
