/**
 * The daemon's snapshot source on the live /proc: the hostname inside each of many UTS namespaces
 * (more than are read in one turn of the event loop) is the one the test set there with
 * `hostname` (the independent source), in the first snapshot and after a refresh.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import { pino } from 'pino';
import t from 'tap';
import { mortal } from '../support/tag.js';
import { IncrementalSource } from '../../src/snapshot/incremental-source.js';
import { cellKey } from '../../src/scope/host-table.js';
import { hostNodeId } from '../../src/scope/host.js';

const why = process.getuid?.() !== 0 ? 'needs root' : !fs.existsSync('/usr/bin/unshare') ? 'needs unshare' : null;
if (why) t.plan(0, why);

const COUNT = 12;
const HOST = 'hn-test';

function utsIno(pid: number): number {
  return Number(/\[(\d+)\]/.exec(fs.readlinkSync(`/proc/${pid}/ns/uts`))?.[1]);
}

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 2000 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
  if (!cond()) throw new Error(`timed out waiting for ${what}`);
}

function hostnamesIn(body: Buffer, inos: readonly number[]): Array<string | undefined> {
  const report = JSON.parse(body.toString('utf8')) as { Host: { nodes: Record<string, { latest: Record<string, { value: string } | undefined> }> } };
  const latest = report.Host.nodes[hostNodeId(HOST)]?.latest ?? {};
  return inos.map((ino) => latest[cellKey(String(ino), 'hostname')]?.value);
}

t.test(`${COUNT} UTS namespaces: each one's hostname, as set inside it`, async (t) => {
  const children: ChildProcess[] = [];
  t.teardown(() => {
    for (const c of children) if (c.pid !== undefined && c.exitCode === null) process.kill(c.pid, 'SIGKILL');
  });
  const names = Array.from({ length: COUNT }, (_, i) => `snt-uts-${i}-${process.pid}`);
  for (const name of names) {
    // The hostname is set before exec: once the process is `sleep`, its namespace has that name.
    children.push(spawn(...mortal('unshare', ['--uts', 'sh', '-c', `hostname ${name} && exec sleep 600`]), { stdio: 'ignore' }));
  }
  const pids = children.map((c) => c.pid as number);
  await until(() => pids.every((p) => fs.existsSync(`/proc/${p}/comm`) && fs.readFileSync(`/proc/${p}/comm`, 'latin1').trim() === 'sleep'), 'the sleepers');
  const inos = pids.map(utsIno);
  t.equal(new Set(inos).size, COUNT, 'each in its own UTS namespace');

  const source = new IncrementalSource({
    params: { proc: '/proc', hostname: HOST, pluginId: 'host-namespaces' },
    intervalMs: 200,
    fullRescanMs: 30_000,
    log: pino({ level: 'silent' }),
  });
  t.teardown(() => source.stop());
  const first = await source.start();
  t.same(hostnamesIn(first.body, inos), names, 'first snapshot: every hostname');

  // One more namespace: the next snapshot has it too, and still all the others.
  const extra = `snt-uts-x-${process.pid}`;
  children.push(spawn(...mortal('unshare', ['--uts', 'sh', '-c', `hostname ${extra} && exec sleep 600`]), { stdio: 'ignore' }));
  const xpid = children[children.length - 1]?.pid as number;
  await until(() => fs.existsSync(`/proc/${xpid}/comm`) && fs.readFileSync(`/proc/${xpid}/comm`, 'latin1').trim() === 'sleep', 'the extra sleeper');
  const all = [...inos, utsIno(xpid)];
  await until(() => {
    const cur = source.current;
    return cur !== null && hostnamesIn(cur.body, all).every((h) => h !== undefined);
  }, 'the extra namespace in a snapshot');
  const cur = source.current;
  t.same(cur === null ? null : hostnamesIn(cur.body, all), [...names, extra], 'after a refresh: every hostname');
});
