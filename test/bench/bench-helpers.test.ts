/** The bench's pure helpers on hand-made inputs (the bench itself is not part of `npm test`). */
import t from 'tap';
import { parseStatCpuTicks, parseStatusKb } from '../bench/proc-sample.js';
import { countLatestEntries, hostTableRowPid, probeCostFromBytes, probeCostFromEntries } from '../bench/report-figures.js';
import { parseArgs } from '../bench/suite.js';
import { median, p99, quantile } from '../bench/stats.js';
import { parseSizes, scaleTargets, type ScalePoint } from '../bench/scale.js';
import type { ListFigures } from '../bench/list-vs-lsns.js';
import type { CpuWindow } from '../bench/serve-figures.js';
import type { Freshness } from '../bench/freshness.js';
import { containerScript } from '../bench/containers.js';
import { describeFds, fdKinds, holdsNsFd, sleeperStdio, sumFdFigures, type FdFigures } from '../bench/fds.js';

t.test('quantiles interpolate between order statistics', async (t) => {
  t.equal(median([4, 1, 3, 2]), 2.5);
  t.equal(median([7]), 7);
  t.ok(Number.isNaN(median([])));
  t.equal(p99(Array.from({ length: 100 }, (_, i) => i + 1)), 99.01);
  t.equal(quantile([10, 20], 1), 20);
});

t.test('parseStatCpuTicks: utime+stime, counted from the last ")"', async (t) => {
  // Fields 3.. : state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime(14) stime(15) ...
  const line = '1234 (we) ird x) S 1 1234 1234 0 -1 4194560 100 0 0 0 17 5 0 0 20 0 1 0 100 1000 50\n';
  t.equal(parseStatCpuTicks(line), 22);
  t.ok(Number.isNaN(parseStatCpuTicks('1234 (sleep) S 1 1234')), 'truncated line');
  t.ok(Number.isNaN(parseStatCpuTicks('garbage')), 'no comm');
});

t.test('parseStatusKb', async (t) => {
  const status = 'Name:\tnode\nVmHWM:\t   99620 kB\nVmRSS:\t   81234 kB\nThreads:\t11\n';
  t.equal(parseStatusKb(status, 'VmRSS'), 81234);
  t.equal(parseStatusKb(status, 'VmHWM'), 99620);
  t.ok(Number.isNaN(parseStatusKb(status, 'VmSwap')));
});

t.test('countLatestEntries counts every latest entry of every node of every topology', async (t) => {
  const e = { timestamp: '2026-11-30T00:00:00Z', value: 'x' };
  const report = {
    Host: { nodes: { 'h;<host>': { latest: { a: e, b: e, c: e } } }, table_templates: {} },
    Process: { nodes: { 'h;1': { latest: { a: e, b: e } }, 'h;2': { latest: { a: e } }, 'h;3': {} } },
    Container: { nodes: {} },
    Plugins: [{ id: 'p', latest: { a: e } }],
  };
  t.equal(countLatestEntries(report), 6);
  t.equal(countLatestEntries(null), 0);
  t.equal(countLatestEntries({ Host: { nodes: [] } }), 0, 'nodes not an object');
});

t.test('hostTableRowPid reads the Pid cell of a Host table row found by its inode', async (t) => {
  const json =
    '{"Host":{"nodes":{"h;<host>":{"latest":{' +
    '"hnt-4026531838___type":{"timestamp":"2026-11-30T00:00:00Z","value":"uts"},' +
    '"hnt-4026531838___pid":{"value":"4321","timestamp":"2026-11-30T00:00:00Z"},' +
    '"hnt-4026532000___pid":{"timestamp":"2026-11-30T00:00:00Z","value":""},' +
    '"hnt-4026532001___type":{"timestamp":"2026-11-30T00:00:00Z","value":"net"}}}}},' +
    '"Process":{"nodes":{"h;9":{"latest":{"hns-ns-ipc":{"value":"4026532999 (host)"}}}}}}';
  t.equal(hostTableRowPid(json, 4026531838), 4321);
  t.equal(hostTableRowPid(json, 4026532000), null, 'empty Pid cell (no process)');
  t.equal(hostTableRowPid(json, 4026532001), null, 'row without a Pid cell');
  t.equal(hostTableRowPid(json, 402653183), undefined, 'a prefix of the inode is not the row');
  t.equal(hostTableRowPid(json, 4026532999), undefined, 'a Process table value is not a Host row');
});

