/**
 * Exit codes of the commands (`list` exits as lsns does: 0 or EXIT_FAILURE, also for bad
 * arguments). No imports: the entry point loads this before any command, and `list` must not pay
 * for zod or pino.
 */

/** The operation failed: /proc unreadable, an unhealthy plugin, a fatal error of the daemon. */
export const EXIT_FAILURE = 1;
/** sysexits.h EX_USAGE: bad flags, arguments or environment; nothing was done. */
export const EXIT_USAGE = 64;
/** sysexits.h EX_SOFTWARE: an error nothing else caught (a bug on our side). */
export const EXIT_INTERNAL = 70;
