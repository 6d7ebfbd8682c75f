/**
 * Escaping of cell text the way lsns prints it (black-box verified, see
 * native-notes/lsns-output-format.md §3.3 and §4). Inputs and outputs are byte strings (one char
 * per byte, see procfs/types.ts ByteString) so invalid UTF-8 survives exactly as lsns passes it on.
 */

const hex = (b: number): string => '\\x' + b.toString(16).padStart(2, '0');

/** JSON string literal: short escapes for the usual controls, \u00XX for the rest below 0x20;
 * DEL and bytes >= 0x80 pass through untouched (lsns does not validate UTF-8 here). */
export function jsonString(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    switch (c) {
      case 0x22:
        out += '\\"';
        break;
      case 0x5c:
        out += '\\\\';
        break;
      case 0x0a:
        out += '\\n';
        break;
      case 0x0d:
        out += '\\r';
        break;
      case 0x09:
        out += '\\t';
        break;
      case 0x08:
        out += '\\b';
        break;
      case 0x0c:
        out += '\\f';
        break;
      default:
        out += c < 0x20 ? '\\u' + c.toString(16).padStart(4, '0') : s.charAt(i);
    }
  }
  return out + '"';
}

/** Decodes one UTF-8 sequence at i; returns [codePoint, length] or null when invalid. */
function decodeAt(s: string, i: number): [number, number] | null {
  const b0 = s.charCodeAt(i);
  if (b0 < 0x80) return [b0, 1];
  let len: number;
  let cp: number;
  let min: number;
  if (b0 >= 0xc2 && b0 <= 0xdf) [len, cp, min] = [2, b0 & 0x1f, 0x80];
  else if (b0 >= 0xe0 && b0 <= 0xef) [len, cp, min] = [3, b0 & 0x0f, 0x800];
  else if (b0 >= 0xf0 && b0 <= 0xf4) [len, cp, min] = [4, b0 & 0x07, 0x10000];
  else return null;
  if (i + len > s.length) return null;
  for (let k = 1; k < len; k++) {
    const b = s.charCodeAt(i + k);
    if ((b & 0xc0) !== 0x80) return null;
    cp = (cp << 6) | (b & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return null;
  return [cp, len];
}

/** iswprint in a UTF-8 locale, as far as it shows in lsns: controls, unassigned code points and
 * line/paragraph separators are not printable; format characters and private use are. */
function printable(cp: number): boolean {
  const ch = String.fromCodePoint(cp);
  return !/[\p{Cc}\p{Cn}\p{Zl}\p{Zp}]/u.test(ch);
}

/** Terminal cells a printable code point takes (wcwidth). */
export function codePointWidth(cp: number): number {
  if (cp === 0x00ad) return 1;
  const ch = String.fromCodePoint(cp);
  if (/[\p{Mn}\p{Me}\p{Cf}]/u.test(ch) || (cp >= 0x1160 && cp <= 0x11ff)) return 0;
  if (
    (cp >= 0x1100 && cp <= 0x115f) ||
    (cp >= 0x2e80 && cp <= 0x303e) ||
    (cp >= 0x3041 && cp <= 0x33ff) ||
    (cp >= 0x3400 && cp <= 0x4dbf) ||
    (cp >= 0x4e00 && cp <= 0x9fff) ||
    (cp >= 0xa000 && cp <= 0xa4cf) ||
    (cp >= 0xac00 && cp <= 0xd7a3) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0xfe30 && cp <= 0xfe4f) ||
    (cp >= 0xff00 && cp <= 0xff60) ||
    (cp >= 0xffe0 && cp <= 0xffe6) ||
    (cp >= 0x1f300 && cp <= 0x1f64f) ||
    (cp >= 0x1f900 && cp <= 0x1f9ff) ||
    (cp >= 0x20000 && cp <= 0x3fffd)
  ) {
    return 2;
  }
  return 1;
}

export interface Shown {
  /** Byte string to print. */
  text: string;
  /** Terminal cells it takes. */
  width: number;
}

/**
 * Table cells: every byte that is not part of a printable character becomes \xHH, so a command
 * line can neither move the cursor nor break the columns. `utf8` is false in a non-UTF-8 locale,
 * where every byte >= 0x80 is escaped as well.
 */
export function tableText(s: string, utf8: boolean): Shown {
  let text = '';
  let width = 0;
  for (let i = 0; i < s.length;) {
    const c = s.charCodeAt(i);
    // A backslash before a lower-case `x` is escaped too, so `\x41` in a command line cannot be
    // mistaken for an escape (black-box: `a\xb` -> `a\x5cxb`; `\X`, `\\`, `\n` stay raw).
    if (c < 0x20 || c === 0x7f || (c >= 0x80 && !utf8) || (c === 0x5c && s.charCodeAt(i + 1) === 0x78)) {
      text += hex(c);
      width += 4;
      i++;
      continue;
    }
    if (c < 0x80) {
      text += s.charAt(i);
      width++;
      i++;
      continue;
    }
    const dec = decodeAt(s, i);
    if (!dec) {
      text += hex(c);
      width += 4;
      i++;
      continue;
    }
    const [cp, len] = dec;
    if (printable(cp)) {
      text += s.slice(i, i + len);
      width += codePointWidth(cp);
    } else {
      for (let k = 0; k < len; k++) text += hex(s.charCodeAt(i + k));
      width += 4 * len;
    }
    i += len;
  }
  return { text, width };
}

/** Raw output (-r): also spaces, backslashes and every byte >= 0x80, so fields split on spaces. */
export function rawText(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    out += c <= 0x20 || c === 0x5c || c >= 0x7f ? hex(c) : s.charAt(i);
  }
  return out;
}