t.test('probe cost estimates scale the measured 6 us per entry and 90 ms per MB', async (t) => {
  t.equal(probeCostFromEntries(3000), 1.8);
  t.equal(probeCostFromEntries(45000), 27);
  t.equal(probeCostFromBytes(300_000), 2.7);
  t.equal(probeCostFromBytes(1_000_000, 2), 18);
});

t.test('parseArgs: defaults, sections and bad flags', async (t) => {
  const d = parseArgs([]);
  t.equal(d.procs, 5000);
  t.same([...d.only], ['list', 'cpu', 'singles', 'burst', 'freshness']);
  t.equal(d.singles, 300);
  t.equal(parseArgs(['--singles', '50']).singles, 50);
  t.throws(() => parseArgs(['--singles', '5']), /--singles must be/);
  t.same([...parseArgs(['--only', 'freshness,cpu']).only], ['freshness', 'cpu']);
  t.same(parseArgs(['--serve-arg', '--full-rescan', '--serve-arg', '10s']).serveArgs, ['--full-rescan', '10s']);
  t.throws(() => parseArgs(['--only', 'lsns']), /--only takes/);
  t.throws(() => parseArgs(['--procs', '-1']), /--procs must be/);
  t.throws(() => parseArgs(['--bogus']), /unknown argument/);
});

t.test('parseArgs: the fd scenario', async (t) => {
  const d = parseArgs([]);
  t.equal(d.fds, 0, 'no fds by default: the scenario as it was');
  t.equal(d.nsFdEvery, 50);
  const f = parseArgs(['--fds', '20', '--ns-fd-every', '10']);
  t.equal(f.fds, 20);
  t.equal(f.nsFdEvery, 10);
  t.equal(parseArgs(['--ns-fd-every', '0', '--fds', '5']).nsFdEvery, 0, 'order free; 0: no namespace fds');
  t.throws(() => parseArgs(['--fds', '1001']), /--fds must be an integer 0\.\.1000/);
  t.throws(() => parseArgs(['--fds', '-1']), /--fds must be/);
  t.throws(() => parseArgs(['--fds', '3', '--ns-fd-every', '-2']), /--ns-fd-every must be/);
  t.throws(() => parseArgs(['--ns-fd-every', '10']), /--ns-fd-every needs --fds/);
  t.throws(() => parseArgs(['--fds', '0', '--ns-fd-every', '10']), /--ns-fd-every needs --fds/);
});

t.test('fd scenario helpers: kinds, holders, stdio, figures', async (t) => {
  t.same(fdKinds(5), ['file', 'pipe', 'socket', 'file', 'pipe']);
  t.same(fdKinds(0), []);
  t.same(
    Array.from({ length: 150 }, (_, i) => i).filter((i) => holdsNsFd(i, 50)),
    [49, 99, 149],
    'the last of every 50',
  );
  t.equal(Array.from({ length: 10 }, (_, i) => i).filter((i) => holdsNsFd(i, 1)).length, 10, 'M 1: all');
  t.notOk(holdsNsFd(49, 0), 'M 0: none');
  const src = { file: 20, pipe: 21, socket: 23 };
  t.equal(sleeperStdio(src, 0, 30), 'ignore', 'N 0: stdio as before, no namespace fd either');
  t.same(sleeperStdio(src, 4, null), ['ignore', 'ignore', 'ignore', 'ignore', 20, 21, 23, 20]);
  t.same(sleeperStdio(src, 2, 30), ['ignore', 'ignore', 'ignore', 30, 20, 21], 'the namespace fd at 3');
  const batch = (processes: number, nsFdHolders: number, nsFdTargets: string[]): FdFigures => ({
    fds: 20,
    nsFdEvery: 50,
    kinds: ['/dev/null', 'a pipe', 'a unix socket'],
    processes,
    nsFdHolders,
    nsFdTargets,
  });
  t.equal(sumFdFigures([null, null]), null);
  t.match(sumFdFigures([batch(900, 17, ['net:[4026532300]']), null, batch(4000, 79, ['net:[4026532999]'])]), {
    fds: 20,
    processes: 4900,
    nsFdHolders: 96,
    nsFdTargets: ['net:[4026532300]', 'net:[4026532999]'],
  });
  t.equal(describeFds(null), 'fds: none added (--fds 0)');
  t.equal(describeFds(batch(4930, 98, ['net:[4026532300]'])), 'fds: 4,930 processes made with 20 more fds each (/dev/null, a pipe, a unix socket in turn); 1 in 50 (98) also fd 3 on net:[4026532300]');
  t.match(describeFds({ ...batch(10, 0, []), nsFdEvery: 0 }), /; no namespace fds$/);
});

