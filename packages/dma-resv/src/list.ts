import type { DmaFence } from '@dep/dma-fence';
import { DmaResvUsage } from './usage.js';

/**
 * `struct dma_resv_list`: the fences of a reservation object with their usages, in two
 * parallel arrays (the kernel packs the usage into the low pointer bits). `fences.length`
 * is `num_fences`; `max` is `max_fences`, the slots reserved so far (logical: a JS array
 * grows anyway, but `addFence` past `max` is the kernel's BUG).
 *
 * A list is modified in place by `addFence`/`replaceFences` and **replaced** by a new one
 * when `reserveFences` reallocates, `copyFences` copies, or `fini` tears down: that
 * replacement is what makes unlocked iterators restart (the kernel compares the list
 * pointer; {@link DmaResv.generation} counts the replacements).
 * @internal
 */
export class ResvList {
  readonly fences: DmaFence[] = [];
  readonly usages: DmaResvUsage[] = [];
  max: number;
  /** Some entry was written with usage PREEMPT (never cleared: an upper bound). */
  hasPreempt = false;

  constructor(max: number) {
    this.max = max;
  }

  /** Append (the caller checked there is room). */
  push(fence: DmaFence, usage: DmaResvUsage): void {
    this.fences.push(fence);
    this.usages.push(usage);
    if (usage === DmaResvUsage.PREEMPT) this.hasPreempt = true;
  }

  /** `dma_resv_list_free()`: put every fence. */
  free(): void {
    const fences = this.fences;
    for (let i = 0; i < fences.length; i++) fences[i]!.put();
  }
}

/** `roundup_pow_of_two(n)` for n ≥ 1. @internal */
export function roundupPow2(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}
