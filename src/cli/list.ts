/** `scope-namespaces list`: lsns 2.38.1's interface and output, from our own scanner. */
import { parseListArgs, type ListOptions } from '../lsns/args.js';
import { helpText, VERSION_TEXT } from '../lsns/help.js';
import { localeIsUtf8, render } from '../lsns/render.js';
import { loadUserNames, passwdCandidates } from '../procfs/passwd.js';
import { listPids, ProcReader, type ReadIssue } from '../procfs/reader.js';
import { memberRows } from '../scan/members.js';
import { scanNamespaces, type NamespaceRow } from '../scan/namespaces.js';
import { Enricher } from '../scan/enrich.js';
import type { RelationContext } from '../lsns/tree.js';
import { scanContainers } from '../scan/containers.js';
import { initialNamespaces } from '../scan/host-namespaces.js';
import { assignNamespaceContainers, containerCell, containersOf } from '../scan/ns-containers.js';
import { NS_TYPES } from '../procfs/types.js';
import { readLinkTableParallel } from '../scan/parallel-links.js';
import { discoverHolders, fdUnreadableNote, type HolderScan } from '../scan/holders/discover.js';
import { holderCell } from '../scan/holders/holder.js';
import { bytesToUnicode } from '../procfs/bytes.js';
import { EXIT_FAILURE } from './exit-codes.js';

export interface CliIo {
  /** Byte-string output (latin1 chars are bytes). */
  out(bytes: string): void;
  err(text: string): void;
  env: NodeJS.ProcessEnv;
  /** Terminal width of stdout, or null when stdout is not a terminal. */
  ttyWidth: number | null;
  debug?(issue: ReadIssue): void;
  /** Effective uid (default process.geteuid()): decides the "run as root" warning. */
  euid?: number;
}

/**
 * Below this many processes ns links are read with plain fs: koffi's load (~20 ms of CPU) is more
 * than readlinkat saves on 8 links per process (~1 µs each; native-notes/performance-history.md).
 */
export const NATIVE_LINKS_MIN_PIDS = 2000;

/** With --holders every fd is a readlinkat too: koffi pays for its load on smaller hosts. */
export const HOLDERS_NATIVE_MIN_PIDS = 300;

/** With --holders a process costs several times its links (its fds): workers pay off on smaller hosts. */
export const HOLDERS_PARALLEL_MIN_PIDS = 750;

