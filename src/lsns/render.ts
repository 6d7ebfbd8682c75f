/** From scanned rows and parsed options to the exact text lsns would print. */
import type { NamespaceRow } from '../scan/namespaces.js';
import type { ListOptions } from './args.js';
import { renderJson } from './json.js';
import { renderTable } from './table.js';
import { flat, processForest, relationForest, type OutNode, type RelationContext } from './tree.js';

export interface Arranged {
  forest: OutNode[];
  /** Column shown with tree glyphs (and whose JSON carries "children"), or null for a flat list. */
  treeColumn: 'COMMAND' | 'NS' | null;
}

export function arrange(rows: readonly NamespaceRow[], opts: Pick<ListOptions, 'list' | 'tree' | 'columns'>, relations: RelationContext | null): Arranged {
  if (opts.list) return { forest: flat(rows), treeColumn: null };
  if (opts.tree === 'process') {
    return opts.columns.includes('COMMAND') ? { forest: processForest(rows), treeColumn: 'COMMAND' } : { forest: flat(rows), treeColumn: null };
  }
  // Process mode (`<namespace>`): every row is the same namespace, so nothing nests, but NS is
  // still the tree column (left-aligned), as in lsns.
  if (!relations) return { forest: flat(rows), treeColumn: opts.columns.includes('NS') ? 'NS' : null };
  const { roots, order } = relationForest(rows, relations);
  // Without the NS column lsns prints the same rows flat, in the order it emitted them.
  return opts.columns.includes('NS') ? { forest: roots, treeColumn: 'NS' } : { forest: flat(order), treeColumn: null };
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

export function render(rows: readonly NamespaceRow[], opts: ListOptions, term: Terminal, relations: RelationContext | null = null): string {
  const { forest, treeColumn } = arrange(rows, opts, relations);
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
