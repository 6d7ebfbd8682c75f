/** From scanned rows and parsed options to the exact text lsns would print. */
import type { NamespaceRow } from '../scan/namespaces.js';
import type { ListOptions } from './args.js';
import { renderJson } from './json.js';
import { renderTable } from './table.js';
import { flat, processForest, type OutNode } from './tree.js';

export interface Arranged {
  forest: OutNode[];
  /** Column shown with tree glyphs (and whose JSON carries "children"), or null for a flat list. */
  treeColumn: 'COMMAND' | 'NS' | null;
}

export function arrange(rows: readonly NamespaceRow[], opts: Pick<ListOptions, 'list' | 'tree' | 'columns'>): Arranged {
  if (opts.list || opts.tree !== 'process' || !opts.columns.includes('COMMAND')) {
    return { forest: flat(rows), treeColumn: null };
  }
  return { forest: processForest(rows), treeColumn: 'COMMAND' };
}

export interface Terminal {
  /** Columns of the terminal stdout is, or null when it is not one (nothing is truncated then). */
  width: number | null;
  /** Whether the locale's charset is UTF-8. */
  utf8: boolean;
}

/** lsns follows the C library's locale: LC_ALL, then LC_CTYPE, then LANG; unset means "C". */
export function localeIsUtf8(env: NodeJS.ProcessEnv): boolean {
  const locale = env.LC_ALL || env.LC_CTYPE || env.LANG || 'C';
  return /utf-?8/i.test(locale);
}

export function render(rows: readonly NamespaceRow[], opts: ListOptions, term: Terminal): string {
  const { forest, treeColumn } = arrange(rows, opts);
  if (opts.json) return renderJson(forest, opts.columns, treeColumn !== null);
  return renderTable(forest, opts.columns, {
    treeColumn,
    noHeadings: opts.noHeadings,
    raw: opts.raw,
    noTruncate: opts.noTruncate,
    noWrap: opts.noWrap,
    width: term.width,
    utf8: term.utf8,
  });
}
