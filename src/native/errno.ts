/** errno numbers and the names Node uses for them in err.code (Linux values, from os.constants). */
import { constants as osConstants } from 'node:os';

const ERRNO_NAMES = new Map<number, string>();
{
  const table = osConstants.errno as Record<string, number>;
  for (const [name, num] of Object.entries(table)) {
    if (!ERRNO_NAMES.has(num)) ERRNO_NAMES.set(num, name);
  }
  // Aliases sharing a number: pick the names Node/libuv use in err.code.
  for (const name of ['EAGAIN', 'ENOTSUP', 'EDEADLK']) {
    const num = table[name];
    if (num !== undefined) ERRNO_NAMES.set(num, name);
  }
}

/** Map a positive errno number to its Node-style name; unknown numbers give 'E<number>'. */
export function errnoName(errno: number): string {
  return ERRNO_NAMES.get(errno) ?? `E${errno}`;
}

/** The errno number for a name (inverse of errnoName), or undefined. */
export function errnoNumber(code: string): number | undefined {
  return (osConstants.errno as Record<string, number>)[code];
}
