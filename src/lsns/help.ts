/** Help and version text for `list`. Same options and column list as lsns 2.38.1, own wording. */
import { COLUMN_NAMES, COLUMNS } from './columns.js';

export const VERSION = '0.1.0';
export const VERSION_TEXT = `scope-namespaces ${VERSION} (lsns 2.38.1 compatible)\n`;

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
      ' -J, --json             JSON output',
      ' -l, --list             flat list instead of the process tree',
      ' -n, --noheadings       no header line',
      ' -o, --output <list>    columns to show (+<list> appends to the defaults)',
      '     --output-all       all columns',
      ' -p, --task <pid>       only the namespaces of this process',
      ' -r, --raw              raw output (escaped, unaligned)',
      ' -u, --notruncate       never shorten COMMAND to fit the terminal',
      ' -W, --nowrap           multi-line cells on one line',
      ' -t, --type <name>      only this namespace type (mnt, net, ipc, user, pid, uts, cgroup, time)',
      ' -T, --tree <rel>       tree by process (default), owner or parent',
      ' -P, --persistent       only namespaces no process is in (kept by a bind mount)',
      '     --no-persistent    leave those out (exactly the rows of lsns 2.38.1)',
      '     --proc <dir>       procfs root to read (default /proc; a captured fixture works too)',
      '',
      ' -h, --help             this help',
      ' -V, --version          version',
      '',
      'Available output columns:',
      ...cols,
      '',
    ].join('\n') + '\n'
  );
}
