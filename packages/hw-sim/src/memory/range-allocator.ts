import { checkInt, checkPow2, fail } from '../validate.js';

/** One allocated range, in bytes from the start of the managed space. */
export interface AllocatedRange {
  readonly offset: number;
  readonly size: number;
}

interface Hole {
  offset: number;
  size: number;
}

/**
 * A first-fit range allocator with coalescing (the shape of `drm_mm` in its simplest
 * mode): holes kept sorted by offset; an allocation takes the lowest hole that fits with
 * the requested alignment; a free merges with both neighbours. O(holes) per call, which is
 * fine for the few hundred buffers a simulation holds. (ADR 0101 says why not buddy.)
 */
export class RangeAllocator {
  readonly size: number;
  #holes: Hole[];
  #used = 0;
  #count = 0;

  constructor(size: number) {
    checkInt('allocator size', size, 1);
    this.size = size;
    this.#holes = [{ offset: 0, size }];
  }

  /** Bytes allocated. */
  get used(): number {
    return this.#used;
  }

  /** Bytes free (maybe fragmented). */
  get free(): number {
    return this.size - this.#used;
  }

  /** Number of live allocations. */
  get count(): number {
    return this.#count;
  }

  /** Size of the largest hole: the biggest allocation (alignment 1) that would succeed. */
  get largestHole(): number {
    let m = 0;
    for (const h of this.#holes) if (h.size > m) m = h.size;
    return m;
  }

  /**
   * Allocate `size` bytes aligned to `align` (a power of two). Returns `null` when no hole
   * fits (the caller decides between eviction and ENOSPC). EINVAL for bad arguments.
   */
  alloc(size: number, align = 1): AllocatedRange | null {
    checkInt('allocation size', size, 1);
    checkPow2('allocation alignment', align, 1, 2 ** 30);
    const holes = this.#holes;
    for (let i = 0; i < holes.length; i++) {
      const h = holes[i]!;
      const start = Math.ceil(h.offset / align) * align;
      const pad = start - h.offset;
      if (pad + size > h.size) continue;
      const tail = h.size - pad - size;
      // Replace the hole by what is left on each side of the allocation.
      const left: Hole[] = pad > 0 ? [{ offset: h.offset, size: pad }] : [];
      const right: Hole[] = tail > 0 ? [{ offset: start + size, size: tail }] : [];
      holes.splice(i, 1, ...left, ...right);
      this.#used += size;
      this.#count++;
      return { offset: start, size };
    }
    return null;
  }

  /** Give a range back. EINVAL if it is not exactly a live allocation's range. */
  release(range: AllocatedRange): void {
    const { offset, size } = range;
    const holes = this.#holes;
    // Find the first hole after the range; the range must sit strictly between holes.
    let i = 0;
    while (i < holes.length && holes[i]!.offset < offset) i++;
    const prev = i > 0 ? holes[i - 1]! : null;
    const next = i < holes.length ? holes[i]! : null;
    if (offset < 0 || size <= 0 || offset + size > this.size || (prev !== null && prev.offset + prev.size > offset) || (next !== null && offset + size > next.offset)) {
      fail('EINVAL', `range [${offset}, ${offset + size}) is not allocated; release only ranges returned by alloc(), once`);
    }
    const joinPrev = prev !== null && prev.offset + prev.size === offset;
    const joinNext = next !== null && offset + size === next.offset;
    if (joinPrev && joinNext) {
      prev.size += size + next.size;
      holes.splice(i, 1);
    } else if (joinPrev) {
      prev.size += size;
    } else if (joinNext) {
      next.offset = offset;
      next.size += size;
    } else {
      holes.splice(i, 0, { offset, size });
    }
    this.#used -= size;
    this.#count--;
  }

  /** The holes, lowest offset first (for tests and diagnostics). */
  holes(): readonly AllocatedRange[] {
    return this.#holes.map((h) => ({ offset: h.offset, size: h.size }));
  }
}
