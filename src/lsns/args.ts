/**
 * Command-line parsing for `list`, with getopt_long's rules so lsns invocations work unchanged:
 * bundled short flags (-Jl), attached or separate arguments (-tnet, -t net, --type=net),
 * unambiguous long-option prefixes (--js), optional arguments only when attached (-Tparent,
 * --tree=owner), and `--` ending the options.
 */
import { isNsType, type NsType } from '../procfs/types.js';
import { LSNS_COLUMNS, DEFAULT_COLUMNS, DEFAULT_NET_COLUMNS, lookupColumn, PROCESS_MODE_COLUMNS, type ColumnName } from './columns.js';

export type TreeKind = 'process' | 'parent' | 'owner';

export interface ListOptions {
  json: boolean;
  list: boolean;
  noHeadings: boolean;
  raw: boolean;
  noTruncate: boolean;
  noWrap: boolean;
  columns: ColumnName[];
  types: NsType[];
  task: number | null;
  tree: TreeKind;
  /** The optional positional argument: a namespace inode. */
  namespace: number | null;
  proc: string;
  /** -P: only namespaces no process is in (pinned by a bind mount). */
  persistent: boolean;
  /** --no-persistent: exactly lsns 2.38.1's rows, without bind-mount-only namespaces. */
  noPersistent: boolean;
  /** --holders: also namespaces only a thread, an fd or the user/pid hierarchy keeps alive. */
  holders: boolean;
}

export type ParseOutcome = { kind: 'run'; options: ListOptions } | { kind: 'help' } | { kind: 'version' } | { kind: 'error'; message: string; usageHint: boolean };

type Arity = 'none' | 'required' | 'optional';

/** What the options set while they are read; parseListArgs turns it into ListOptions. */
interface ParseState {
  o: ListOptions;
  outputSpec: string | null;
  outputAll: boolean;
  explicitTree: boolean;
  help: boolean;
  version: boolean;
}

export interface OptSpec {
  long: string;
  short?: string;
  arity: Arity;
  /** The argument as help shows it: `<list>`. */
  arg?: string;
  help: string;
  /** Prints something and exits (help, version): listed apart in help. */
  informational?: true;
  /** Not an lsns 2.38.1 option: never makes an lsns abbreviation ambiguous (`--h` stays --help). */
  ours?: true;
  /** What the option does with its argument ('' when it has none); a message when that is bad. */
  apply(s: ParseState, value: string | undefined): string | undefined;
}

/**
 * Every option `list` takes, in getopt's order (an ambiguous prefix lists its candidates in this
 * order, as lsns does); help.ts prints them from here.
 */
