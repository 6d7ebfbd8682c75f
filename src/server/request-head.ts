/**
 * The head of one HTTP/1.x request, parsed from the bytes a client sent (pure: no I/O). The
 * plugin's server (http.ts) answers a single GET endpoint, so this keeps only what deciding an
 * answer needs: method, target, version, whether the client wants gzip and keep-alive, and whether
 * a body follows (the server never reads one: it answers and closes). Anything ambiguous is an
 * error rather than a guess: two Content-Lengths, Content-Length beside Transfer-Encoding (the
 * request-smuggling pair), folded or nameless header lines, control characters.
 */

export const METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'TRACE', 'CONNECT']);

export interface RequestHead {
  kind: 'request';
  method: string;
  target: string;
  /** Minor version: 0 for HTTP/1.0, 1 for HTTP/1.1. */
  minor: 0 | 1;
  /** Accept-Encoding, all such headers joined by ", " (undefined: none). */
  acceptEncoding: string | undefined;
  /** Whether the connection may carry another request after this one's answer. */
  keepAlive: boolean;
  /** A body follows the head (Content-Length > 0 or Transfer-Encoding). */
  hasBody: boolean;
  /** Offset just past the head's blank line. */
  end: number;
}

export interface HeadError {
  kind: 'error';
  status: 400 | 431 | 505;
  reason: string;
}

export type HeadResult = RequestHead | HeadError | { kind: 'incomplete' };

const INCOMPLETE = { kind: 'incomplete' } as const;
const bad = (reason: string): HeadError => ({ kind: 'error', status: 400, reason });

/** RFC 9110 token characters (header names, methods). */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** A request target: visible ASCII only (no space, no control character, no DEL, nothing above 0x7e). */
const TARGET = /^[\x21-\x7e]+$/;
/** A field value: visible ASCII, space, tab and obs-text; no other control character. */
const VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/** Offset of the first byte of `buf` from `start` that is not part of leading blank lines (RFC 9112 2.2). */
function skipBlankLines(buf: Buffer, start: number): number {
  let i = start;
  while (i + 1 < buf.length && buf[i] === 0x0d && buf[i + 1] === 0x0a) i += 2;
  return i;
}

interface RequestLine {
  method: string;
  target: string;
  minor: 0 | 1;
}

function parseRequestLine(requestLine: string): RequestLine | HeadError {
  const parts = requestLine.split(' ');
  if (parts.length !== 3) return bad('malformed request line');
  const [method = '', target = '', version = ''] = parts;
  if (!TOKEN.test(method) || !METHODS.has(method)) return bad('unknown method');
  if (!TARGET.test(target)) return bad('malformed request target');
  const v = /^HTTP\/(\d)\.(\d)$/.exec(version);
  if (v === null) return bad('malformed HTTP version');
  if (v[1] !== '1' || (v[2] !== '0' && v[2] !== '1')) return { kind: 'error', status: 505, reason: `HTTP/${v[1]}.${v[2]} not supported` };
  return { method, target, minor: v[2] === '1' ? 1 : 0 };
}

/** The start of a request line still arriving: an error once its method cannot be one. */
function checkMethodPrefix(buf: Buffer, from: number): HeadError | { ok: true } {
  // Half of a blank line's CRLF before the request line.
  if (buf.length - from === 1 && buf[from] === 0x0d) return { ok: true };
  const space = buf.indexOf(0x20, from);
  const prefix = buf.toString('latin1', from, space < 0 ? Math.min(buf.length, from + 16) : space);
  if (prefix.length === 0) return space < 0 ? { ok: true } : bad('malformed request line');
  if (!TOKEN.test(prefix) || (space < 0 ? ![...METHODS].some((m) => m.startsWith(prefix)) : !METHODS.has(prefix))) return bad('unknown method');
  return { ok: true };
}

/**
 * Parses the request head starting at `start`. `maxBytes` bounds the head (request line and
 * headers): beyond it, 431 whether or not the head is complete, so a client cannot make the
 * server buffer without limit.
 */
export function parseRequestHead(buf: Buffer, start: number, maxBytes: number): HeadResult {
  const from = skipBlankLines(buf, start);
  const blank = buf.indexOf('\r\n\r\n', from, 'latin1');
  if (blank < 0) {
    if (buf.length - from > maxBytes) return { kind: 'error', status: 431, reason: 'request head too large' };
    // Garbage is refused as soon as its first line shows it, not after the header timeout.
    const eol = buf.indexOf('\r\n', from, 'latin1');
    const early = eol < 0 ? checkMethodPrefix(buf, from) : parseRequestLine(buf.toString('latin1', from, eol));
    return 'kind' in early ? early : INCOMPLETE;
  }
  if (blank + 4 - from > maxBytes) return { kind: 'error', status: 431, reason: 'request head too large' };
  const lines = buf.toString('latin1', from, blank).split('\r\n');
  const line = parseRequestLine(lines[0] ?? '');
  if ('kind' in line) return line;
  const { method, target, minor } = line;

  let contentLength: number | null = null;
  let transferEncoding = false;
  let acceptEncoding: string | undefined;
  let close = false;
  let keepAliveToken = false;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i] as string;
    const colon = line.indexOf(':');
    // Obsolete line folding (a line starting with space or tab) has no name before its colon.
    if (colon <= 0) return bad('malformed header line');
    const name = line.slice(0, colon);
    if (!TOKEN.test(name)) return bad('malformed header name');
    const value = line.slice(colon + 1).trim();
    if (!VALUE.test(value)) return bad('control character in a header value');
    switch (name.toLowerCase()) {
      case 'content-length':
        if (contentLength !== null) return bad('more than one Content-Length');
        if (!/^\d{1,15}$/.test(value)) return bad('malformed Content-Length');
        contentLength = Number(value);
        break;
      case 'transfer-encoding':
        transferEncoding = true;
        break;
      case 'accept-encoding':
        acceptEncoding = acceptEncoding === undefined ? value : `${acceptEncoding}, ${value}`;
        break;
      case 'connection':
        for (const token of value.toLowerCase().split(',')) {
          const t = token.trim();
          if (t === 'close') close = true;
          else if (t === 'keep-alive') keepAliveToken = true;
        }
        break;
      default:
        break;
    }
  }
  if (transferEncoding && contentLength !== null) return bad('both Content-Length and Transfer-Encoding');
  const hasBody = transferEncoding || (contentLength ?? 0) > 0;
  // HTTP/1.1 keeps the connection unless told to close; HTTP/1.0 closes unless told to keep it.
  const keepAlive = !close && (minor === 1 || keepAliveToken);
  return { kind: 'request', method, target, minor, acceptEncoding, keepAlive, hasBody, end: blank + 4 };
}
