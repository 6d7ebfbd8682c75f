/**
 * A hand-made procfs tree for tests: `<pid>/{stat,status,cmdline}` and `<pid>/ns/<type>` symlinks
 * whose targets read like the kernel's (`net:[4026531840]`). A non-procfs root makes ProcReader
 * take uids from `status`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { NS_TYPES, type NsType } from '../../src/procfs/types.js';

export interface FakeProcess {
  pid: number;
  ppid: number;
  uid: number;
  comm: string;
  /** Arguments, joined with NULs; empty for a kernel thread. Byte strings (latin1) allowed. */
  argv: string[];
  ns: Record<NsType, number>;
  /** Contents of `<pid>/cgroup`; no file when absent. */
  cgroup?: string;
  /** Leave out `<pid>/ns` links (as when they cannot be read: pid 1 on some hosts). */
  noNs?: boolean;
  /** `<pid>/fd/<n>` symlinks with these targets (`net:[4026532001]`, `socket:[123]`, `/dev/null`). */
  fds?: Record<number, string>;
  /** Threads besides the leader: `<pid>/task/<tid>/ns/*` (the leader's own links where not given); with
   * them `<pid>/task/<pid>` too, so that `<pid>/task` has 2 + threads links as on procfs. */
  threads?: ReadonlyArray<{ tid: number; ns?: Partial<Record<NsType, number>> }>;
}

export const INITIAL_NS: Record<NsType, number> = {
  mnt: 4026531841,
  net: 4026531840,
  pid: 4026531836,
  uts: 4026531838,
  ipc: 4026531839,
  user: 4026531837,
  cgroup: 4026531835,
  time: 4026531834,
};

/** A root process `/bin/p<pid>` (comm `p<pid>`, parent 1) in `ns`, with that cgroup file if given. */
export function fakeProcess(pid: number, ns: FakeProcess['ns'], cgroup?: string, extra: Partial<FakeProcess> = {}): FakeProcess {
  return { pid, ppid: 1, uid: 0, comm: `p${pid}`, argv: [`/bin/p${pid}`], ns, ...(cgroup !== undefined ? { cgroup } : {}), ...extra };
}

export function writeFakeProcfs(root: string, procs: readonly FakeProcess[], passwd?: string): void {
  fs.mkdirSync(root, { recursive: true });
  for (const p of procs) {
    const dir = path.join(root, String(p.pid));
    fs.mkdirSync(path.join(dir, 'ns'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'stat'), `${p.pid} (${p.comm}) S ${p.ppid} 1 1 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 ${100 + p.pid} 0 0\n`);
    fs.writeFileSync(path.join(dir, 'status'), `Name:\t${p.comm}\nUid:\t${p.uid}\t${p.uid}\t${p.uid}\t${p.uid}\n`);
    fs.writeFileSync(path.join(dir, 'cmdline'), Buffer.from(p.argv.length ? p.argv.join('\0') + '\0' : '', 'latin1'));
    if (!p.noNs) for (const type of NS_TYPES) fs.symlinkSync(`${type}:[${p.ns[type]}]`, path.join(dir, 'ns', type));
    if (p.cgroup !== undefined) fs.writeFileSync(path.join(dir, 'cgroup'), p.cgroup);
    if (p.fds !== undefined) {
      fs.mkdirSync(path.join(dir, 'fd'));
      for (const [fd, target] of Object.entries(p.fds)) fs.symlinkSync(target, path.join(dir, 'fd', fd));
    }
    if (p.threads !== undefined) {
      for (const th of [{ tid: p.pid, ns: {} }, ...p.threads]) {
        const tdir = path.join(dir, 'task', String(th.tid), 'ns');
        fs.mkdirSync(tdir, { recursive: true });
        for (const type of NS_TYPES) fs.symlinkSync(`${type}:[${th.ns?.[type] ?? p.ns[type]}]`, path.join(tdir, type));
      }
    }
  }
  if (passwd !== undefined) {
    const etc = path.join(root, '1', 'root', 'etc');
    fs.mkdirSync(etc, { recursive: true });
    fs.writeFileSync(path.join(etc, 'passwd'), passwd);
  }
}

/** A small host: init, a kernel thread, a container with its own namespaces, odd command lines. */
export function smallHost(): { procs: FakeProcess[]; passwd: string } {
  const container = { ...INITIAL_NS, mnt: 4026532201, net: 4026532204, pid: 4026532203, uts: 4026532202, ipc: 4026532205 };
  const procs: FakeProcess[] = [
    { pid: 1, ppid: 0, uid: 0, comm: 'systemd', argv: ['/sbin/init', 'splash'], ns: INITIAL_NS },
    { pid: 2, ppid: 0, uid: 0, comm: 'kthreadd', argv: [], ns: INITIAL_NS },
    { pid: 40, ppid: 1, uid: 1000, comm: 'bash', argv: ['-bash'], ns: INITIAL_NS },
    { pid: 300, ppid: 1, uid: 0, comm: 'containerd-shim', argv: ['containerd-shim', '-id', 'x'], ns: INITIAL_NS },
    // UTF-8 "é" and "日" as bytes, plus a byte that is not UTF-8 at all.
    { pid: 301, ppid: 300, uid: 101, comm: 'nginx', argv: ['nginx: caf\u00c3\u00a9 \u00e6\u0097\u00a5', '\u00ff'], ns: container },
    { pid: 302, ppid: 301, uid: 65534, comm: 'nginx', argv: ['nginx: worker'], ns: container },
  ];
  const passwd = 'root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/bash\nwww-data:x:101:101::/var/www:/usr/sbin/nologin\n';
  return { procs, passwd };
}

/** A 64-hex container id made from a number (fake, but shaped like the runtimes' ids). */
export function fakeContainerId(n: number): string {
  return n.toString(16).padStart(8, '0').repeat(8);
}

/**
 * `count` processes: groups of 10 share a net/uts/ipc namespace set, the rest share the host's.
 * With `containers`, each such group is also a Docker container (cgroup v2, systemd driver) and
 * host processes are in `/system.slice/x.service`.
 */
export function manyProcesses(count: number, opts: { containers?: boolean } = {}): FakeProcess[] {
  const procs: FakeProcess[] = [];
  for (let i = 0; i < count; i++) {
    const pid = i + 1;
    const group = Math.floor(i / 10);
    const ns = i < 10 ? INITIAL_NS : { ...INITIAL_NS, net: 4026540000 + group, uts: 4026550000 + group, ipc: 4026560000 + group };
    const cgroup = opts.containers ? (i < 10 ? '0::/system.slice/x.service\n' : `0::/system.slice/docker-${fakeContainerId(group)}.scope\n`) : undefined;
    procs.push({
      pid,
      ppid: i === 0 ? 0 : 1,
      uid: i % 7 === 0 ? 0 : 1000 + (i % 13),
      comm: `worker${i}`,
      argv: [`/usr/bin/worker${i}`, '--serve', `--id=${i}`],
      ns,
      ...(cgroup !== undefined ? { cgroup } : {}),
    });
  }
  return procs;
}
