/**
 * Security properties (threat model: native-notes/threat-model.md) and unprivileged runs:
 * - the socket directory is 0700 and a normal user cannot connect;
 * - no TCP/UDP socket is ever opened (the daemon's sockets are all unix/netlink; strace of
 *   `list` and `report` sees no AF_INET/AF_INET6 socket);
 * - no external program is ever run: everything runs with an empty PATH, strace -f sees exactly
 *   one execve (node itself), and the daemon never has a child process;
 * - command lines are shown as the kernel gives them, never interpreted;
 * - as a normal user `list` shows what /usr/bin/lsns shows that user, warns once that root sees
 *   more, exits 0; `serve` without rights to the plugins root fails with a clear message.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import t from 'tap';
import { UNPRIVILEGED_WARNING } from '../../src/cli/list.js';
import { reportProblems } from '../../src/scope/schema.js';
import { cli, killDaemon, request, startDaemon, tempRoot, waitServing, type Daemon } from '../support/daemon.js';
import { INITIAL_NS, smallHost, writeFakeProcfs } from '../support/fake-procfs.js';
import { taggedEnv } from '../support/tag.js';

const isRoot = process.getuid?.() === 0;
const SETPRIV = '/usr/bin/setpriv';
const asNobody = ['/usr/bin/env', '-i', 'LANG=C.UTF-8', 'PATH=', SETPRIV, '--reuid=65534', '--regid=65534', '--clear-groups', '--'];
const dirs: string[] = [];
const daemons: Daemon[] = [];
const children: ChildProcess[] = [];
t.teardown(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const d of daemons) await killDaemon(d);
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

function fakeProc(): string {
  const proc = fs.mkdtempSync('/tmp/snp-');
  dirs.push(proc);
  const { procs, passwd } = smallHost();
  writeFakeProcfs(proc, procs, passwd);
  return proc;
}

const EMPTY_PATH = taggedEnv({ PATH: '', LANG: 'C.UTF-8' });
/**
 * `list` of the live host prints whatever else runs on the machine: with --output-all every row
 * is as wide as the longest command line (up to 8191 bytes; COMMAND is not the last column), so
 * about 130 namespaces pass spawnSync's default 1 MiB buffer. Past it spawnSync sends SIGTERM and
 * closes the pipes; strace -o blocks SIGTERM, so the traced CLI goes on, dies of EPIPE, and strace
 * exits 1 with nothing on stderr. A harness error is thrown, never read as the program's status.
 * The deadline is for a hang only, far above a slow run on a busy machine.
 */
const run = (argv: string[], env: NodeJS.ProcessEnv = EMPTY_PATH) => {
  const r = spawnSync(argv[0] as string, argv.slice(1), { env, encoding: 'latin1', maxBuffer: 1 << 30, timeout: 600_000 });
  if (r.error) throw r.error;
  return r;
};

t.test('socket directory 0700; a normal user cannot connect; no TCP/UDP socket; no child process', async (t) => {
  const root = tempRoot();
  dirs.push(root);
  const d = startDaemon(['--plugins-root', root, '--proc', '/proc', '--hostname', 'h', '--interval', '1s'], { PATH: '' });
  daemons.push(d);
  await waitServing(d);
  const sock = path.join(root, 'host-namespaces', 'host-namespaces.sock');
  t.equal(fs.statSync(path.dirname(sock)).mode & 0o777, 0o700, 'directory 0700');
  t.equal(fs.statSync(path.dirname(sock)).uid, process.getuid?.(), 'owned by the daemon user');
  t.equal((await request(sock)).status, 200, 'serves with an empty PATH');

  if (isRoot && fs.existsSync(SETPRIV)) {
    const script = `require('net').createConnection(${JSON.stringify(sock)}).on('error', (e) => { console.log(e.code); process.exit(0); }).on('connect', () => { console.log('connected'); process.exit(0); })`;
    const r = run([...asNobody, process.execPath, '-e', script]);
    t.equal(r.stdout.trim(), 'EACCES', 'nobody gets EACCES connecting');
  }

  const pid = d.child.pid as number;
  // Over three refreshes: the daemon never has a child process, and every socket it holds is a
  // unix or netlink socket (none appears in the TCP/UDP tables).
  const inetInodes = new Set<string>();
  for (const table of ['tcp', 'tcp6', 'udp', 'udp6', 'raw', 'raw6']) {
    let text: string;
    try {
      text = fs.readFileSync(`/proc/${pid}/net/${table}`, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const inode = line.trim().split(/\s+/)[9];
      if (inode) inetInodes.add(inode);
    }
  }
  const end = Date.now() + 3000;
  let samples = 0;
  let children = 0;
  let inet = 0;
  while (Date.now() < end) {
    for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
      try {
        if (fs.readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim() !== '') children++;
      } catch {
        // thread ended
      }
    }
    for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (m && inetInodes.has(m[1] as string)) inet++;
      } catch {
        // closed meanwhile
      }
    }
    samples++;
    await new Promise((r) => setTimeout(r, 20));
  }
  t.equal(children, 0, `no child process in ${samples} samples`);
  t.equal(inet, 0, 'no TCP/UDP socket');
  d.child.kill('SIGTERM');
  t.equal((await d.exited).code, 0);
});