t.test('containerScript: unchanged without namespace fds; else fd 3 closed in all but 1 in M', async (t) => {
  t.equal(containerScript(3, 900), 'i=1; while [ $i -lt 3 ]; do sleep 900 & i=$((i+1)); done; exec sleep 900');
  const s = containerScript(3, 900, { base: 100, every: 50 });
  t.match(s, /if \[ \$\(\( \(100 \+ i\) % 50 \)\) -eq 49 \]; then sleep 900 & else sleep 900 3<&- & fi/);
  t.ok(s.endsWith('exec sleep 900 3<&-'), 'process 100 (the init) is not the last of its 50');
  t.ok(containerScript(3, 900, { base: 149, every: 50 }).endsWith('exec sleep 900'), 'process 149 is');
});

t.test('scale: sizes and the targets at each', async (t) => {
  t.same(parseSizes('5000,100,1000,100'), [100, 1000, 5000], 'ascending, once each');
  t.throws(() => parseSizes('100,0'), /sizes 1\.\.20000/);
  t.throws(() => parseSizes('100,abc'), /sizes/);
  t.throws(() => parseSizes('30000'), /sizes/);
  const list = (processes: number, oursMs: number, lsnsMs: number, nodeFloorMs: number): ListFigures => ({
    processes,
    runs: 5,
    nodeFloorMs,
    oursMs,
    lsnsMs,
    ratio: oursMs / lsnsMs,
    holdersMs: oursMs,
    holdersRatio: oursMs / lsnsMs,
    oursRows: 1,
    lsnsRows: 1,
  });
  const point = (processes: number, l: ListFigures, cpuPercent: number | null, rssMedianMb: number | null): ScalePoint => ({
    size: processes,
    processes,
    list: l,
    cpu: cpuPercent === null || rssMedianMb === null ? null : ({ cpuPercent, rssMedianMb } as CpuWindow),
    freshness: { appearMaxMs: 1100, disappearMaxMs: 1600 } as Freshness,
    fds: null,
  });
  const small = scaleTargets(point(110, list(110, 80, 15, 58), 0.5, 60));
  t.match(small[0], { figure: 'list ms above node -e 0', value: 22, limit: 25, met: true });
  t.match(small.at(-1), { figure: 'freshness gone max ms', value: 1600, met: false });
  t.notOk(
    small.some((x) => x.figure.startsWith('serve')),
    'no serve target at ~100',
  );
  const big = scaleTargets(point(20010, list(20010, 600, 17000, 90), 4.2, 85));
  t.match(big[0], { figure: 'list / lsns', limit: 0.1, met: true });
  t.match(
    big.find((x) => x.figure === 'serve CPU %'),
    { value: 4.2, limit: 4, met: false },
  );
  t.match(
    big.find((x) => x.figure === 'serve RSS median MB'),
    { value: 85, limit: 90, met: true },
  );
  t.match(scaleTargets(point(1000, list(1000, 150, 180, 60), 1, 60))[0], { figure: 'list / lsns', limit: 1, met: true });
  t.match(
    scaleTargets(point(5000, list(5000, 250, 700, 60), null, null)).find((x) => x.figure === 'serve CPU %'),
    { value: null, met: null },
  );
});