export const LIST_OPTIONS: readonly OptSpec[] = [
  { long: 'json', short: 'J', arity: 'none', help: 'JSON output', apply: (s) => void (s.o.json = true) },
  { long: 'list', short: 'l', arity: 'none', help: 'flat list instead of the process tree', apply: (s) => void (s.o.list = true) },
  { long: 'noheadings', short: 'n', arity: 'none', help: 'no header line', apply: (s) => void (s.o.noHeadings = true) },
  { long: 'output', short: 'o', arity: 'required', arg: '<list>', help: 'columns to show (+<list> appends to the defaults)', apply: (s, v) => void (s.outputSpec = v ?? '') },
  // --output-all also switches to the flat list, except in process mode (`<namespace>`); an
  // explicit -T still wins (parseListArgs).
  { long: 'output-all', arity: 'none', help: 'all columns', apply: (s) => void (s.outputAll = true) },
  {
    long: 'task',
    short: 'p',
    arity: 'required',
    arg: '<pid>',
    help: 'only the namespaces of this process',
    apply: (s, v = '') => {
      const pid = parseUnsigned(v, 0x7fffffff);
      if (pid === null) return `invalid PID argument: '${v}'`;
      s.o.task = pid;
      return undefined;
    },
  },
  { long: 'raw', short: 'r', arity: 'none', help: 'raw output (escaped, unaligned)', apply: (s) => void (s.o.raw = true) },
  { long: 'notruncate', short: 'u', arity: 'none', help: 'never shorten COMMAND to fit the terminal', apply: (s) => void (s.o.noTruncate = true) },
  { long: 'nowrap', short: 'W', arity: 'none', help: 'multi-line cells on one line', apply: (s) => void (s.o.noWrap = true) },
  {
    long: 'type',
    short: 't',
    arity: 'required',
    arg: '<name>',
    help: 'only this namespace type (mnt, net, ipc, user, pid, uts, cgroup, time)',
    apply: (s, v = '') => {
      if (!isNsType(v)) return `unknown namespace type: ${v}`;
      if (!s.o.types.includes(v)) s.o.types.push(v);
      return undefined;
    },
  },
  {
    long: 'tree',
    short: 'T',
    arity: 'optional',
    arg: '<rel>',
    help: 'tree by process (default), owner or parent',
    apply: (s, v) => {
      // A bare -T/--tree means the owner tree in lsns 2.38.1 (black-box verified).
      if (v === undefined || v === 'owner') s.o.tree = 'owner';
      else if (v === 'process' || v === 'parent') s.o.tree = v;
      else return `unknown tree type: ${v}`;
      s.explicitTree = true;
      return undefined;
    },
  },
  { long: 'help', short: 'h', arity: 'none', help: 'this help', informational: true, apply: (s) => void (s.help = true) },
  { long: 'version', short: 'V', arity: 'none', help: 'version', informational: true, apply: (s) => void (s.version = true) },
  { long: 'persistent', short: 'P', arity: 'none', ours: true, help: 'only namespaces no process is in (kept by a bind mount)', apply: (s) => void (s.o.persistent = true) },
  { long: 'no-persistent', arity: 'none', ours: true, help: 'leave those out (exactly the rows of lsns 2.38.1)', apply: (s) => void (s.o.noPersistent = true) },
  {
    long: 'holders',
    arity: 'none',
    ours: true,
    help: 'also namespaces only a thread, an open fd or a child namespace keeps alive (HOLDER column)',
    apply: (s) => void (s.o.holders = true),
  },
  {
    long: 'proc',
    ours: true,
    arity: 'required',
    arg: '<dir>',
    help: 'procfs root to read (default /proc; a captured fixture works too)',
    apply: (s, v = '') => {
      if (v === '') return `invalid --proc argument: ''`;
      s.o.proc = v;
      return undefined;
    },
  },
];

/** strtoul-like: decimal digits only, within range. */
function parseUnsigned(text: string, max: number): number | null {
  if (!/^[0-9]+$/.test(text)) return null;
  const n = Number(text);
  return Number.isSafeInteger(n) && n <= max ? n : null;
}

/**
 * Splits an -o list the way lsns does (black-box, 2.38.1): items end at a comma, except that a
 * comma that is the LAST character stays part of the last item (`NS,TYPE,` has the items `NS`
 * and `TYPE,`, so it fails as an unknown column). lsns handles the items in order: an empty item
 * (`NS,,TYPE`, `,NS`; null here) ends it with exit 1 and no message, an unknown name with
 * `unknown column: <rest>`, `rest` being the text from the item's start to the end of the list
 * (`-o NS,FOO,,TYPE` -> `unknown column: FOO,,TYPE`).
 */
export function splitColumnList(list: string): Array<{ name: string; rest: string } | null> {
  const items: Array<{ name: string; rest: string } | null> = [];
  let begin = 0;
  while (begin < list.length) {
    const comma = list.indexOf(',', begin);
    const last = list.length - 1;
    if (comma === begin && comma !== last) {
      items.push(null);
      begin = comma + 1;
      continue;
    }
    const end = comma < 0 || comma === last ? list.length : comma;
    items.push({ name: list.slice(begin, end), rest: list.slice(begin) });
    begin = end + 1;
  }
  return items;
}

