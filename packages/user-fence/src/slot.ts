/**
 * A 64-bit seqno location inside an `IosysMap`: validated once, then read and written
 * with `Atomics` on a `BigUint64Array` over the map's buffer (tear-free against another
 * agent writing a `SharedArrayBuffer`, and no per-access bounds checks on the hot path).
 */
import { DepError, IosysMap } from '@dep/kernel';

/** One `BigUint64Array` per buffer, shared by every slot over it. */
const views = new WeakMap<ArrayBuffer | SharedArrayBuffer, BigUint64Array>();

/** @internal The whole-buffer `BigUint64Array` of `buffer` (made once). */
export function u64View(buffer: ArrayBuffer | SharedArrayBuffer): BigUint64Array {
  let v = views.get(buffer);
  if (v === undefined) {
    v = new BigUint64Array(buffer, 0, Math.floor(buffer.byteLength / 8));
    views.set(buffer, v);
  }
  return v;
}

/** @internal A validated seqno location. */
export interface Slot {
  readonly map: IosysMap;
  /** Offset inside `map` (as the caller gave it). */
  readonly offset: number;
  /** Index of the u64 in {@link Slot.view}. */
  readonly index: number;
  readonly view: BigUint64Array;
}

/**
 * @internal Resolve `(map, offset)` to a u64 slot or throw: EINVAL for a non-map, a
 * non-integer or misaligned offset (64-bit atomics need natural alignment), EFAULT for a
 * location outside the view, EACCES when `writable` is asked of a read-only view.
 */
export function resolveSlot(map: unknown, offset: unknown, who: string, writable: boolean): Slot {
  if (!(map instanceof IosysMap)) {
    throw new DepError('EINVAL', `${who}: pass an IosysMap (new IosysMap(buffer, { offset, length })) viewing the seqno memory`);
  }
  if (typeof offset !== 'number' || !Number.isInteger(offset)) {
    throw new DepError('EINVAL', `${who}: offset ${String(offset)} must be an integer byte offset into the map`);
  }
  if (offset < 0 || offset + 8 > map.length) {
    throw new DepError('EFAULT', `${who}: the 8-byte seqno at offset ${offset} is outside the ${map.length}-byte map; pass an offset in 0…${map.length - 8}`);
  }
  const at = map.offset + offset;
  if (at % 8 !== 0) {
    throw new DepError('EINVAL', `${who}: the seqno at buffer offset ${at} is not 8-byte aligned; a 64-bit seqno needs natural alignment (a single, untorn store)`);
  }
  if (writable && map.readonly) {
    throw new DepError('EACCES', `${who}: the map is read-only (a user view); attach through a writable (kernel or device) view of the buffer`);
  }
  return { map, offset, index: at / 8, view: u64View(map.buffer) };
}
