import { ERRNO, errnoName, type ErrnoName } from './errno.js';

const DEP_ERROR = Symbol.for('@dep/error');

/** Options of {@link DepError}. */
export interface DepErrorOptions {
  /** What led to this error (another error, a report). */
  readonly cause?: unknown;
}

/**
 * A contract violation or a failed operation, named by the errno the kernel would return.
 *
 * `code` is the errno name (`'EINVAL'`), `errno` the negative value the kernel returns
 * (`-22`). The message says what was wrong and what to do. Recognisable across duplicate
 * installs of this package through {@link isDepError} (a `Symbol.for` brand), where
 * `instanceof` would fail.
 */
export class DepError extends Error {
  readonly code: ErrnoName;
  readonly errno: number;

  constructor(code: ErrnoName, message: string, options?: DepErrorOptions) {
    super(`${code}: ${message}`, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'DepError';
    this.code = code;
    this.errno = -ERRNO[code];
    Object.defineProperty(this, DEP_ERROR, { value: true });
  }

  /** A `DepError` for a negative (or positive) errno value, e.g. from `getStatus()`. */
  static fromErrno(errno: number, message: string, options?: DepErrorOptions): DepError {
    const code = errnoName(errno);
    if (code === undefined) {
      throw new DepError('EINVAL', `${errno} is not a Linux errno value; pass -1…-4095 as defined in errno.h`);
    }
    return new DepError(code, message, options);
  }
}

/** True if `e` is a {@link DepError} from any copy of this package; narrows on `code` when given. */
export function isDepError(e: unknown, code?: ErrnoName): e is DepError {
  if (typeof e !== 'object' || e === null || (e as Record<symbol, unknown>)[DEP_ERROR] !== true) return false;
  return code === undefined || (e as DepError).code === code;
}

/**
 * Awaits `p` and says how it ended in errno terms: `null` when it fulfilled, the code of the
 * {@link DepError} it rejected with otherwise. Anything else it rejects with (a bug, not an
 * errno) is rethrown. For callers that branch on the errno of an ioctl-shaped call — tests
 * asserting `EINVAL`, a client telling `ENOMEM` from a lost context — without a try/catch.
 */
export async function errnoOf(p: PromiseLike<unknown>): Promise<ErrnoName | null> {
  try {
    await p;
    return null;
  } catch (e) {
    if (isDepError(e)) return e.code;
    throw e;
  }
}
