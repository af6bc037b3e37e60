import { IosysMap } from '@dep/kernel';
import { checkOptions, fail } from '../validate.js';
import type { DeviceMemory, RegionKind } from './device-memory.js';
import type { AllocatedRange } from './range-allocator.js';

/**
 * A buffer in device or system memory: an address range of the device's address space
 * with a backing store (allocated on first access, so large simulated buffers that are
 * never touched cost nothing). CPU access goes through {@link HwBuffer.read64}/{@link HwBuffer.write64} and
 * friends, which the device's memory controller sees (semaphore waits on the address
 * re-evaluate), or through an `IosysMap` from {@link HwBuffer.map} (the kernel's `iosys_map`: I/O
 * memory for `vram`, system memory otherwise); after writing through a map, call
 * `memory.notifyWrite(addr)` if a semaphore might wait on what was written.
 */
export class HwBuffer {
  /** Device address of byte 0. */
  readonly addr: number;
  readonly size: number;
  readonly region: RegionKind;
  readonly name: string;
  /** @internal The allocator range. */
  readonly range: AllocatedRange;
  readonly #memory: DeviceMemory;
  #backing: DataView | null = null;
  #freed = false;

  /** Made by {@link DeviceMemory}. (Not for drivers.) */
  constructor(memory: DeviceMemory, region: RegionKind, addr: number, range: AllocatedRange, name: string) {
    this.#memory = memory;
    this.region = region;
    this.addr = addr;
    this.size = range.size;
    this.range = range;
    this.name = name;
  }

  /** True once {@link HwBuffer.free} ran. */
  get freed(): boolean {
    return this.#freed;
  }

  /** True once the backing store exists (first access). */
  get populated(): boolean {
    return this.#backing !== null;
  }

  /**
   * An `IosysMap` over the backing store (`vaddr_iomem` for `vram`, `vaddr` for `system`);
   * `readonly` maps refuse writes (EACCES). EFAULT after {@link HwBuffer.free}.
   */
  map(options: { readonly readonly?: boolean } = {}): IosysMap {
    checkOptions('map options', options);
    const v = this.view();
    return new IosysMap(v.buffer, { isIomem: this.region === 'vram', readonly: options.readonly === true });
  }

  /** @internal The backing store as a `DataView` (what the device's accesses use). EFAULT after free. */
  view(): DataView {
    if (this.#freed) fail('EFAULT', `buffer ${this.name} at 0x${this.addr.toString(16)} was freed; map a live buffer`);
    if (this.#backing === null) {
      const ab = this.#memory.shared ? new SharedArrayBuffer(this.size) : new ArrayBuffer(this.size);
      this.#backing = new DataView(ab);
    }
    return this.#backing;
  }

  /** The backing store as bytes. EFAULT after {@link HwBuffer.free}. */
  bytes(): Uint8Array {
    const v = this.view();
    return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  }

  /** Read an unsigned 64-bit little-endian value at byte `offset`. */
  read64(offset: number): bigint {
    return this.#memory.read64(this.#at(offset, 8));
  }

  /** Write an unsigned 64-bit little-endian value at byte `offset` (the device sees it). */
  write64(offset: number, value: bigint): void {
    this.#memory.write64(this.#at(offset, 8), value);
  }

  /** Read an unsigned 32-bit little-endian value at byte `offset`. */
  read32(offset: number): number {
    return this.#memory.read32(this.#at(offset, 4));
  }

  /** Write an unsigned 32-bit little-endian value at byte `offset` (the device sees it). */
  write32(offset: number, value: number): void {
    this.#memory.write32(this.#at(offset, 4), value);
  }

  /** Give the range back to its region. EINVAL on a second free. */
  free(): void {
    if (this.#freed) fail('EINVAL', `buffer ${this.name} at 0x${this.addr.toString(16)} was already freed; free each buffer once`);
    this.#memory.release(this);
    this.#freed = true;
    this.#backing = null;
  }

  #at(offset: number, len: number): number {
    if (!Number.isInteger(offset) || offset < 0 || offset + len > this.size) {
      fail('EINVAL', `offset ${String(offset)} (+${len} bytes) is outside buffer ${this.name} of ${this.size} bytes; pass 0 ≤ offset ≤ ${this.size - len}`);
    }
    return this.addr + offset;
  }

  toString(): string {
    return `${this.name}@0x${this.addr.toString(16)}+${this.size}`;
  }
}
