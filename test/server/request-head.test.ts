/** The server's request-head parser on hand-written heads, and on generated valid requests and their prefixes. */
import t from 'tap';
import { METHODS, parseRequestHead, type HeadResult } from '../../src/server/request-head.js';
import { forAll, gen, type Rng } from '../support/prop.js';

const MAX = 8 * 1024;
const parse = (s: string, start = 0, max = MAX): HeadResult => parseRequestHead(Buffer.from(s, 'latin1'), start, max);
const PROBE = 'GET /report?api_version=1&probe_id=0123456789abcdef HTTP/1.1\r\nHost: plugin\r\nUser-Agent: Go-http-client/1.1\r\nAccept-Encoding: gzip\r\n\r\n';

t.test("the probe's request", async (t) => {
  t.same(parse(PROBE), {
    kind: 'request',
    method: 'GET',
    target: '/report?api_version=1&probe_id=0123456789abcdef',
    minor: 1,
    acceptEncoding: 'gzip',
    keepAlive: true,
    hasBody: false,
    end: PROBE.length,
  });
  t.match(parse('\r\n\r\n' + PROBE), { kind: 'request', end: PROBE.length + 4 }, 'blank lines before the request line are skipped');
});

t.test('pipelined requests: each parsed from where the previous ended', async (t) => {
  const second = 'HEAD /x HTTP/1.1\r\nConnection: close\r\n\r\n';
  const first = parse(PROBE + second);
  t.match(first, { kind: 'request', method: 'GET', end: PROBE.length });
  t.match(parse(PROBE + second, PROBE.length), { kind: 'request', method: 'HEAD', target: '/x', keepAlive: false, end: PROBE.length + second.length });
});

t.test('incomplete heads', async (t) => {
  for (const s of ['', 'G', 'GE', 'GET', 'GET ', 'GET /report', 'GET /report HTTP/1.1', 'GET /report HTTP/1.1\r\n', 'GET /report HTTP/1.1\r\nHost: plugin\r\n', '\r\n']) {
    t.same(parse(s), { kind: 'incomplete' }, JSON.stringify(s));
  }
});

t.test('keep-alive and bodies', async (t) => {
  const req = (version: string, headers: string): HeadResult => parse(`GET /report HTTP/${version}\r\n${headers}\r\n`);
  t.match(req('1.1', ''), { keepAlive: true, hasBody: false });
  t.match(req('1.1', 'Connection: close\r\n'), { keepAlive: false });
  t.match(req('1.1', 'connection: Upgrade, CLOSE\r\n'), { keepAlive: false }, 'tokens, any case');
  t.match(req('1.0', ''), { keepAlive: false, minor: 0 }, 'HTTP/1.0 closes by default');
  t.match(req('1.0', 'Connection: Keep-Alive\r\n'), { keepAlive: true, minor: 0 });
  t.match(req('1.1', 'Content-Length: 0\r\n'), { hasBody: false });
  t.match(req('1.1', 'Content-Length: 5\r\n'), { hasBody: true });
  t.match(req('1.1', 'Transfer-Encoding: chunked\r\n'), { hasBody: true });
  t.match(req('1.1', 'Accept-Encoding: br\r\nAccept-Encoding: gzip;q=0.5\r\n'), { acceptEncoding: 'br, gzip;q=0.5' }, 'repeated headers joined');
  t.match(req('1.1', 'X-Empty:\r\nX-Spaces:   a b   \r\n'), { kind: 'request' }, 'empty and padded values');
});

