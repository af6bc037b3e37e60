/**
 * The seq64 area (amdgpu `amdgpu_seq64.c`, rfc-designs C.3): a region of 64-bit slots,
 * one per user queue, written by the device (or the kernel) and mapped **read-only** into
 * every VM, so queues see each other's progress without writable shared memory.
 */
import { DepError, GFP_KERNEL, IosysMap, getDefaultRuntime, type Runtime } from '@dep/kernel';

/** Options of a {@link Seq64Area}. */
export interface Seq64AreaOptions {
  /** Default `getDefaultRuntime()` (its allocation hook is used once, at creation). */
  readonly runtime?: Runtime;
  /** Number of 64-bit slots (1…65536). Default 64. */
  readonly slots?: number;
  /**
   * Back it with a `SharedArrayBuffer` (so another thread — a worker-thread user-mode
   * driver — can write and wait on it). Default: true where `SharedArrayBuffer` exists.
   */
  readonly shared?: boolean;
}

/** One allocated slot. */
export interface Seq64Slot {
  /** Slot number. */
  readonly index: number;
  /** Byte offset of the value in the area (the slot's address relative to the area's base, as the GPU VA is). */
  readonly offset: number;
  /** The 8-byte value, writable: what the device (or kernel) writes through. */
  readonly device: IosysMap;
  /** The 8-byte value, read-only: the user's mapping (writes are EACCES). */
  readonly user: IosysMap;
  /**
   * Byte offset in {@link Seq64Area.buffer} of this slot's 32-bit waiter count (kernel
   * private, outside the user view), for `MemoryFenceDriver`'s `atomics.waitersOffset`.
   */
  readonly waitersOffset: number;
}

const MAX_SLOTS = 65536;

/**
 * An allocator of 64-bit slots (`amdgpu_seq64_alloc` / `amdgpu_seq64_free`). Layout of
 * {@link Seq64Area.buffer}: `slots × 8` bytes of values (what {@link Seq64Area.user} maps,
 * read-only), then `slots × 4` bytes of waiter counts (kernel private). A new slot reads 0.
 */
export class Seq64Area {
  /** The runtime it belongs to. */
  readonly runtime: Runtime;
  /** Number of slots. */
  readonly slots: number;
  /** The memory: values, then waiter counts (see the class comment). */
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
  /** Every slot, read-only: the mapping each VM gets (`amdgpu_seq64_map`). */
  readonly user: IosysMap;
  /** Every slot, writable: the device's / kernel's view. */
  readonly device: IosysMap;
  /** `bitmap` of used slots. */
  readonly #used: Uint8Array;
  #count = 0;
  #next = 0;

  /** EINVAL for a bad slot count, or `shared` where there is no SharedArrayBuffer. Allocates (ENOMEM under fault injection). */
  constructor(options: Seq64AreaOptions = {}) {
    const slots = options.slots ?? 64;
    if (!Number.isInteger(slots) || slots < 1 || slots > MAX_SLOTS) {
      throw new DepError('EINVAL', `new Seq64Area: slots must be an integer 1…${MAX_SLOTS}, got ${String(slots)}`);
    }
    const haveSab = typeof SharedArrayBuffer === 'function';
    const shared = options.shared ?? haveSab;
    if (typeof shared !== 'boolean') throw new DepError('EINVAL', 'new Seq64Area: shared must be a boolean');
    if (shared && !haveSab) {
      throw new DepError('EINVAL', 'new Seq64Area: shared: true needs SharedArrayBuffer (in a browser: a cross-origin isolated page)');
    }
    const rt = options.runtime ?? getDefaultRuntime();
    rt.alloc(GFP_KERNEL, 'amdgpu_seq64_init');
    const bytes = slots * 12 + ((slots * 12) % 8 === 0 ? 0 : 4);
    this.runtime = rt;
    this.slots = slots;
    this.buffer = shared ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes);
    this.user = new IosysMap(this.buffer, { offset: 0, length: slots * 8, readonly: true });
    this.device = new IosysMap(this.buffer, { offset: 0, length: slots * 8 });
    this.#used = new Uint8Array(slots);
  }

  /** Slots in use. */
  get used(): number {
    return this.#count;
  }

  /**
   * `amdgpu_seq64_alloc`: a free slot, zeroed. ENOSPC when every slot is in use (free one
   * first). Any context (no allocation: the area is preallocated).
   */
  alloc(): Seq64Slot {
    if (this.#count === this.slots) {
      throw new DepError('ENOSPC', `seq64: all ${this.slots} slots are in use; free a slot (or make a larger area)`);
    }
    const used = this.#used;
    let i = this.#next;
    while (used[i] !== 0) i = (i + 1) % this.slots;
    used[i] = 1;
    this.#count++;
    this.#next = (i + 1) % this.slots;
    const offset = i * 8;
    this.device.store64(offset, 0n);
    const waitersOffset = this.slots * 8 + i * 4;
    new Int32Array(this.buffer, waitersOffset, 1)[0] = 0;
    return Object.freeze({
      index: i,
      offset,
      device: this.device.sub(offset, 8),
      user: this.user.sub(offset, 8),
      waitersOffset,
    });
  }

  /** `amdgpu_seq64_free`: give a slot back. EINVAL for a slot of another area or one already free. */
  free(slot: Seq64Slot): void {
    if (typeof slot !== 'object' || slot === null || slot.device?.buffer !== this.buffer || !Number.isInteger(slot.index) || slot.index < 0 || slot.index >= this.slots) {
      throw new DepError('EINVAL', 'seq64 free: pass a slot this area allocated');
    }
    if (this.#used[slot.index] === 0) throw new DepError('EINVAL', `seq64 free: slot ${slot.index} is already free`);
    this.#used[slot.index] = 0;
    this.#count--;
  }
}
