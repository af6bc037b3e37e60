import { DepError } from '@dep/kernel';

/** Largest u64 value. */
export const U64_MAX = 0xffff_ffff_ffff_ffffn;

/**
 * `__dma_fence_is_later(fence, s1, s2)` without the fence: true if seqno `s1` is later
 * than `s2`.
 *
 * - `seqno64`: a plain u64 compare, `s1 > s2` (fences made by `init64`, chain nodes).
 * - otherwise (fences made by `init`): the low 32 bits are subtracted and the difference
 *   is read as a signed 32-bit number, so the order wraps: a difference of 2^31 or more
 *   flips it, and the high 32 bits are ignored.
 */
export function seqnoIsLater(s1: bigint, s2: bigint, seqno64: boolean): boolean {
  if (seqno64) return s1 > s2;
  return BigInt.asIntN(32, s1 - s2) > 0n;
}

/** True for a bigint in the u64 range. */
export function isU64(v: unknown): v is bigint {
  return typeof v === 'bigint' && v >= 0n && v <= U64_MAX;
}

/** Throws EINVAL unless `v` is a u64 bigint. */
export function checkU64(v: unknown, what: string, who: string): asserts v is bigint {
  if (!isU64(v)) {
    const got = typeof v === 'bigint' ? `${v}n` : `${typeof v} ${String(v)}`;
    throw new DepError('EINVAL', `${who}: ${what} must be a bigint in 0n…2n**64n-1n (u64), got ${got}; pass e.g. ${what === 'context' ? 'contextAlloc(1)' : '1n'}`);
  }
}