t.test('malformed heads: 400, 431, 505', async (t) => {
  const cases: Array<[string, string, number, string]> = [
    ['unknown method', 'BREW /report HTTP/1.1\r\n\r\n', 400, 'unknown method'],
    ['lower-case method', 'get /report HTTP/1.1\r\n\r\n', 400, 'unknown method'],
    ['binary garbage, no line end yet', '\x03\xfe\x17garbage', 400, 'unknown method'],
    ['not a method prefix, no line end yet', 'GOT /', 400, 'unknown method'],
    ['TLS hello', '\x16\x03\x01\x02\x00\x01', 400, 'unknown method'],
    ['two spaces', 'GET  /report HTTP/1.1\r\n\r\n', 400, 'malformed request line'],
    ['no version', 'GET /report\r\n\r\n', 400, 'malformed request line'],
    ['NUL in target', 'GET /rep\0ort HTTP/1.1\r\n\r\n', 400, 'malformed request target'],
    ['DEL in target', 'GET /rep\x7fort HTTP/1.1\r\n\r\n', 400, 'malformed request target'],
    ['bad version', 'GET /report HTTP/1.x\r\n\r\n', 400, 'malformed HTTP version'],
    ['HTTP/2 preface', 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 400, 'unknown method'],
    ['HTTP/2.0', 'GET /report HTTP/2.0\r\n\r\n', 505, 'HTTP/2.0 not supported'],
    ['HTTP/1.2', 'GET /report HTTP/1.2\r\n\r\n', 505, 'HTTP/1.2 not supported'],
    ['folded header', 'GET /report HTTP/1.1\r\nX-A: b\r\n c\r\n\r\n', 400, 'malformed header line'],
    ['no colon', 'GET /report HTTP/1.1\r\nHost plugin\r\n\r\n', 400, 'malformed header line'],
    ['empty name', 'GET /report HTTP/1.1\r\n: x\r\n\r\n', 400, 'malformed header line'],
    ['space in name', 'GET /report HTTP/1.1\r\nHost : plugin\r\n\r\n', 400, 'malformed header name'],
    ['control character in a value', 'GET /report HTTP/1.1\r\nX-A: b\x01c\r\n\r\n', 400, 'control character in a header value'],
    ['bare CR in a value', 'GET /report HTTP/1.1\r\nX-A: b\rc\r\n\r\n', 400, 'control character in a header value'],
    ['negative Content-Length', 'GET /report HTTP/1.1\r\nContent-Length: -1\r\n\r\n', 400, 'malformed Content-Length'],
    ['Content-Length with a sign', 'GET /report HTTP/1.1\r\nContent-Length: +1\r\n\r\n', 400, 'malformed Content-Length'],
    ['two Content-Lengths', 'GET /report HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n', 400, 'more than one Content-Length'],
    ['Content-Length and Transfer-Encoding', 'POST /report HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n', 400, 'both Content-Length and Transfer-Encoding'],
  ];
  for (const [name, text, status, reason] of cases) t.same(parse(text), { kind: 'error', status, reason }, name);
  const big = `GET /report HTTP/1.1\r\nX-Big: ${'a'.repeat(MAX)}\r\n\r\n`;
  t.same(parse(big), { kind: 'error', status: 431, reason: 'request head too large' }, 'complete head over the limit');
  t.same(parse(big.slice(0, MAX + 10)), { kind: 'error', status: 431, reason: 'request head too large' }, 'incomplete head already over the limit');
  t.match(parse(PROBE, 0, PROBE.length), { kind: 'request' }, 'a head exactly at the limit is fine');
  t.same(parse(PROBE, 0, PROBE.length - 1), { kind: 'error', status: 431, reason: 'request head too large' }, 'one byte over');
});

/** A valid request made of parts chosen at random, and what parsing it must give. */
interface Generated {
  text: string;
  method: string;
  target: string;
  minor: 0 | 1;
  acceptEncoding: string | undefined;
  keepAlive: boolean;
  hasBody: boolean;
}

const TCHAR = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
const word = (r: Rng, alphabet: string, lo: number, hi: number): string => Array.from({ length: r.int(lo, hi) }, () => alphabet.charAt(r.int(0, alphabet.length - 1))).join('');

