/** lsns -J: 3-space indentation, objects joined by `},{`, nested rows under "children". */
import { COLUMNS, type ColumnName } from './columns.js';
import { cellText } from './cells.js';
import { jsonString } from './escape.js';
import type { OutNode } from './tree.js';

function value(text: string, col: ColumnName): string {
  if (text === '') return 'null';
  return COLUMNS[col].json === 'number' && /^-?[0-9]+$/.test(text) ? text : jsonString(text);
}

export function renderJson(forest: readonly OutNode[], columns: readonly ColumnName[], treeNesting: boolean): string {
  const out: string[] = ['{\n   "namespaces": [\n'];
  const emit = (nodes: readonly OutNode[], depth: number): void => {
    const pad = '   '.repeat(depth + 2);
    const inner = pad + '   ';
    nodes.forEach((node, i) => {
      out.push(i === 0 ? `${pad}{\n` : '');
      const fields = columns.map((col) => `${inner}"${col.toLowerCase()}": ${value(cellText(node.row, col), col)}`);
      const kids = treeNesting ? node.children : [];
      out.push(fields.join(',\n'));
      if (kids.length > 0) {
        out.push(`,\n${inner}"children": [\n`);
        emit(kids, depth + 2);
        out.push(`${inner}]\n`);
      } else {
        out.push('\n');
      }
      out.push(i === nodes.length - 1 ? `${pad}}\n` : `${pad}},{\n`);
    });
  };
  if (forest.length === 0) out.push('\n');
  else emit(forest, 0);
  out.push('   ]\n}\n');
  return out.join('');
}
