/** `scope-namespaces list`: lsns 2.38.1's interface and output, from our own scanner. */
import { parseListArgs, type ListOptions } from '../lsns/args.js';
import { COLUMNS } from '../lsns/columns.js';
import { helpText, VERSION_TEXT } from '../lsns/help.js';
import { localeIsUtf8, render } from '../lsns/render.js';
import { loadUserNames, passwdCandidates } from '../procfs/passwd.js';
import { ProcReader, type ReadIssue } from '../procfs/reader.js';
import { memberRows } from '../scan/members.js';
import { scanNamespaces, type NamespaceRow } from '../scan/namespaces.js';
import { attachNsfs } from '../scan/nsfs.js';

export interface CliIo {
  /** Byte-string output (latin1 chars are bytes). */
  out(bytes: string): void;
  err(text: string): void;
  env: NodeJS.ProcessEnv;
  /** Terminal width of stdout, or null when stdout is not a terminal. */
  ttyWidth: number | null;
  debug?(issue: ReadIssue): void;
}

export function runList(argv: readonly string[], io: CliIo, prog = 'scope-namespaces list'): number {
  const parsed = parseListArgs(argv);
  const usage = (message: string, hint: boolean): number => {
    if (message !== '') io.err(`${prog}: ${message}\n`);
    if (hint) io.err(`Try '${prog} --help' for more information.\n`);
    return 1;
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
  if (opts.task !== null && opts.task !== 0 && opts.namespace !== null && opts.namespace !== 0) {
    return usage('--task is mutually exclusive with <namespace>', false);
  }
  const missing = opts.columns.filter((c) => !COLUMNS[c].supported);
  if (missing.length > 0) {
    return usage(`column ${missing[0]} is not supported yet (it needs the kernel-native layer)`, false);
  }

  const reader = new ProcReader(opts.proc, { onIssue: (i) => io.debug?.(i) });
  let pids: number[];
  try {
    pids = reader.listPids();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    return usage(`cannot read ${opts.proc}: ${code}`, false);
  }
  if (pids.length === 0) io.err(`${prog}: warning: ${opts.proc} holds no processes; is it a procfs?\n`);

  const users = loadUserNames(passwdCandidates(opts.proc));
  const scan = scanNamespaces(reader, users, opts.types.length > 0 ? { types: opts.types } : {});
  let rows: NamespaceRow[] = scan.rows;

  if (opts.task !== null && opts.task !== 0) {
    const mine = new Set((scan.memberships.get(opts.task) ?? []).map((l) => l.ino));
    rows = rows.filter((r) => mine.has(r.ns));
  }
  if (opts.namespace !== null) {
    // Process mode: lsns <ns> lists that namespace's processes (lsns 0: every namespace row).
    if (opts.namespace !== 0) {
      const row = rows.find((r) => r.ns === opts.namespace);
      if (!row) return usage(`not found namespace: ${opts.namespace}`, false);
      rows = memberRows(reader, users, scan, row);
    }
  }
  if (opts.columns.includes('NSFS')) attachNsfs(rows, reader);
  io.out(render(rows, opts, { width: io.ttyWidth, utf8: localeIsUtf8(io.env) }));
  return 0;
}
