/** Help and version text for `list`. Same options and column list as lsns 2.38.1, own wording. */
import { LIST_OPTIONS, type OptSpec } from './args.js';
import { COLUMN_NAMES, COLUMNS } from './columns.js';

export const VERSION = '0.1.0';
export const VERSION_TEXT = `scope-namespaces ${VERSION} (lsns 2.38.1 compatible)\n`;

/** ` -o, --output <list>    columns to show ...`: short flag (or its room), long flag, argument, help. */
const optionLine = (o: OptSpec): string => `${o.short !== undefined ? ` -${o.short},` : '    '} --${o.long}${o.arg !== undefined ? ` ${o.arg}` : ''}`.padEnd(24) + o.help;

export function helpText(prog: string): string {
  const cols = COLUMN_NAMES.map((c) => `${c.padStart(12)}  ${COLUMNS[c].help}${COLUMNS[c].supported ? '' : ' (not supported yet)'}`);
  return (
    [
      '',
      'Usage:',
      ` ${prog} [options] [<namespace>]`,
      '',
      'List the namespaces of this host, read from /proc (no util-linux needed).',
      '',
      'Options:',
      ...LIST_OPTIONS.filter((o) => o.informational !== true).map(optionLine),
      '',
      ...LIST_OPTIONS.filter((o) => o.informational === true).map(optionLine),
      '',
      'Available output columns:',
      ...cols,
      '',
    ].join('\n') + '\n'
  );
}
