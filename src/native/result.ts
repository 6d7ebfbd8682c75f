/** What every native wrapper returns instead of throwing: a value, or a typed failure. */

export type NativeOk<T> = { ok: true; value: T };
export type NativeErr = {
  ok: false;
  /** Node-style errno name ('EPERM', 'EINVAL', 'ENOTTY', ...); 'ENOSYS'/'ENOTSUP' when native calls are unavailable. */
  code: string;
  /** Numeric errno when it came from the kernel, 0 when synthesized. */
  errno: number;
  reason: string;
};
export type NativeResult<T> = NativeOk<T> | NativeErr;

export function ok<T>(value: T): NativeOk<T> {
  return { ok: true, value };
}

export function fail(code: string, reason: string, errno = 0): NativeErr {
  return { ok: false, code, errno, reason };
}

/** An exception's message, for a failure's reason. */
export function describeError(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
