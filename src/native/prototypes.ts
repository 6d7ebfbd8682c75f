/**
 * C prototypes of the libc functions bound through koffi, typed: a prototype must name one of
 * LibcName under its own key, and the arguments a call passes are derived from the prototype's
 * parameter list, so a misspelt function, a prototype under the wrong key, a wrong argument count
 * or a wrong argument type fails to compile. Each module declares the prototypes it calls beside
 * the code that calls them (`const X = {...} as const satisfies LibcPrototypes`).
 */

/** Every libc function bound anywhere in the project. */
export type LibcName =
  | 'open'
  | 'close'
  | 'read'
  | 'readlinkat'
  | 'ioctl'
  | 'setns'
  | 'uname'
  | 'gettid'
  | 'socket'
  | 'send'
  | 'recv'
  | 'syscall'
  | 'epoll_create1'
  | 'epoll_ctl'
  | 'epoll_wait'
  | 'getrlimit'
  | 'setrlimit'
  | 'mallopt';

/** Return types used: koffi gives a number (or a bigint for a long beyond 2^53). */
type CReturn = 'int' | 'long';

/** A koffi prototype of libc function N: `int open(const char *path, int flags)`. */
export type Prototype<N extends LibcName = LibcName> = `${CReturn} ${N}(${string})`;

/** Prototypes keyed by the name of their function. */
export type LibcPrototypes = { readonly [N in LibcName]?: Prototype<N> };

/** The JavaScript value passed for one C parameter (`never`: a C type not supported here). */
type CArg<P extends string> = P extends `const char *${string}`
  ? string
  : P extends `${'' | 'const '}void *${string}`
    ? Buffer | null
    : P extends `${'int' | 'long' | 'unsigned long'} ${string}`
      ? number
      : never;

type CArgs<S extends string> = S extends 'void' ? [] : S extends `${infer A}, ${infer Rest}` ? [CArg<A>, ...CArgs<Rest>] : [CArg<S>];

/** The argument tuple of a call to prototype P. */
export type ArgsOf<P extends Prototype> = P extends `${CReturn} ${string}(${infer A})` ? CArgs<A> : never;

/** The function a prototype declares, as koffi binds it. */
export type BoundFn<P extends Prototype> = (...args: ArgsOf<P>) => unknown;

/** The function name inside a prototype (`open` for `int open(...)`). */
export function nameOf(proto: Prototype): string {
  return proto.slice(proto.indexOf(' ') + 1, proto.indexOf('('));
}