export async function runList(argv: readonly string[], io: CliIo, prog = 'scope-namespaces list'): Promise<number> {
  const parsed = parseListArgs(argv);
  const usage = (message: string, hint: boolean): number => {
    if (message !== '') io.err(`${prog}: ${message}\n`);
    if (hint) io.err(`Try '${prog} --help' for more information.\n`);
    return EXIT_FAILURE;
  };
  switch (parsed.kind) {
    case 'error':
      return usage(parsed.message, parsed.usageHint);
    case 'help':
      io.out(helpText(prog));
      return 0;
    case 'version':
      io.out(VERSION_TEXT);
      return 0;
    case 'run':
      break;
  }
  const opts: ListOptions = parsed.options;
  if (opts.json && opts.raw) return usage('mutually exclusive arguments: --json --raw', false);
  if (opts.task !== null && opts.task !== 0 && opts.namespace !== null) {
    return usage('--task is mutually exclusive with <namespace>', false);
  }

  // Links of other users' processes are unreadable without CAP_SYS_PTRACE: lsns silently shows
  // less then; we show the same rows and say once (after the output) that root sees more.
  let othersUnreadable = false;
  // eslint-disable-next-line @typescript-eslint/unbound-method -- io.debug is a plain function field (no `this`)
  const debug = io.debug ?? debugSink(io, prog);
  const onIssue = (i: ReadIssue): void => {
    if (i.problem === 'unreadable' && i.file.startsWith('ns')) othersUnreadable = true;
    debug?.(i);
  };
  let pids: number[];
  try {
    // Listed before the reader is built: the count chooses its I/O.
    pids = listPids(opts.proc, onIssue);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    return usage(`cannot read ${opts.proc}: ${code}`, false);
  }
  // On a real procfs only: a captured tree keeps the notes of the path it was always read with.
  const nativeLinks = !ProcReader.isProcfs(opts.proc) || pids.length >= (opts.holders ? HOLDERS_NATIVE_MIN_PIDS : NATIVE_LINKS_MIN_PIDS);
  const reader = new ProcReader(opts.proc, { onIssue, nativeLinks });
  if (pids.length === 0) io.err(`${prog}: warning: ${opts.proc} holds no processes; is it a procfs?\n`);

  const users = loadUserNames(passwdCandidates(opts.proc));
  const types = opts.types.length > 0 ? opts.types : NS_TYPES;
  // The ns links of every process, on this thread and worker threads (parallel-links.ts).
  // With --holders each process's threads and fds are read with its links, on the same threads.
  const links = readLinkTableParallel(reader, pids, types, opts.holders ? { holders: true, minPids: HOLDERS_PARALLEL_MIN_PIDS } : {});
  const scan = scanNamespaces(reader, users, { types, links });
  // In process mode (`<namespace>`) every row is the same namespace: the relation trees are flat.
  const processMode = opts.namespace !== null && opts.namespace !== 0;
  const relationTree = !opts.list && opts.tree !== 'process' && !processMode;
  const enricher = new Enricher(
    reader,
    users,
    {
      nsfs: opts.columns.includes('NSFS'),
      relations: relationTree || opts.columns.includes('PNS') || opts.columns.includes('ONS'),
      netnsid: opts.columns.includes('NETNSID'),
      hostname: opts.columns.includes('HOSTNAME'),
    },
    (message) => io.err(`${prog}: warning: ${message}\n`),
  );
  try {
    // Namespaces kept alive only by a bind mount: listed with NPROCS 0 (as newer util-linux does).
    const persistent = opts.noPersistent && !processMode ? [] : enricher.persistentRows(scan.rows, types);
    // With --holders also those a thread, an fd or a child namespace keeps alive (holders/).
    let holders: HolderScan | null = null;
    const findHolders = (): HolderScan => {
      if (holders === null) {
        holders = discoverHolders(reader, users, scan, persistent, enricher, { types, hierarchy: true, ...(links.holds ? { read: links.holds } : {}) });
        if (holders.fdUnreadable > 0) io.err(`${prog}: warning: ${fdUnreadableNote(holders.fdUnreadable)}\n`);
      }
      return holders;
    };
    let noProcess: NamespaceRow[] = opts.holders ? findHolders().rows : persistent;
    if (opts.noPersistent) noProcess = noProcess.filter((r) => r.holder?.kind !== 'mount');
    let rows: NamespaceRow[] = opts.persistent ? noProcess : [...scan.rows, ...noProcess].sort((a, b) => a.ns - b.ns);
    const all = new Map(rows.map((r) => [r.ns, r]));

    if (opts.task !== null && opts.task !== 0) {
      const mine = new Set((scan.memberships.get(opts.task) ?? []).map((l) => l.ino));
      rows = rows.filter((r) => mine.has(r.ns));
    }
    if (processMode) {
      // Process mode: lsns <ns> lists that namespace's processes. One no process is in lists
      // none; what keeps it alive is said on stderr (looked up now, with or without --holders).
      const ino = opts.namespace;
      const listed = rows.find((r) => r.ns === ino);
      // A bind-mount row does not know of threads or fds that may hold it too (they come first).
      const row = listed !== undefined && listed.nprocs > 0 ? listed : (findHolders().rows.find((r) => r.ns === ino) ?? listed);
      if (!row) return usage(`not found namespace: ${opts.namespace}`, false);
      if (row.nprocs === 0)
        io.err(`${prog}: namespace ${row.ns} (${row.type}) has no process in it; held by ${row.holder ? bytesToUnicode(holderCell(row.holder)) : 'something this scan cannot see'}\n`);
      rows = memberRows(reader, users, scan, row);
    }
    if (opts.columns.includes('CONTAINER')) {
      // Cgroup files are read only for this column. In process mode a row is one process: its own container.
      const initial = initialNamespaces(scan.memberships);
      const { byPid, unreadable } = scanContainers(reader, scan.memberships, initial);
      // None readable (a captured tree without cgroup files): empty cells would claim "no container".
      if (unreadable > 0 && unreadable === scan.memberships.size) io.err(`${prog}: warning: no cgroup file could be read under ${opts.proc}; CONTAINER is unknown and shown empty\n`);
      if (processMode) {
        for (const row of rows) {
          const cell = row.pid === null ? '' : containerCell(containersOf([row.pid], byPid));
          if (cell !== '') row.container = cell;
        }
      } else {
        assignNamespaceContainers(rows, scan.members, byPid, initial);
      }
    }
    for (const row of rows) enricher.enrichSync(row);
    if (relationTree && (opts.task === null || opts.task === 0) && opts.namespace === null) {
      // The relation trees also list every owner/parent the ioctl walk met that no scanned
      // process is in, as NPROCS-0 rows (lsns 2.38.1 does; see lsns-output-format.md §11).
      const extra: NamespaceRow[] = [];
      for (const ino of enricher.knownNamespaces()) {
        if (all.has(ino)) continue;
        const row = enricher.placeholder(ino);
        if (row) extra.push(row);
      }
      if (extra.length > 0) rows = [...rows, ...extra].sort((a, b) => a.ns - b.ns);
    }
    await enricher.hostnames(rows);

    const relations: RelationContext | null = relationTree
      ? {
          lookup: (ino) => {
            const scanned = all.get(ino);
            if (scanned) {
              enricher.enrichSync(scanned);
              return scanned;
            }
            return enricher.placeholder(ino);
          },
          ancestorOf: (ino) => {
            const rel = enricher.relation(ino);
            return rel ? (opts.tree === 'owner' ? rel.ons : rel.pns) : 0;
          },
          ownerOf: (ino) => enricher.relation(ino)?.ons ?? 0,
        }
      : null;
    io.out(render(rows, opts, { width: io.ttyWidth, utf8: localeIsUtf8(io.env) }, relations));
  } finally {
    await enricher.close();
  }
  const euid = io.euid ?? process.geteuid?.() ?? 0;
  if (othersUnreadable && euid !== 0) io.err(`${prog}: warning: ${UNPRIVILEGED_WARNING}\n`);
  return 0;
}

export const UNPRIVILEGED_WARNING = "some processes' namespaces are not readable by this user; run as root to see every process's namespaces";

/** LOG_LEVEL=debug (or trace) in the environment: every read problem as one stderr line. */
export function debugSink(io: Pick<CliIo, 'err' | 'env'>, prog: string): ((issue: ReadIssue) => void) | undefined {
  const level = io.env['LOG_LEVEL'];
  if (level !== 'debug' && level !== 'trace') return undefined;
  return (i) => io.err(`${prog}: debug: ${i.pid === null ? '' : `${i.pid}/`}${i.file}: ${i.problem}${i.code ? ` (${i.code})` : ''}\n`);
}
