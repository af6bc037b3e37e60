/**
 * dma-fence → memory: `dma_fence_user_fence` of the Xe UMD-submission RFC (patch 02,
 * rfc-designs C.1), which Christian König suggested calling "dma_fence_seq_write".
 */
import { DepError, GFP_KERNEL, getDefaultRuntime, type Runtime } from '@dep/kernel';
import { DmaFence, U64_MAX, type Fence } from '@dep/dma-fence';
import { resolveSlot, type Slot } from './slot.js';
import type { IosysMap } from '@dep/kernel';

/**
 * How a {@link UserFence} writes its value:
 * - `'store'` — the RFC's plain 64-bit store. If two user fences aimed at one location
 *   signal out of order, the value moves **backwards** (the RFC leaves ordering to the
 *   caller: attach in timeline order).
 * - `'max'` — a monotonic max (compare-and-exchange loop): the location only grows, so an
 *   out-of-order signal cannot undo a later point.
 */
export type UserFenceWriteMode = 'store' | 'max';

/** Options of {@link UserFence.attach}. */
export interface UserFenceAttachOptions {
  /** Byte offset of the 64-bit location inside the map (8-byte aligned in the buffer). Default 0. */
  readonly offset?: number;
  /** Default `'store'` (the RFC's). */
  readonly mode?: UserFenceWriteMode;
}

/** Where a {@link UserFence} is in its life. */
export type UserFenceState = 'allocated' | 'attached' | 'written' | 'freed';

const ALLOCATED = 0;
const ATTACHED = 1;
const WRITTEN = 2;
const FREED = 3;
const STATES: readonly UserFenceState[] = ['allocated', 'attached', 'written', 'freed'];

declare module '@dep/kernel' {
  interface TraceEventMap {
    /** A user fence wrote its value (`skipped`: `'max'` mode found a value at least as large). */
    'user_fence:write': { value: bigint; mode: UserFenceWriteMode; skipped: boolean };
  }
}

let construct = false;
let lastMap: IosysMap | null = null;
let lastOffset = -1;
/** `map.offset` when cached: `incr()` moves a map's start. */
let lastStart = -1;
let lastSlot: Slot | null = null;
let writeOf: (uf: UserFence) => void;

/** The fence callback: `(fence, arg)` with the user fence as `arg`, no closure. */
function writeOnSignal(_fence: Fence, uf: UserFence): void {
  writeOf(uf);
}

/**
 * `struct dma_fence_user_fence`: when a dma-fence signals, write a 64-bit seqno into memory
 * (a location in an `IosysMap`), so a user-mode ring can wait on an imported fence with a
 * GPU semaphore instruction instead of a CPU thread blocking on the dma-fence.
 *
 * Allocation is split from {@link UserFence.attach} (`alloc` may fail with ENOMEM;
 * `attach` cannot fail at run time), because attach happens after the point of no return
 * of a submission. `attach` still rejects bad *input* (a contract violation) with
 * `DepError` before changing anything.
 *
 * The write is a single untorn 64-bit store (`Atomics.store`, or a compare-and-exchange
 * loop in `'max'` mode) made in the fence's callback, i.e. after the fence's completion is
 * visible; if the fence has already signalled, `attach` writes at once. The fence's error
 * is lost: only the number is written (rfc-designs C.4).
 *
 * Caller contract (not checkable here): the memory must not move before the fence signals
 * — put the fence in the BOOKKEEP slot of the BO holding the location.
 */
export class UserFence {
  /** The runtime it allocated from. */
  readonly runtime: Runtime;
  #state = ALLOCATED;
  #view: BigUint64Array | null = null;
  #index = 0;
  #value = 0n;
  #mode: UserFenceWriteMode = 'store';

