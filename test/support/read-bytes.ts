/**
 * Runs a program and reports how many bytes it read: `rchar` of /proc/<pid>/io, the kernel's count
 * of bytes returned by read(2)-like calls of every thread of the process, dead threads included.
 * It is read after the program exited and before it is reaped: a zombie keeps its counters, a
 * reaped process has none. Node's own child_process reaps its children as soon as they exit, so a
 * small node wrapper starts the program with posix_spawn, waits for its exit with
 * waitid(WEXITED | WNOWAIT) (which leaves it a zombie), reads the count, then reaps it and exits
 * the way the program did. The program's stdin, stdout and stderr are the wrapper's own; fd 3
 * carries `pid N` (as soon as it runs) and `rchar N`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import type { Readable } from 'node:stream';
import { taggedEnv } from './tag.js';

const KOFFI = createRequire(import.meta.url).resolve('koffi');

// CommonJS for `node -e`; it never uses child_process, so nothing in it reaps the program early.
const WRAPPER = `
const fs = require('fs');
const koffi = require(${JSON.stringify(KOFFI)});
const libc = koffi.load('libc.so.6');
const posixSpawn = libc.func('int posix_spawn(_Out_ int *pid, const char *path, void *fa, void *attr, const char **argv, const char **envp)');
const waitid = libc.func('int waitid(int idtype, int id, void *info, int options)');
const fcntl = libc.func('int fcntl(int fd, int cmd, ...)');
const P_PID = 1, WEXITED = 4, WNOWAIT = 0x01000000, F_SETFD = 2, EINTR = 4, CLD_EXITED = 1;
// Node opens its stdio close-on-exec: clear it so the program inherits them (fd 3 stays ours).
for (const fd of [0, 1, 2]) fcntl(fd, F_SETFD, 'int', 0);
const argv = process.argv.slice(1);
const envp = Object.entries(process.env).map(([k, v]) => k + '=' + v);
const out = [0];
const rc = posixSpawn(out, argv[0], null, null, [...argv, null], [...envp, null]);
if (rc !== 0) { fs.writeSync(2, 'posix_spawn ' + argv[0] + ': errno ' + rc + '\\n'); process.exit(127); }
const pid = out[0];
fs.writeSync(3, 'pid ' + pid + '\\n');
const info = Buffer.alloc(128); // siginfo_t
const wait = (options) => { while (waitid(P_PID, pid, info, options) !== 0) if (koffi.errno() !== EINTR) throw new Error('waitid: errno ' + koffi.errno()); };
wait(WEXITED | WNOWAIT);
const io = fs.readFileSync('/proc/' + pid + '/io', 'latin1');
fs.writeSync(3, 'rchar ' + /^rchar: (\\d+)$/m.exec(io)[1] + '\\n');
wait(WEXITED);
const code = info.readInt32LE(8), status = info.readInt32LE(24); // si_code, si_status
if (code === CLD_EXITED) process.exit(status);
process.kill(process.pid, status);
`;

export interface Counted {
  /** The wrapper: its exit code or signal are the program's. */
  child: ChildProcess;
  /** The program's pid once it runs (null if it never started). */
  pid: Promise<number | null>;
  /** Bytes the program read (null if the count never came: the wrapper failed or was killed). */
  rchar: Promise<number | null>;
}

/** Starts argv[0] (an absolute path) with argv; stdout and stderr are pipes on `child`. */
export function spawnCounted(argv: readonly string[], env: NodeJS.ProcessEnv): Counted {
  // The run's tag is added: a run that outlives its test is found by it.
  const child = spawn(process.execPath, ['-e', WRAPPER, ...argv], { env: taggedEnv(env), stdio: ['ignore', 'pipe', 'pipe', 'pipe'] });
  const report = child.stdio[3] as Readable | null;
  const field = (name: string, s: string): number | null => {
    const m = new RegExp(`^${name} (\\d+)$`, 'm').exec(s);
    return m ? Number(m[1]) : null;
  };
  let text = '';
  let gotPid: (pid: number | null) => void = () => undefined;
  const pid = new Promise<number | null>((resolve) => (gotPid = resolve));
  const rchar = new Promise<number | null>((resolve) => {
    if (report === null) {
      gotPid(null);
      resolve(null);
      return;
    }
    report.on('data', (d: Buffer) => {
      text += d.toString('latin1');
      const p = field('pid', text);
      if (p !== null) gotPid(p);
    });
    report.on('close', () => {
      gotPid(field('pid', text));
      resolve(field('rchar', text));
    });
  });
  return { child, pid, rchar };
}
