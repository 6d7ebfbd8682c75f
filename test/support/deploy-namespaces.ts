/**
 * Namespaces for the deployment tests (test/deploy/): the cases where a scanner with too few
 * capabilities would lose or change rows. Each case is a `sleep` started in its own session
 * (detached), killed by process group and then by pid in cleanup; temp files are removed.
 *
 *  - rootUts: root, full capabilities, alone in new uts+ipc+net namespaces with a hostname
 *    (a same-uid target whose capabilities exceed a restricted scanner's: ptrace access check)
 *  - nobodyIpc: uid 65534 alone in a new ipc namespace (another uid: ptrace access check)
 *  - nobodyUserUts: uid 65534 in its own user namespace and a uts namespace with a hostname
 *    (setns needs CAP_SYS_ADMIN in a user namespace the scanner does not own)
 *  - hiddenMount: a private mount namespace holding a bind mount of a uts namespace's nsfs file,
 *    which only that namespace's mountinfo shows (a row with NPROCS 0)
 *
 * Every case runs under `setpriv --pdeathsig KILL` started by node (test/support/tag.ts), the
 * background command of a script gets the same prefix, and a setpriv that changes uids (which
 * clears it) sets it again: every process dies with the test, even when that is killed. The temp
 * directory (and so the bind mount's mount point) is named with the run's tag.
 *
 * Needs root and util-linux's unshare and setpriv.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DIE_WITH_PARENT, mortal, onAbort, taggedTempDir } from './tag.js';

export interface DeployNamespaces {
  dir: string;
  rootUts: { pid: number; hostname: string };
  nobodyIpc: { pid: number };
  nobodyUserUts: { pid: number; hostname: string };
  hiddenMount: { pid: number; file: string };
  /** ns:type keys the cases create (filled by `inodes()`). */
  inodes(): Map<string, string>;
  cleanup(): Promise<string[]>;
}

export function haveRootAndTools(): string | null {
  if (process.getuid?.() !== 0) return 'needs root';
  for (const tool of ['unshare', 'setpriv']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) return `needs ${tool} (util-linux)`;
  }
  return null;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function readyPid(child: ChildProcess, what: string): Promise<number> {
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`${what}: not ready after 10 s: ${out}`)), 10_000);
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /ready (\d+)/.exec(out);
      if (m && m[1] !== undefined) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${what}: exited ${code} before ready: ${out}`));
    });
  });
}

function alive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    return !/^\d+ \(.*\) Z /s.test(stat);
  } catch {
    return false;
  }
}

export async function startDeployNamespaces(tag: string): Promise<DeployNamespaces> {
  const dir = taggedTempDir('sndeploy');
  const file = path.join(dir, 'uts-bind');
  fs.writeFileSync(file, '');
  const children: ChildProcess[] = [];
  const start = (script: string, what: string): Promise<number> => {
    const child = spawn(...mortal('sh', ['-c', script]), { detached: true, stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(child);
    return readyPid(child, what);
  };
  const killGroups = (): void => {
    for (const c of children) {
      if (c.pid === undefined) continue;
      try {
        process.kill(-c.pid, 'SIGKILL');
      } catch {
        /* group already gone */
      }
    }
  };
  const abort = onAbort(() => {
    killGroups();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const rootHost = `${tag}-root`;
  const nobodyHost = `${tag}-nobody`;
  try {
    const [rootPid, nobodyIpc, nobodyUser, hidden] = await Promise.all([
      start(`exec unshare --uts --ipc --net sh -c 'hostname ${rootHost} && echo ready $$ && exec sleep 600'`, 'rootUts'),
      start(`exec unshare --ipc setpriv --reuid=65534 --regid=65534 --clear-groups --pdeathsig KILL sh -c 'echo ready $$ && exec sleep 600'`, 'nobodyIpc'),
      start(
        `exec setpriv --reuid=65534 --regid=65534 --clear-groups --pdeathsig KILL unshare --user --map-root-user --uts sh -c 'hostname ${nobodyHost} && echo ready $$ && exec sleep 600'`,
        'nobodyUserUts',
      ),
      start(
        `exec unshare --mount --propagation private sh -c '` +
          `${DIE_WITH_PARENT} unshare --uts sleep 600 & inner=$!; ` +
          `i=0; while [ "$(readlink /proc/$inner/ns/uts)" = "$(readlink /proc/$$/ns/uts)" ] && [ $i -lt 200 ]; do sleep 0.01; i=$((i+1)); done; ` +
          `mount --bind /proc/$inner/ns/uts ${file} && kill $inner; wait $inner 2>/dev/null; echo ready $$ && exec sleep 600'`,
        'hiddenMount',
      ),
    ]);
    const ns: DeployNamespaces = {
      dir,
      rootUts: { pid: rootPid, hostname: rootHost },
      nobodyIpc: { pid: nobodyIpc },
      nobodyUserUts: { pid: nobodyUser, hostname: nobodyHost },
      hiddenMount: { pid: hidden, file },
      inodes(): Map<string, string> {
        const keys = new Map<string, string>();
        const link = (pid: number, type: string): string => {
          const m = /^(\w+):\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/ns/${type}`));
          if (!m || m[2] === undefined) throw new Error(`bad ns link of ${pid}`);
          return `${m[2]}:${type}`;
        };
        for (const t of ['uts', 'ipc', 'net']) keys.set(link(rootPid, t), `rootUts ${t}`);
        keys.set(link(nobodyIpc, 'ipc'), 'nobodyIpc ipc');
        keys.set(link(nobodyUser, 'user'), 'nobodyUserUts user');
        keys.set(link(nobodyUser, 'uts'), 'nobodyUserUts uts');
        keys.set(link(hidden, 'mnt'), 'hiddenMount mnt');
        // The bind-mounted uts namespace: its inode is in the hidden mount namespace's mountinfo.
        const mi = fs.readFileSync(`/proc/${hidden}/mountinfo`, 'latin1');
        const bound = new RegExp(`uts:\\[(\\d+)\\] ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} `).exec(mi);
        if (bound && bound[1] !== undefined) keys.set(`${bound[1]}:uts`, 'hiddenMount bind-mounted uts');
        return keys;
      },
      async cleanup(): Promise<string[]> {
        const pids = [rootPid, nobodyIpc, nobodyUser, hidden];
        killGroups();
        for (const p of pids) {
          try {
            process.kill(p, 'SIGKILL');
          } catch {
            /* gone */
          }
        }
        const end = Date.now() + 5000;
        while (pids.some(alive) && Date.now() < end) await sleep(25);
        fs.rmSync(dir, { recursive: true, force: true });
        // Only now: a test stopped while this awaited still needs the synchronous cleanup.
        abort.cancel();
        return pids.filter(alive).map(String);
      },
    };
    return ns;
  } catch (err) {
    abort.run();
    throw err;
  }
}
