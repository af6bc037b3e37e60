import { DepError, type ErrnoName } from '@dep/kernel';

/**
 * Argument checks shared by every public entry point. Each throws a `DepError` naming the
 * errno and saying what was wrong and what to do; callers run them before changing any
 * state, so a failed call leaves everything as it was.
 */

/** Throw `DepError(code)` with `message`. */
export function fail(code: ErrnoName, message: string): never {
  throw new DepError(code, message);
}

function show(v: unknown): string {
  if (typeof v === 'bigint') return `${v}n`;
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'object' && v !== null) return Array.isArray(v) ? 'an array' : 'an object';
  return String(v);
}

/** An integer in [min, max]. */
export function checkInt(what: string, v: unknown, min: number, max: number = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `an integer ≥ ${min}` : `an integer in [${min}, ${max}]`;
    fail('EINVAL', `${what} is ${show(v)}; pass ${range}`);
  }
  return v;
}

/** A finite number ≥ min (durations, costs in ms). */
export function checkNumber(what: string, v: unknown, min = 0): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min) {
    fail('EINVAL', `${what} is ${show(v)}; pass a finite number ≥ ${min}`);
  }
  return v;
}

/** A finite number ≥ min, or `Infinity` (timeouts). */
export function checkTimeout(what: string, v: unknown, min = 0): number {
  if (v === Infinity) return v;
  return checkNumber(what, v, min);
}

/** Power of two in [min, max]. */
export function checkPow2(what: string, v: unknown, min: number, max: number): number {
  checkInt(what, v, min, max);
  const n = v as number;
  if ((n & (n - 1)) !== 0) fail('EINVAL', `${what} is ${n}; pass a power of two in [${min}, ${max}] (ring pointers wrap by masking)`);
  return n;
}

const U64_MAX = (1n << 64n) - 1n;

/** An unsigned 64-bit value as a bigint. */
export function checkU64(what: string, v: unknown): bigint {
  if (typeof v !== 'bigint' || v < 0n || v > U64_MAX) {
    fail('EINVAL', `${what} is ${show(v)}; pass a bigint in [0n, 2n ** 64n - 1n] (seqnos are 64-bit)`);
  }
  return v;
}

/** A device address: a non-negative safe integer aligned to `align` bytes. */
export function checkAddr(what: string, v: unknown, align = 8): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
    fail('EINVAL', `${what} is ${show(v)}; pass a device address (a non-negative safe integer, e.g. buffer.addr + offset)`);
  }
  if (v % align !== 0) fail('EINVAL', `${what} 0x${v.toString(16)} is not ${align}-byte aligned; 64-bit writes and waits need ${align}-byte aligned addresses`);
  return v;
}

/** One of the listed string values. */
export function checkOneOf<T extends string>(what: string, v: unknown, values: readonly T[]): T {
  if (typeof v !== 'string' || !(values as readonly string[]).includes(v)) {
    fail('EINVAL', `${what} is ${show(v)}; pass one of ${values.map((x) => `'${x}'`).join(', ')}`);
  }
  return v as T;
}

/** A plain options object (or undefined → `{}`). */
export function checkOptions<T extends object>(what: string, v: T | undefined): T {
  if (v === undefined) return {} as T;
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail('EINVAL', `${what} must be an options object, got ${show(v)}`);
  return v;
}

/** A non-empty string. */
export function checkName(what: string, v: unknown): string {
  if (typeof v !== 'string' || v.length === 0) fail('EINVAL', `${what} is ${show(v)}; pass a non-empty string`);
  return v;
}