t.test('strace: list and report run no program and open no inet socket', async (t) => {
  if (!fs.existsSync('/usr/bin/strace')) {
    t.pass('strace not installed; the daemon checks above still hold');
    return;
  }
  for (const args of [['list', '--output-all'], ['report']]) {
    const out = path.join(fs.mkdtempSync('/tmp/sns-'), 'trace');
    dirs.push(path.dirname(out));
    const r = run(['/usr/bin/strace', '-f', '-qq', '-o', out, '-e', 'trace=execve,execveat,socket,connect,bind,listen', process.execPath, cli, ...args]);
    t.equal(r.status, 0, `${args[0]}: exit 0 under strace with an empty PATH`, { stderr: r.stderr });
    const trace = fs.readFileSync(out, 'utf8');
    const execs = trace.split('\n').filter((l) => /\bexecve(at)?\(/.test(l));
    t.equal(execs.length, 1, `${args[0]}: one execve (node itself): ${execs.join(' | ')}`);
    t.notMatch(trace, /socket\((AF_INET|AF_INET6|AF_PACKET)/, `${args[0]}: no inet socket`);
    t.notMatch(trace, /\blisten\(/, `${args[0]}: listens on nothing`);
  }
});

t.test('command lines are shown as the kernel gives them, never interpreted', async (t) => {
  const proc = fs.mkdtempSync('/tmp/snp-');
  dirs.push(proc);
  const marker = path.join(proc, 'pwned');
  const nasty = [`$(touch ${marker})`, `\`touch ${marker}\``, `; touch ${marker}`, '%s%n%x', '"},"Plugins":[]}', '</script>', '\x1b[31mred\x1b[0m', '${PATH}', '\\x41'];
  const { passwd } = smallHost();
  writeFakeProcfs(
    proc,
    [
      { pid: 1, ppid: 0, uid: 0, comm: 'init', argv: ['/sbin/init'], ns: INITIAL_NS },
      { pid: 7, ppid: 1, uid: 0, comm: '$(x)', argv: nasty, ns: { ...INITIAL_NS, uts: 4026539999 } },
    ],
    passwd,
  );
  const json = run([process.execPath, cli, 'list', '-J', '-l', '--proc', proc]);
  t.equal(json.status, 0, 'list -J: exit 0', { stderr: json.stderr });
  const row = (JSON.parse(json.stdout) as { namespaces: Array<{ ns: number; command: string }> }).namespaces.find((n) => n.ns === 4026539999);
  t.equal(row?.command, nasty.join(' '), 'list -J: the argv joined by spaces, byte for byte');
  const table = run([process.execPath, cli, 'list', '--proc', proc]);
  t.match(table.stdout, /\\x1b\[31mred\\x1b\[0m/, 'table: control characters escaped, not sent to the terminal');
  t.notOk(table.stdout.includes('\x1b'), 'no raw ESC byte in the table');
  const rep = run([process.execPath, cli, 'report', '--proc', proc, '--hostname', 'h']);
  t.equal(rep.status, 0);
  const report: unknown = JSON.parse(rep.stdout);
  t.same(reportProblems(report, 'host-namespaces'), [], 'report still valid');
  t.ok(rep.stdout.includes(JSON.stringify(nasty.join(' ')).slice(1, -1)), 'report: the same string, JSON-escaped');
  t.notOk(fs.existsSync(marker), 'nothing was executed');
});

t.test('as a normal user: list shows what lsns shows that user, warns once; serve fails clearly', async (t) => {
  if (!isRoot || !fs.existsSync(SETPRIV) || !fs.existsSync('/usr/bin/lsns') || !fs.existsSync('/usr/bin/unshare')) {
    t.pass('needs root (to switch to nobody), setpriv, unshare and lsns; skipped');
    return;
  }
  // Processes of nobody, started before the tools so that they are the lowest pids: one in the
  // initial namespaces, one in a user+uts namespace of its own.
  // --pdeathsig: they die with this process (setpriv sets it after the uid change that clears it).
  const plain = spawn(SETPRIV, ['--reuid=65534', '--regid=65534', '--clear-groups', '--pdeathsig', 'KILL', '--', '/bin/sleep', '60'], { stdio: 'ignore' });
  const own = spawn(SETPRIV, ['--reuid=65534', '--regid=65534', '--clear-groups', '--pdeathsig', 'KILL', '--', '/usr/bin/unshare', '--user', '--map-root-user', '--uts', '/bin/sleep', '61'], {
    stdio: 'ignore',
  });
  children.push(plain, own);
  await new Promise((r) => setTimeout(r, 500));

  type Row = Record<string, unknown>;
  const norm = (rows: Row[]): Row[] => rows.map((r) => ({ ns: r['ns'], type: r['type'], nprocs: r['nprocs'], pid: r['pid'], user: r['user'], command: r['command'] }));
  let ours: Row[] = [];
  let theirs: Row[] = [];
  let stderr = '';
  let status: number | null = null;
  // The tools see each other only as themselves (each counts its own process), so the rows must
  // be equal; retry once in case some other process of nobody came or went in between.
  for (let attempt = 0; attempt < 3; attempt++) {
    // --no-persistent: exactly 2.38.1's rows (no NPROCS-0 rows of bind-mounted namespaces another test may have left).
    const a = run([...asNobody, process.execPath, cli, 'list', '-J', '-l', '--no-persistent']);
    const b = run([...asNobody, '/usr/bin/lsns', '-J', '-l'], { LANG: 'C.UTF-8', PATH: '/usr/bin:/bin' });
    status = a.status;
    stderr = a.stderr;
    ours = norm((JSON.parse(a.stdout) as { namespaces: Row[] }).namespaces);
    theirs = norm((JSON.parse(b.stdout) as { namespaces: Row[] }).namespaces);
    if (JSON.stringify(ours) === JSON.stringify(theirs)) break;
  }
  t.equal(status, 0, 'exit 0');
  t.same(ours, theirs, 'the same rows lsns shows to nobody');
  t.ok(
    ours.some((r) => r['pid'] === own.pid && r['type'] === 'user'),
    "nobody's own user namespace is listed",
  );
  t.ok(ours.length < 40, `only what nobody can read (${ours.length} rows)`);
  const warnings = stderr.split('\n').filter((l) => l.includes(UNPRIVILEGED_WARNING));
  t.equal(warnings.length, 1, 'warned exactly once');
  t.match(stderr, /run as root to see every process's namespaces/);
  const rootRun = run([process.execPath, cli, 'list', '-J']);
  t.notMatch(rootRun.stderr, /run as root/, 'root gets no such warning');

  const rep = run([...asNobody, process.execPath, cli, 'report', '--hostname', 'h']);
  t.equal(rep.status, 0, 'report as nobody: exit 0');
  t.same(reportProblems(JSON.parse(rep.stdout), 'host-namespaces'), [], 'report as nobody: valid');

  // serve without rights to the plugins root (root-owned, 0755).
  const root = tempRoot();
  dirs.push(root);
  fs.chmodSync(root, 0o755);
  const s = run([...asNobody, process.execPath, cli, 'serve', '--log-format', 'pretty', '--plugins-root', root, '--proc', fakeProc(), '--hostname', 'h']);
  t.equal(s.status, 1, 'serve as nobody: exit 1', { stderr: s.stderr });
  t.match(s.stderr, /cannot create the plugin directory .*host-namespaces: EACCES: serve needs write access to the plugins root/, 'a clear message');
  t.notMatch(s.stderr, /^\s+at /m, 'no stack trace');
  t.equal(fs.readdirSync(root).length, 0, 'nothing created');
  plain.kill('SIGKILL');
  own.kill('SIGKILL');
});