export function parseListArgs(argv: readonly string[]): ParseOutcome {
  const state: ParseState = {
    o: {
      json: false,
      list: false,
      noHeadings: false,
      raw: false,
      noTruncate: false,
      noWrap: false,
      columns: [],
      types: [],
      task: null,
      tree: 'process',
      namespace: null,
      proc: '/proc',
      persistent: false,
      noPersistent: false,
      holders: false,
    },
    outputSpec: null,
    outputAll: false,
    explicitTree: false,
    help: false,
    version: false,
  };
  const o = state.o;
  const positionals: string[] = [];
  const applied: Array<{ spec: OptSpec; value: string | undefined }> = [];

  const fail = (message: string, usageHint = true): ParseOutcome => ({ kind: 'error', message, usageHint });

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      const name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
      const exact = LIST_OPTIONS.find((s) => s.long === name);
      const prefixed = LIST_OPTIONS.filter((s) => s.long.startsWith(name));
      // An abbreviation lsns takes keeps its meaning: ours only count when no lsns option fits.
      const theirs = prefixed.filter((s) => s.ours !== true);
      const candidates = exact ? [exact] : theirs.length === 1 ? theirs : prefixed;
      if (candidates.length === 0) return fail(`unrecognized option '${eq < 0 ? arg : arg.slice(0, eq)}'`);
      if (candidates.length > 1) return fail(`option '${arg}' is ambiguous; possibilities:${candidates.map((c) => ` '--${c.long}'`).join('')}`);
      const spec = candidates[0] as OptSpec;
      let value: string | undefined;
      if (eq >= 0) {
        if (spec.arity === 'none') return fail(`option '--${spec.long}' doesn't allow an argument`);
        value = arg.slice(eq + 1);
      } else if (spec.arity === 'required') {
        if (i + 1 >= argv.length) return fail(`option '--${spec.long}' requires an argument`);
        value = argv[++i];
      }
      applied.push({ spec, value });
      continue;
    }
    if (arg.startsWith('-') && arg.length > 1) {
      for (let j = 1; j < arg.length; j++) {
        const ch = arg[j] as string;
        const spec = LIST_OPTIONS.find((s) => s.short === ch);
        if (!spec) return fail(`invalid option -- '${ch}'`);
        if (spec.arity === 'none') {
          applied.push({ spec, value: undefined });
          continue;
        }
        const rest = arg.slice(j + 1);
        if (rest !== '') {
          applied.push({ spec, value: rest });
        } else if (spec.arity === 'required') {
          if (i + 1 >= argv.length) return fail(`option requires an argument -- '${ch}'`);
          applied.push({ spec, value: argv[++i] });
        } else {
          applied.push({ spec, value: undefined });
        }
        break;
      }
      continue;
    }
    positionals.push(arg);
  }

  // Options take effect in order, as lsns handles them while it reads them.
  for (const { spec, value } of applied) {
    const problem = spec.apply(state, value);
    if (problem !== undefined) return fail(problem, false);
  }
  const { outputSpec, outputAll, explicitTree, help, version } = state;
  // Any -T wins over -l, whatever their order.
  if (outputAll && positionals.length === 0) o.list = true;
  if (explicitTree) o.list = false;
  if (help) return { kind: 'help' };
  if (version) return { kind: 'version' };

  if (positionals.length > 0) {
    const first = positionals[0] as string;
    const ino = parseUnsigned(first, Number.MAX_SAFE_INTEGER);
    if (ino === null) return fail(`invalid namespace argument: '${first}'`, false);
    o.namespace = ino;
  }

  // Defaults first (process-mode ones with a <namespace>, net ones when net is among -t), then
  // the LAST -o replaces them or +LIST appends to them; -o LIST beats --output-all in either order,
  // while -o +LIST appends to all the columns when --output-all is given.
  const defaults = o.namespace !== null ? PROCESS_MODE_COLUMNS : o.types.includes('net') ? DEFAULT_NET_COLUMNS : DEFAULT_COLUMNS;
  const base: ColumnName[] = outputAll ? [...LSNS_COLUMNS] : [...defaults];
  if (outputSpec !== null) {
    const append = outputSpec.startsWith('+');
    const items = splitColumnList(append ? outputSpec.slice(1) : outputSpec);
    // lsns fails silently (exit 1, no message) on an empty list or an empty item.
    if (items.length === 0) return fail('', false);
    const picked: ColumnName[] = append ? base : [];
    for (const item of items) {
      if (item === null) return fail('', false);
      const col = lookupColumn(item.name);
      if (!col) return fail(`unknown column: ${item.rest}`, false);
      picked.push(col.name);
    }
    o.columns = picked;
  } else {
    // Rows no process is in say who holds them: with --holders the column comes with the defaults.
    o.columns = o.holders && !outputAll && o.namespace === null ? [...base, 'HOLDER'] : base;
  }
  return { kind: 'run', options: o };
}
