/** Conversions between byte strings (see ByteString in types.ts) and Unicode text. */
import type { ByteString } from './types.js';

/** Byte string of a UTF-8 text (tree glyphs, headers, hostnames). */
export function utf8Bytes(s: string): ByteString {
  return Buffer.from(s, 'utf8').toString('latin1');
}

/** A proper JS string from a byte string, for consumers that need Unicode (the Scope report). */
export function bytesToUnicode(s: ByteString): string {
  return Buffer.from(s, 'latin1').toString('utf8');
}
