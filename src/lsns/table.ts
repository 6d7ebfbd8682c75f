/**
 * lsns's table and raw output (black-box rules in native-notes/lsns-output-format.md §1, §2, §4).
 * Works on byte strings; the caller writes the result with latin1 encoding to get the bytes back.
 */
import type { NamespaceRow } from '../scan/namespaces.js';
import { cellText } from './cells.js';
import { COLUMNS, type ColumnName } from './columns.js';
import { utf8Bytes } from '../procfs/bytes.js';
import { rawText, tableText } from './escape.js';
import { walk, type OutNode } from './tree.js';

export interface TableOptions {
  /** Column that carries the tree glyphs, or null for a flat list. */
  treeColumn: ColumnName | null;
  noHeadings: boolean;
  raw: boolean;
  noTruncate: boolean;
  noWrap: boolean;
  /** Terminal width when stdout is a terminal; null means never truncate (pipes, files). */
  width: number | null;
  /** The locale's charset is UTF-8 (LANG/LC_CTYPE/LC_ALL); otherwise ASCII glyphs and escapes. */
  utf8: boolean;
}

/** PID, PPID and TYPE grow to 5 cells once any value is as wide as the header (observed in lsns:
 * `lsns -t user -o TYPE,NS` pads `user` to 5, `-t uts` keeps TYPE at 4). */
const WIDTH_HINT: Partial<Record<ColumnName, number>> = { PID: 5, PPID: 5, TYPE: 5 };

/** The only column lsns shrinks to fit a terminal; never below its header. */
const SHRINKABLE: ColumnName = 'COMMAND';

interface Glyphs {
  vert: string;
  branch: string;
  last: string;
  blank: string;
}
const UTF8_GLYPHS: Glyphs = { vert: utf8Bytes('│ '), branch: utf8Bytes('├─'), last: utf8Bytes('└─'), blank: '  ' };
const ASCII_GLYPHS: Glyphs = { vert: '| ', branch: '|-', last: '`-', blank: '  ' };

interface Cell {
  /** Escaped lines of the cell (several only for multi-line NSFS). */
  parts: string[];
  widths: number[];
}

function cutToWidth(text: string, width: number, max: number): string {
  if (width <= max) return text;
  // Escaped text is ASCII except for printable multibyte characters; cut by display cells.
  let out = '';
  let used = 0;
  for (const ch of Buffer.from(text, 'latin1').toString('utf8')) {
    const w = tableText(utf8Bytes(ch), true).width;
    if (used + w > max) break;
    out += ch;
    used += w;
  }
  return utf8Bytes(out);
}

/** Columns whose cells hold several lines (NSFS: one mount point per line). */
const multiLine = (col: ColumnName | undefined): boolean => col === 'NSFS';

export function renderTable<R extends NamespaceRow>(forest: readonly OutNode<R>[], columns: readonly ColumnName[], o: TableOptions): string {
  if (forest.length === 0 || columns.length === 0) return '';
  const glyphs = o.utf8 ? UTF8_GLYPHS : ASCII_GLYPHS;
  const lines: string[][] = [];
  walk(forest, (node, depth, trail, last) => {
    let prefix = '';
    if (o.treeColumn !== null && depth > 0) {
      prefix = trail
        .slice(1)
        .map((l) => (l ? glyphs.blank : glyphs.vert))
        .join('');
      prefix += last ? glyphs.last : glyphs.branch;
    }
    lines.push(columns.map((col) => (col === o.treeColumn ? prefix : '') + cellText(node.row, col)));
  });

  if (o.raw) {
    const out: string[] = [];
    if (!o.noHeadings) out.push(columns.join(' ') + '\n');
    for (const line of lines) out.push(line.map((t, i) => rawText(multiLine(columns[i]) ? t.replace(/\n/g, ',') : t)).join(' ') + '\n');
    return out.join('');
  }

  const cells: Cell[][] = lines.map((line) =>
    line.map((t, i) => {
      // Only multi-line columns split on newlines; a newline in COMMAND is escaped (\x0a).
      const split = !multiLine(columns[i]) ? [t] : o.noWrap ? [t.replace(/\n/g, ',')] : t.split('\n');
      const shown = split.map((p) => tableText(p, o.utf8));
      return { parts: shown.map((s) => s.text), widths: shown.map((s) => s.width) };
    }),
  );

  const widths = columns.map((col, i) => {
    const header = col.length;
    let max = 0;
    for (const row of cells) for (const w of (row[i] as Cell).widths) max = Math.max(max, w);
    return max < header ? header : Math.max(max, WIDTH_HINT[col] ?? 0);
  });

  if (o.width !== null && !o.noTruncate) {
    const total = widths.reduce((a, b) => a + b, 0) + widths.length - 1;
    const idx = columns.indexOf(SHRINKABLE);
    if (total > o.width && idx >= 0) {
      const w = Math.max(SHRINKABLE.length, (widths[idx] as number) - (total - o.width));
      widths[idx] = w;
      for (const row of cells) {
        const cell = row[idx] as Cell;
        cell.parts = cell.parts.map((p, k) => cutToWidth(p, cell.widths[k] as number, w));
        cell.widths = cell.widths.map((x) => Math.min(x, w));
      }
    }
  }

  const leftAligned = (col: ColumnName): boolean => !COLUMNS[col].right || (col === o.treeColumn && col === 'NS');
  const pad = (text: string, width: number, shown: number, i: number): string => {
    const col = columns[i] as ColumnName;
    const last = i === columns.length - 1;
    // The last column is never padded on the right, and an empty last cell not at all.
    if (last && text === '') return '';
    const fill = ' '.repeat(Math.max(0, width - shown));
    if (!leftAligned(col)) return fill + text;
    return last ? text : text + fill;
  };

  const out: string[] = [];
  if (!o.noHeadings) {
    out.push(columns.map((col, i) => pad(col, widths[i] as number, col.length, i)).join(' ') + '\n');
  }
  for (const row of cells) {
    const height = Math.max(...row.map((c) => c.parts.length));
    for (let k = 0; k < height; k++) {
      out.push(row.map((c, i) => pad(c.parts[k] ?? '', widths[i] as number, c.widths[k] ?? 0, i)).join(' ') + '\n');
    }
  }
  return out.join('');
}
