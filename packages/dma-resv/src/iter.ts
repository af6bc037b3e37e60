import type { DmaFence, Fence } from '@dep/dma-fence';
import type { ResvList } from './list.js';
import type { DmaResv } from './resv.js';
import { DepError } from '@dep/kernel';
import { DmaResvUsage, checkUsage } from './usage.js';

const PREEMPT = DmaResvUsage.PREEMPT;
const BOOKKEEP = DmaResvUsage.BOOKKEEP;

/**
 * `struct dma_resv_iter`: a cursor over the fences of one {@link DmaResv} whose usage is at
 * most {@link DmaResvIter.ceiling} (`dma_resv_iter_begin(&cursor, obj, usage)` is
 * {@link DmaResv.iterBegin}). PREEMPT fences come **last**: the cursor walks the list once
 * for the other usages, then (when the ceiling is PREEMPT) once more for the PREEMPT ones.
 *
 * Two ways to walk, as in the kernel:
 *
 * - **locked** ({@link DmaResvIter.first} / {@link DmaResvIter.next}, or
 *   {@link DmaResvIter.locked} as `for…of`): the resv must be held (lockdep assertion);
 *   every entry is returned, **signalled ones included**; no references are taken.
 * - **unlocked** ({@link DmaResvIter.firstUnlocked} / {@link DmaResvIter.nextUnlocked}, or
 *   {@link DmaResvIter.unlocked}): no lock needed; **signalled fences are skipped**; the
 *   cursor holds a reference on the current fence (dropped by the next step or by
 *   {@link DmaResvIter.end}); when the resv's fence list was **replaced** underneath
 *   (reallocated by `reserveFences`, `copyFences`, `fini`) the walk **restarts** from the
 *   beginning and {@link DmaResvIter.isRestarted} is true on the first fence after each
 *   (re)start: anything accumulated so far must be thrown away.
 */
export class DmaResvIter {
  /** The reservation object walked (`cursor->obj`). */
  readonly resv: DmaResv;
  /** The usage asked for (`cursor->usage`): fences of this usage and lower are returned. */
  readonly ceiling: DmaResvUsage;
  #fence: DmaFence | null = null;
  #fenceUsage: DmaResvUsage = DmaResvUsage.KERNEL;
  /** `cursor->fences`: the list being walked (null: none yet, or the resv has none). */
  #list: ResvList | null = null;
  #index = 0;
  /** `cursor->num_fences`: entries of the list at the last (re)start (unlocked walks). */
  #num = 0;
  /** 0: the non-PREEMPT entries up to the ceiling; 1: the PREEMPT entries. */
  #phase: 0 | 1 = 0;
  readonly #firstPhase: 0 | 1;
  /** Highest usage matched in phase 0 (the ceiling, capped at BOOKKEEP). */
  readonly #max0: DmaResvUsage;
  /** Whether phase 1 runs at all. */
  readonly #wantPreempt: boolean;
  #isRestarted = false;
  /** True while `#fence` is a reference this cursor holds (unlocked walks). */
  #holding = false;
  #started = false;
  /** lockdep is on: the locked walk asserts the lock (skipped with checks `off`, as lockdep is). */
  readonly #checked: boolean;

  /**
   * Use {@link DmaResv.iterBegin} (which also validates). `onlyPreempt` walks the PREEMPT
   * entries only (what `waitTimeout(PREEMPT)` does after draining the others).
   */
  constructor(resv: DmaResv, ceiling: DmaResvUsage, onlyPreempt = false) {
    if (typeof resv !== 'object' || resv === null || !('_list' in resv)) {
      throw new DepError('EINVAL', 'new DmaResvIter(resv, usage): pass a DmaResv (or call resv.iterBegin(usage))');
    }
    checkUsage(ceiling, 'dma_resv_iter_begin');
    this.resv = resv;
    this.ceiling = ceiling;
    this.#firstPhase = onlyPreempt ? 1 : 0;
    this.#max0 = ceiling > BOOKKEEP ? BOOKKEEP : ceiling;
    this.#wantPreempt = onlyPreempt || ceiling === PREEMPT;
    this.#checked = resv.runtime.lockdep.enabled;
  }

  /** The current fence (`cursor->fence` for unlocked walks), or null. */
  get fence(): Fence | null {
    return this.#fence;
  }

  /** `dma_resv_iter_usage(cursor)`: the usage of the current fence. */
  get usage(): DmaResvUsage {
    return this.#fenceUsage;
  }

  /** `dma_resv_iter_is_restarted(cursor)`: true on the first fence after each (re)start. */
  get isRestarted(): boolean {
    return this.#isRestarted;
  }

  /** @internal `cursor->num_fences`: entries of the list at the last unlocked (re)start. */
  get numFences(): number {
    return this.#num;
  }

  // --- locked --------------------------------------------------------------------------