function generate(r: Rng): Generated {
  const method = r.pick([...METHODS]);
  const target = r.bool(0.2) ? '*' : '/' + word(r, 'abcxyz019-._~/?=&%', 0, 40);
  const minor: 0 | 1 = r.bool(0.8) ? 1 : 0;
  const lines: string[] = [];
  let acceptEncoding: string | undefined;
  let close = false;
  let keepToken = false;
  let hasBody = false;
  let lengthSent = false;
  let chunked = false;
  for (let i = r.int(0, 8); i > 0; i--) {
    const kind = r.int(0, 5);
    const pad = (): string => ' '.repeat(r.int(0, 2));
    if (kind === 0) {
      const v = r.pick(['gzip', 'br', 'deflate, gzip', 'gzip;q=0']);
      acceptEncoding = acceptEncoding === undefined ? v : `${acceptEncoding}, ${v}`;
      lines.push(`${r.pick(['Accept-Encoding', 'accept-encoding', 'ACCEPT-ENCODING'])}:${pad()}${v}${pad()}`);
    } else if (kind === 1) {
      const v = r.pick(['close', 'keep-alive', 'Keep-Alive', 'upgrade', 'Close, TE']);
      if (v.toLowerCase().includes('close')) close = true;
      if (v.toLowerCase() === 'keep-alive') keepToken = true;
      lines.push(`Connection:${pad()}${v}`);
    } else if (kind === 2 && !lengthSent && !chunked) {
      const n = r.pick([0, 0, 1, 42, 1_000_000]);
      lengthSent = true;
      if (n > 0) hasBody = true;
      lines.push(`Content-Length: ${n}`);
    } else if (kind === 3 && !lengthSent && !chunked) {
      chunked = true;
      hasBody = true;
      lines.push('Transfer-Encoding: chunked');
    } else {
      // Any other header: a token name (never one of the four above) and a visible value.
      lines.push(`X-${word(r, TCHAR, 1, 12)}:${pad()}${word(r, 'abc ,;=/"\t\x80\xff', 0, 30).trim()}`);
    }
  }
  const text = `${'\r\n'.repeat(r.int(0, 1))}${method} ${target} HTTP/1.${minor}\r\n${lines.map((l) => `${l}\r\n`).join('')}\r\n`;
  return { text, method, target, minor, acceptEncoding, keepAlive: !close && (minor === 1 || keepToken), hasBody };
}

t.test('generated valid requests parse to their parts; every prefix of one is incomplete, never an error', async (t) => {
  forAll(
    t,
    'valid requests and their prefixes',
    (r) => ({ g: generate(r), cut: r.int(0, 10_000) }),
    ({ g, cut }) => {
      const whole = parse(g.text + 'GET / HTTP/1.1\r\n');
      const want = { kind: 'request', method: g.method, target: g.target, minor: g.minor, acceptEncoding: g.acceptEncoding, keepAlive: g.keepAlive, hasBody: g.hasBody, end: g.text.length };
      if (JSON.stringify(whole) !== JSON.stringify(want)) throw new Error(`parsed ${JSON.stringify(whole)}, want ${JSON.stringify(want)}`);
      const prefix = g.text.slice(0, cut % g.text.length);
      const part = parse(prefix);
      if (part.kind !== 'incomplete') throw new Error(`prefix ${JSON.stringify(prefix)} gave ${JSON.stringify(part)}`);
    },
  );
});

t.test('arbitrary bytes: never a throw, always one of the three answers, a request never past the bytes', async (t) => {
  forAll(
    t,
    'arbitrary bytes',
    (r) => ({ text: gen.oneOf(gen.latin1(300), (q) => 'GET / HTTP/1.1\r\n' + gen.from('ab: \r\n\t\0', 200)(q))(r), start: r.int(0, 20) }),
    ({ text, start }) => {
      const buf = Buffer.from(text, 'latin1');
      const res = parseRequestHead(buf, Math.min(start, buf.length), 256);
      if (res.kind === 'request') return res.end > 0 && res.end <= buf.length && METHODS.has(res.method);
      if (res.kind === 'error') return [400, 431, 505].includes(res.status) && res.reason.length > 0;
      return res.kind === 'incomplete';
    },
  );
});
