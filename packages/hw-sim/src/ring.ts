import { checkName, checkOptions, checkPow2, fail } from './validate.js';

/**
 * How a ring handles an item that would straddle the end of the buffer.
 * - `split`: the item wraps around (a GPU ring: the command streamer fetches dwords
 *   modulo the ring size, so a command may start near the end and continue at 0).
 * - `tombstone`: items are contiguous; when one does not fit before the end, a tombstone
 *   fills the rest of the ring and the item starts at 0 (the amdxdna mailbox).
 */
export type RingWrap = 'split' | 'tombstone';

/** Options of a {@link Ring}. */
export interface RingOptions<T> {
  /** Default `split`. */
  readonly wrap?: RingWrap;
  /** Slots an item takes (dwords for commands, words for messages). Default 1. */
  readonly sizeOf?: (item: T) => number;
  /** Validates an item before anything is written; throws `DepError` to refuse it. */
  readonly validate?: (item: T) => void;
  readonly name?: string;
}

const TOMBSTONE: unique symbol = Symbol('tombstone');
type Slot<T> = T | typeof TOMBSTONE | undefined;

/**
 * A ring buffer of typed items in fixed-size slots, with the kernel's circular-buffer
 * arithmetic: a power-of-two size, a producer pointer (`wptr`, the tail) and a consumer
 * pointer (`rptr`, the head), both free-running so full and empty differ, offsets are the
 * pointers masked by `size - 1`, and `space = size - (wptr - rptr)` (`CIRC_SPACE` with no
 * slot wasted). Items are objects, not encoded bytes (ADR 0102); each takes
 * `sizeOf(item)` slots, so space accounting and wrap behave as in a byte ring.
 *
 * The producer (driver) {@link Ring.write}s; the consumer (firmware/engine) {@link Ring.peek}s and
 * {@link Ring.pop}s. A write is all-or-nothing: `ENOSPC` when the items do not fit.
 */
export class Ring<T> {
  /** Size in slots (a power of two). */
  readonly size: number;
  readonly mask: number;
  readonly wrap: RingWrap;
  readonly name: string;
  readonly #sizeOf: (item: T) => number;
  readonly #validate: ((item: T) => void) | undefined;
  readonly #slots: Array<Slot<T>>;
  #rptr = 0;
  #wptr = 0;

  constructor(size: number, options: RingOptions<T> = {}) {
    checkPow2('ring size', size, 2, 2 ** 24);
    checkOptions('ring options', options);
    if (options.wrap !== undefined && options.wrap !== 'split' && options.wrap !== 'tombstone') {
      fail('EINVAL', `ring wrap ${String(options.wrap)}: pass 'split' or 'tombstone'`);
    }
    this.size = size;
    this.mask = size - 1;
    this.wrap = options.wrap ?? 'split';
    this.name = options.name === undefined ? 'ring' : checkName('ring name', options.name);
    this.#sizeOf = options.sizeOf ?? one;
    this.#validate = options.validate;
    this.#slots = new Array<Slot<T>>(size).fill(undefined);
  }

  /** Free-running read pointer (slots consumed so far). */
  get rptr(): number {
    return this.#rptr;
  }

  /** Free-running write pointer (slots produced so far). */
  get wptr(): number {
    return this.#wptr;
  }

  /** Head offset in the ring (`rptr & mask`). */
  get head(): number {
    return this.#rptr & this.mask;
  }

  /** Tail offset in the ring (`wptr & mask`). */
  get tail(): number {
    return this.#wptr & this.mask;
  }

  /** Times the write pointer wrapped past the end. */
  get wraps(): number {
    return Math.floor(this.#wptr / this.size);
  }

  /** Slots in use. */
  get used(): number {
    return this.#wptr - this.#rptr;
  }

  /** Free slots (`CIRC_SPACE`). */
  space(): number {
    return this.size - (this.#wptr - this.#rptr);
  }

  /** True when nothing is left to consume. */
  get empty(): boolean {
    return this.#rptr === this.#wptr;
  }

  /** Slots that `items` would take written now (including tombstone padding). */
  slotsFor(items: readonly T[]): number {
    let w = this.#wptr;
    for (const item of items) {
      const n = this.#sizeOf(item);
      w = this.#place(w, n) + n;
    }
    return w - this.#wptr;
  }

  /**
   * Write one item or several, all or nothing. Returns the new write pointer. `ENOSPC`
   * when they do not fit (wait for the consumer), `EINVAL` for an invalid item or one
   * larger than the ring; nothing is written in either case.
   */
  write(items: T | readonly T[]): number {
    const list: readonly T[] = Array.isArray(items) ? (items as readonly T[]) : [items as T];
    const validate = this.#validate;
    for (const item of list) {
      if (validate !== undefined) validate(item);
      const n = this.#sizeOf(item);
      if (n > this.size) fail('EINVAL', `item of ${n} slots cannot fit in ring ${this.name} of ${this.size} slots; use a bigger ring`);
    }
    const need = this.slotsFor(list);
    if (need > this.space()) {
      fail('ENOSPC', `ring ${this.name} full: ${need} slots needed, ${this.space()} of ${this.size} free (rptr ${this.#rptr}, wptr ${this.#wptr}); wait for the consumer to advance`);
    }
    const slots = this.#slots;
    for (const item of list) {
      const n = this.#sizeOf(item);
      const w = this.#place(this.#wptr, n);
      if (w !== this.#wptr) slots[this.#wptr & this.mask] = TOMBSTONE;
      slots[w & this.mask] = item;
      this.#wptr = w + n;
    }
    return this.#wptr;
  }

  /** The item at the read pointer (skipping a tombstone), or undefined when empty. */
  peek(): T | undefined {
    this.#skipTombstone();
    if (this.#rptr === this.#wptr) return undefined;
    return this.#slots[this.#rptr & this.mask] as T;
  }

  /** Consume the item at the read pointer. Returns it, or undefined when empty. */
  pop(): T | undefined {
    this.#skipTombstone();
    if (this.#rptr === this.#wptr) return undefined;
    const i = this.#rptr & this.mask;
    const item = this.#slots[i] as T;
    this.#slots[i] = undefined;
    this.#rptr += this.#sizeOf(item);
    return item;
  }

  /** Drop everything not yet consumed (a reset): rptr catches up with wptr. */
  discard(): number {
    let n = 0;
    while (this.pop() !== undefined) n++;
    return n;
  }

  /** Unconsumed items, oldest first (for diagnostics). */
  pending(): T[] {
    const out: T[] = [];
    let r = this.#rptr;
    while (r < this.#wptr) {
      const s = this.#slots[r & this.mask];
      if (s === TOMBSTONE) {
        r += this.size - (r & this.mask);
        continue;
      }
      out.push(s as T);
      r += this.#sizeOf(s as T);
    }
    return out;
  }

  #place(w: number, n: number): number {
    if (this.wrap === 'tombstone') {
      const off = w & this.mask;
      if (off + n > this.size) return w + (this.size - off);
    }
    return w;
  }

  #skipTombstone(): void {
    if (this.#rptr !== this.#wptr && this.#slots[this.#rptr & this.mask] === TOMBSTONE) {
      this.#slots[this.#rptr & this.mask] = undefined;
      this.#rptr += this.size - (this.#rptr & this.mask);
    }
  }
}

function one(): number {
  return 1;
}