  static {
    writeOf = (uf) => { uf.#write(); };
  }

  /** @internal Use {@link UserFence.alloc}. */
  constructor(runtime: Runtime) {
    if (!construct) throw new DepError('EINVAL', 'new UserFence(): allocate one with UserFence.alloc(runtime)');
    this.runtime = runtime;
  }

  /**
   * `dma_fence_user_fence_alloc()`: allocate an unattached user fence. Allocates
   * (`GFP_KERNEL`, site `dma_fence_user_fence_alloc`): `DepError('ENOMEM')` when the
   * runtime's fault injection fails it — do this before the point of no return.
   */
  static alloc(runtime: Runtime = getDefaultRuntime()): UserFence {
    runtime.alloc(GFP_KERNEL, 'dma_fence_user_fence_alloc');
    construct = true;
    const uf = new UserFence(runtime);
    construct = false;
    return uf;
  }

  /** `allocated` → `attached` → `written`; or `allocated` → `freed`. */
  get state(): UserFenceState {
    return STATES[this.#state]!;
  }

  /** The value it writes (0n until attached). */
  get value(): bigint {
    return this.#value;
  }

  /**
   * `dma_fence_user_fence_free()`: free a user fence that was never attached (an attached
   * one frees itself after its write). EBUSY if attached or written, EINVAL if freed twice.
   */
  free(): void {
    if (this.#state === ATTACHED || this.#state === WRITTEN) {
      throw new DepError('EBUSY', `dma_fence_user_fence_free: the user fence is ${this.state}; only a never-attached one is freed by its owner (an attached one is released after its write)`);
    }
    if (this.#state === FREED) throw new DepError('EINVAL', 'dma_fence_user_fence_free: the user fence was already freed');
    this.#state = FREED;
  }

  /**
   * `dma_fence_user_fence_attach(fence, uf, map, seqno)`: when `fence` signals, write
   * `seqno` at `options.offset` of `map` (mode `'store'` or `'max'`). If `fence` has already
   * signalled the write happens now, synchronously. Never fails at run time; bad input is a
   * `DepError` and changes nothing: EINVAL (not a fence, an INACTIVE fence, a bad seqno or
   * offset, a misaligned location, a user fence not in state `allocated`), EFAULT (outside
   * the map), EACCES (a read-only map).
   */
  attach(fence: Fence, map: IosysMap, seqno: bigint, options?: UserFenceAttachOptions): void {
    const who = 'dma_fence_user_fence_attach';
    if (this.#state !== ALLOCATED) {
      throw new DepError('EINVAL', `${who}: the user fence is ${this.state}; allocate a new one (UserFence.alloc) for every attach`);
    }
    if (!(fence instanceof DmaFence)) throw new DepError('EINVAL', `${who}: pass the dma-fence whose signal triggers the write`);
    if (fence.inactive) throw new DepError('EINVAL', `${who}: the fence is INACTIVE (armed, not pushed); attach after its issuer pushed it`);
    if (typeof seqno !== 'bigint' || (this.runtime.checks !== 'off' && (seqno < 0n || seqno > U64_MAX))) {
      throw new DepError('EINVAL', `${who}: seqno must be a u64 bigint (0n…2n**64n-1n), got ${typeof seqno === 'bigint' ? `${seqno}n` : typeof seqno}`);
    }
    let offset = 0;
    let mode: UserFenceWriteMode = 'store';
    if (options !== undefined) {
      offset = options.offset ?? 0;
      mode = options.mode ?? 'store';
      if (mode !== 'store' && mode !== 'max') throw new DepError('EINVAL', `${who}: mode must be 'store' or 'max', got ${String(mode)}`);
    }
    // The same location as last time (a queue's slot, attached to again and again): reuse it.
    const slot = map === lastMap && offset === lastOffset && map.offset === lastStart ? lastSlot! : resolveSlot(map, offset, who, true);
    lastMap = map;
    lastOffset = offset;
    lastStart = map.offset;
    lastSlot = slot;
    this.#view = slot.view;
    this.#index = slot.index;
    this.#value = seqno;
    this.#mode = mode;
    this.#state = ATTACHED;
    if (fence.testSignaledFlag() || !fence.addCallback(writeOnSignal, this)) this.#write();
  }

  #write(): void {
    const view = this.#view!;
    const i = this.#index;
    const v = this.#value;
    let skipped = false;
    if (this.#mode === 'store') {
      Atomics.store(view, i, v);
    } else {
      let cur = Atomics.load(view, i);
      while (cur < v) {
        const prev = Atomics.compareExchange(view, i, cur, v);
        if (prev === cur) break;
        cur = prev;
      }
      skipped = cur >= v;
    }
    this.#state = WRITTEN;
    this.#view = null;
    const rt = this.runtime;
    if (rt.trace.enabled) rt.trace.emit('user_fence:write', { value: v, mode: this.#mode, skipped });
  }
}