  /**
   * `dma_resv_iter_first(cursor)`: the first fence (signalled ones included, no reference
   * taken), or null. The resv must be held (lockdep assertion, as the kernel's).
   */
  first(): Fence | null {
    if (this.#checked) this.resv._assertHeldFor('dma_resv_iter_first');
    this.#drop();
    this.#index = 0;
    this.#phase = this.#firstPhase;
    this.#list = this.resv._list;
    const f = this.#nextLocked();
    this.#isRestarted = true;
    return f;
  }

  /** `dma_resv_iter_next(cursor)`: the next fence, or null. The resv must be held. */
  next(): Fence | null {
    if (this.#checked) this.resv._assertHeldFor('dma_resv_iter_next');
    this.#isRestarted = false;
    return this.#nextLocked();
  }

  #nextLocked(): DmaFence | null {
    const list = this.#list;
    if (list === null) return (this.#fence = null);
    const fences = list.fences;
    const usages = list.usages;
    let i = this.#index;
    if (this.#phase === 0) {
      const max = this.#max0;
      for (const n = fences.length; i < n; i++) {
        const u = usages[i]!;
        if (u <= max) {
          this.#index = i + 1;
          this.#fenceUsage = u;
          return (this.#fence = fences[i]!);
        }
      }
      if (!this.#wantPreempt || !list.hasPreempt) {
        this.#index = i;
        return (this.#fence = null);
      }
      this.#phase = 1;
      i = 0;
    }
    for (const n = fences.length; i < n; i++) {
      if (usages[i] === PREEMPT) {
        this.#index = i + 1;
        this.#fenceUsage = PREEMPT;
        return (this.#fence = fences[i]!);
      }
    }
    this.#index = i;
    return (this.#fence = null);
  }

  /**
   * `dma_resv_for_each_fence(cursor, obj, usage, fence)`: the locked walk as an iterable.
   * The resv must stay held for the whole loop.
   */
  *locked(): Generator<Fence, void, undefined> {
    for (let f = this.first(); f !== null; f = this.next()) yield f;
  }

  // --- unlocked ------------------------------------------------------------------------

  /**
   * `dma_resv_iter_first_unlocked(cursor)`: (re)start and return the first unsignalled
   * fence, holding a reference on it, or null.
   */
  firstUnlocked(): Fence | null {
    this.#started = false;
    return this.nextUnlocked();
  }

  /**
   * `dma_resv_iter_next_unlocked(cursor)`: drop the reference on the current fence and
   * return the next unsignalled one (referenced), or null. Restarts from the beginning
   * (setting {@link DmaResvIter.isRestarted}) when the resv's list was replaced since the last step.
   */
  nextUnlocked(): Fence | null {
    this.#isRestarted = false;
    let restart = !this.#started || this.resv._list !== this.#list;
    do {
      if (restart) this.#restartUnlocked();
      this.#walkUnlocked();
      restart = true;
    } while (this.resv._list !== this.#list);
    return this.#fence;
  }

  /** `dma_resv_iter_restart_unlocked()`. */
  #restartUnlocked(): void {
    this.#started = true;
    this.#index = 0;
    this.#phase = this.#firstPhase;
    const list = this.resv._list;
    this.#list = list;
    this.#num = list === null ? 0 : list.fences.length;
    this.#isRestarted = true;
  }

  /** `dma_resv_iter_walk_unlocked()`: to the next unsignalled matching fence, referenced. */
  #walkUnlocked(): void {
    this.#drop();
    const list = this.#list;
    if (list === null) return;
    const fences = list.fences;
    const usages = list.usages;
    for (;;) {
      if (this.#index >= this.#num) {
        if (this.#phase === 0 && this.#wantPreempt && list.hasPreempt) {
          this.#phase = 1;
          this.#index = 0;
          continue;
        }
        return;
      }
      const i = this.#index++;
      const u = usages[i]!;
      if (this.#phase === 0 ? u > this.#max0 : u !== PREEMPT) continue;
      const f = fences[i]!;
      if (f.isSignaled()) continue;
      this.#fence = f.get();
      this.#fenceUsage = u;
      this.#holding = true;
      return;
    }
  }

  /**
   * `dma_resv_for_each_fence_unlocked(cursor, fence)` as an iterable; the cursor is ended
   * ({@link DmaResvIter.end}) when the loop finishes or breaks. Read {@link DmaResvIter.isRestarted} and
   * {@link DmaResvIter.usage} on the cursor inside the loop.
   */
  *unlocked(): Generator<Fence, void, undefined> {
    try {
      for (let f = this.firstUnlocked(); f !== null; f = this.nextUnlocked()) yield f;
    } finally {
      this.end();
    }
  }

  /** `dma_resv_iter_end(cursor)`: drop the reference an unlocked walk holds. Idempotent. */
  end(): void {
    this.#drop();
  }

  #drop(): void {
    const f = this.#fence;
    this.#fence = null;
    if (f !== null && this.#holding) {
      this.#holding = false;
      f.put();
    }
  }
}
