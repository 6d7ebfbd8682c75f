/**
 * At 5,000 processes the answer stays far inside the probe's 500 ms deadline, also while the
 * worker is in the middle of a refresh: the scan runs off the event loop and /report only writes a
 * pre-serialised buffer. Uses a hand-made procfs tree of 5,000 processes (~510 namespaces).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import t from 'tap';
import { tableRows } from '../support/report.js';
import { cli, killDaemon, startDaemon, tempRoot, waitServing, type Daemon } from '../support/daemon.js';
import { manyProcesses, writeFakeProcfs } from '../support/fake-procfs.js';
import { ProbeClient } from '../support/probe-client.js';

t.ok(fs.existsSync(cli), 'dist/cli/main.js is built');

t.test('5,000 processes', async (t) => {
  const root = tempRoot();
  const proc = fs.mkdtempSync('/tmp/snl-');
  let d: Daemon | null = null;
  t.teardown(async () => {
    if (d) await killDaemon(d);
    fs.rmSync(root, { recursive: true, force: true });
    fs.rmSync(proc, { recursive: true, force: true });
  });
  writeFakeProcfs(proc, manyProcesses(5000));
  const started = Date.now();
  // Refresh every second: most polls land while a scan is running in the worker.
  d = startDaemon(['--plugins-root', root, '--proc', proc, '--interval', '1s', '--hostname', 'big', '--log-level', 'debug']);
  await waitServing(d, 60_000);
  t.comment(`first snapshot and listening after ${Date.now() - started} ms`);
  const client = new ProbeClient({ id: 'host-namespaces', socketPath: path.join(root, 'host-namespaces', 'host-namespaces.sock') });
  t.teardown(() => client.close());

  const times: number[] = [];
  let rows = 0;
  // Poll for 5 s and across at least two refreshes, however long those take on a busy machine: the
  // point is answers while a scan runs, not how many scans fit in a time window.
  const refreshes = (): number => d?.stderr().match(/"msg":"snapshot refreshed"/g)?.length ?? 0;
  const end = Date.now() + 5000;
  const giveUp = Date.now() + 120_000;
  while ((Date.now() < end || refreshes() < 2) && Date.now() < giveUp) {
    const r = await client.poll();
    t.equal(r.status, 'ok', 'status ok');
    times.push(r.ms);
    if (r.report) rows = tableRows(r.report, 'big').size;
    await new Promise((res) => setTimeout(res, 50));
  }
  const burst = (await Promise.all(Array.from({ length: 50 }, () => client.fetch()))).map((a) => client.decode(a));
  t.equal(burst.filter((r) => r.status === 'ok').length, 50, 'burst of 50: all ok');
  times.push(...burst.map((r) => r.ms));
  times.sort((a, b) => a - b);
  const p50 = times[Math.floor(times.length / 2)] ?? 0;
  const max = times[times.length - 1] ?? 0;
  t.comment(`${times.length} answers: p50 ${p50.toFixed(1)} ms, max ${max.toFixed(1)} ms, ${rows} rows`);
  t.equal(rows, 8 + 499 * 3, 'all namespaces (8 initial + 3 per group of 10)');
  t.ok(max < 500, `slowest answer ${max.toFixed(1)} ms, inside the probe's 500 ms deadline`);
  t.ok(refreshes() >= 2, `polled across ${refreshes()} refreshes (the daemon keeps refreshing under load)`);
  const scans = [...d.stderr().matchAll(/"scanMs":(\d+)/g)].map((m) => Number(m[1]));
  t.comment(`scan durations (ms): ${scans.join(', ')}`);
});
