/**
 * The options table (src/cli/options.ts) against what users read: the README's `serve` options
 * table and each command's --help; and every default against its own option's schema.
 */
import * as fs from 'node:fs';
import t from 'tap';
import { COMMAND_OPTIONS, commandHelp, OPTIONS, type OptionSpec } from '../../src/cli/options.js';
import { repo } from '../support/daemon.js';

interface ReadmeRow {
  flag: string;
  env: string;
  default: string;
}

/** The rows of the table under the README heading `heading`: its first three cells each. */
function readmeTable(heading: string): ReadmeRow[] {
  const lines = fs.readFileSync(`${repo}/README.md`, 'utf8').split('\n');
  const at = lines.indexOf(heading);
  if (at < 0) return [];
  const rows: ReadmeRow[] = [];
  let i = at + 1;
  while (i < lines.length && !(lines[i] ?? '').startsWith('|')) i++;
  for (i += 2; i < lines.length && (lines[i] ?? '').startsWith('|'); i++) {
    const [flag = '', env = '', dflt = ''] = (lines[i] ?? '')
      .split('|')
      .slice(1)
      .map((c) => c.trim());
    rows.push({ flag, env, default: dflt });
  }
  return rows;
}

const code = (text: string): string => `\`${text}\``;
/** How the README writes an option's row: flag and argument, variable, default (literal or in words). */
const expectedRow = (spec: OptionSpec): ReadmeRow => ({
  flag: code(`${spec.flag} ${spec.arg}`),
  env: spec.env !== undefined ? code(spec.env) : '',
  default: spec.default !== undefined ? code(spec.default) : (spec.foundDefault ?? ''),
});

t.test("the README's serve options table is the declaration", async (t) => {
  const rows = readmeTable('### `serve` options');
  t.ok(rows.length > 0, 'the README has the table');
  t.same(
    rows,
    COMMAND_OPTIONS.serve.map((k) => expectedRow(OPTIONS[k])),
    'same flags, in the same order, with the same variables and defaults',
  );
});

t.test('--help lists every option of its command with its variable and default', async (t) => {
  for (const command of ['serve', 'report', 'check'] as const) {
    const help = commandHelp(command, 'about');
    t.match(help, /^Usage: scope-namespaces \S+ \[options\]\n\nabout\n\nOptions:\n/, command);
    t.ok(
      help.split('\n').every((l) => l.length <= 96),
      `${command}: lines fit 96 columns`,
    );
    const flat = help.replace(/\n +/g, ' ');
    for (const key of COMMAND_OPTIONS[command]) {
      const spec: OptionSpec = OPTIONS[key];
      t.ok(
        help.split('\n').some((l) => l.startsWith(`  ${spec.flag} ${spec.arg} `)),
        `${command} ${spec.flag}`,
      );
      if (spec.env !== undefined) t.ok(flat.includes(`env ${spec.env}`), `${command} ${spec.flag}: env ${spec.env}`);
      if (spec.default !== undefined) t.ok(flat.includes(`default ${spec.default}`), `${command} ${spec.flag}: default ${spec.default}`);
    }
    for (const key of Object.keys(OPTIONS) as Array<keyof typeof OPTIONS>) {
      if (!(COMMAND_OPTIONS[command] as readonly string[]).includes(key)) t.notOk(flat.includes(`${OPTIONS[key].flag} `), `${command} has no ${OPTIONS[key].flag}`);
    }
  }
});

t.test('every option has a default its schema takes, or a found one, or is optional', async (t) => {
  for (const [key, spec] of Object.entries(OPTIONS) as Array<[string, OptionSpec]>) {
    if (spec.default !== undefined) t.ok(spec.schema.safeParse(spec.default).success, `${key}: default ${spec.default}`);
    else if (spec.foundDefault === undefined) t.ok(spec.schema.safeParse(undefined).success, `${key}: optional`);
  }
});
