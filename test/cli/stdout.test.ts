/**
 * `list` writes its output straight to fd 1; a non-blocking stdout that fills (EAGAIN) hands the
 * rest to Node's stream. Either way the bytes must be exactly those written to a plain pipe.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import t from 'tap';
import { cli, repo } from '../support/daemon.js';

const args = ['list', '--proc', `${repo}/fixtures/busy/proc`, '--json', '--output-all'];

// A 4 KiB non-blocking pipe whose reader waits before reading: the first writes fill it.
const SLOW_READER = String.raw`
import fcntl, os, subprocess, sys, time
r, w = os.pipe()
fcntl.fcntl(w, 1031, 4096)  # F_SETPIPE_SZ
fcntl.fcntl(w, fcntl.F_SETFL, fcntl.fcntl(w, fcntl.F_GETFL) | os.O_NONBLOCK)
p = subprocess.Popen(sys.argv[1:], stdout=w)
os.close(w)
time.sleep(0.5)
out = b''
while True:
    chunk = os.read(r, 65536)
    if not chunk: break
    out += chunk
sys.stdout.buffer.write(out)
sys.exit(p.wait())
`;

t.test('a full non-blocking stdout gets every byte, in order', { skip: fs.existsSync('/usr/bin/python3') ? false : 'needs python3' }, async (t) => {
  const plain = spawnSync(process.execPath, [cli, ...args], { encoding: 'latin1', maxBuffer: 64 * 1024 * 1024 });
  t.equal(plain.status, 0, plain.stderr);
  t.ok(plain.stdout.length > 8192, `the output (${plain.stdout.length} bytes) is larger than the pipe`);
  const slow = spawnSync('python3', ['-c', SLOW_READER, process.execPath, cli, ...args], { encoding: 'latin1', maxBuffer: 64 * 1024 * 1024 });
  t.equal(slow.status, 0, slow.stderr);
  t.equal(slow.stdout, plain.stdout);
});

t.test('to a file and to /dev/null', async (t) => {
  const file = `${fs.mkdtempSync('/tmp/snl-')}/out`;
  t.teardown(() => fs.rmSync(file, { force: true }));
  const fd = fs.openSync(file, 'w');
  const r = spawnSync(process.execPath, [cli, ...args], { stdio: ['ignore', fd, 'pipe'], encoding: 'latin1' });
  fs.closeSync(fd);
  t.equal(r.status, 0);
  const plain = spawnSync(process.execPath, [cli, ...args], { encoding: 'latin1' });
  t.equal(fs.readFileSync(file, 'latin1'), plain.stdout);
  t.equal(spawnSync(process.execPath, [cli, ...args], { stdio: ['ignore', 'ignore', 'pipe'] }).status, 0);
});
