/**
 * The contract of a benchmark case: one module under bench/cases/, default-exporting
 * `defineCase({...})`. See bench/README.md for the method.
 */
export interface BenchCase<S = undefined> {
  /** Unique within its group. */
  readonly name: string;
  /** Cases in one group are reported as ratios against the group's baseline. */
  readonly group: string;
  /** Exactly one case per group is the baseline (ratio 1.00). */
  readonly baseline?: boolean;
  /** Operations per batch (default 100 000). */
  readonly ops?: number;
  /** One-time preparation, untimed; its result is passed to batch/retain. */
  setup?(): S | Promise<S>;
  /**
   * Time mode (ns/op): do `n` operations, all of them completed before returning (or
   * before the returned promise resolves), and return how many completed — the runner
   * fails the case unless that is exactly `n`.
   */
  batch?(n: number, state: S): number | Promise<number>;
  /**
   * Retained mode (B/op): create `n` live objects and store each in `holder[i]` (the
   * holder is pre-allocated by the runner); return how many were stored (must be `n`).
   * Bytes per op are the heapUsed delta across the call, after two full GCs on each side.
   */
  retain?(n: number, holder: unknown[], state: S): number | Promise<number>;
}

export function defineCase<S = undefined>(c: BenchCase<S>): BenchCase<S> {
  return c;
}
