import { checkInt, fail } from '../validate.js';
import type { ColumnRange } from './types.js';

/**
 * The column allocator: hands out contiguous column ranges, lowest first (a first-fit
 * stand-in for amdxdna's QoS solver, which also picks contiguous partitions).
 */
export class ColumnAllocator {
  readonly columns: number;
  readonly #used: boolean[];

  constructor(columns: number) {
    this.columns = checkInt('columns', columns, 1, 64);
    this.#used = new Array<boolean>(columns).fill(false);
  }

  /** Columns free. */
  get free(): number {
    return this.#used.filter((u) => !u).length;
  }

  /** Allocate `count` contiguous columns. ENOSPC when no such range is free. */
  allocate(count: number): ColumnRange {
    checkInt('column count', count, 1, this.columns);
    const used = this.#used;
    for (let start = 0; start + count <= used.length; start++) {
      let ok = true;
      for (let c = start; c < start + count; c++) if (used[c]) ok = false;
      if (!ok) continue;
      for (let c = start; c < start + count; c++) used[c] = true;
      return { start, count };
    }
    fail('ENOSPC', `no ${count} contiguous free NPU columns (${this.free} of ${this.columns} free); destroy a hardware context or ask for fewer columns`);
  }

  /** Give a range back. EINVAL if any of it is not allocated. */
  release(range: ColumnRange): void {
    const { start, count } = range;
    for (let c = start; c < start + count; c++) {
      if (!this.#used[c]) fail('EINVAL', `column ${c} is not allocated; release ranges returned by allocate(), once`);
    }
    for (let c = start; c < start + count; c++) this.#used[c] = false;
  }

  /** Which columns are in use. */
  map(): readonly boolean[] {
    return [...this.#used];
  }
}
