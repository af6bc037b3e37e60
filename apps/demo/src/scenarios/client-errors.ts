/**
 * How the demo's clients treat an ioctl that failed, as real userspace does (Mesa, XRT):
 *
 * - **drop**: a resource error (`ENOMEM`, `EAGAIN`, `ENOSPC`, `EBUSY`, `EINTR`) — the
 *   frame (or the one job) is dropped, every temporary handle is cleaned up, and the client
 *   tries again with the next one;
 * - **lost**: the context is gone (`ECANCELED` from a banned xe exec queue, a killed xe VM
 *   or a terminated panthor group; `EIO` from firmware; `ENODEV` from a lost device;
 *   `ETIME`/`ETIMEDOUT`) — the client re-creates its queue, group or context (Mesa's
 *   reaction to a lost context) and carries on;
 * - anything else (`EINVAL`, `ENOENT`, `EFAULT`, …) is a bug in the client, not a fault to
 *   ride out: it is rethrown.
 */
import { isDepError, type ErrnoName } from '@dep/kernel';

export type ClientAction = 'drop' | 'lost';

const DROP: ReadonlySet<ErrnoName> = new Set<ErrnoName>(['ENOMEM', 'EAGAIN', 'ENOSPC', 'EBUSY', 'EINTR']);
const LOST: ReadonlySet<ErrnoName> = new Set<ErrnoName>(['ECANCELED', 'EIO', 'ENODEV', 'ETIME', 'ETIMEDOUT']);

/**
 * What a client does about `e`; null when it is not an errno a client rides out. `extraLost`
 * adds driver-specific "context is gone" errnos (amdxdna refuses submits to a dead context
 * with `EINVAL`).
 */
export function clientAction(e: unknown, extraLost: readonly ErrnoName[] = []): ClientAction | null {
  if (!isDepError(e)) return null;
  if (DROP.has(e.code)) return 'drop';
  if (LOST.has(e.code) || extraLost.includes(e.code)) return 'lost';
  return null;
}

/** The errno name of a `DepError` (for notes), or `error`. */
export function errnoName(e: unknown): string {
  return isDepError(e) ? e.code : 'error';
}

/**
 * Run `fn`, retrying on a resource error (a client's retry loop: the fault injector fails
 * one call, the next one succeeds), at most `attempts` times; other errors propagate.
 */
export async function retryDropped<T>(fn: () => Promise<T>, attempts = 4): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (e) {
      if (i >= attempts || clientAction(e) !== 'drop') throw e;
    }
  }
}
