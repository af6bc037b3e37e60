import type { HwBuffer } from './buffer.js';
import { RangeAllocator } from './range-allocator.js';

/**
 * A memory region: a contiguous range of the device's address space with its own
 * allocator (`vram`: device-local memory; `system`: host memory the device reaches, the
 * GTT). Live buffers are kept sorted by address so an address resolves by binary search.
 */
export class MemoryRegion {
  readonly name: string;
  /** First device address of the region. */
  readonly base: number;
  readonly size: number;
  readonly allocator: RangeAllocator;
  /** @internal Live buffers, by ascending address. */
  readonly buffers: HwBuffer[] = [];

  constructor(name: string, base: number, size: number) {
    this.name = name;
    this.base = base;
    this.size = size;
    this.allocator = new RangeAllocator(size);
  }

  /** True if `addr` falls in the region. */
  contains(addr: number): boolean {
    return addr >= this.base && addr < this.base + this.size;
  }

  /** The live buffer holding `[addr, addr + len)`, or null. */
  find(addr: number, len: number): HwBuffer | null {
    const bufs = this.buffers;
    let lo = 0;
    let hi = bufs.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const b = bufs[mid]!;
      if (addr < b.addr) hi = mid - 1;
      else if (addr >= b.addr + b.size) lo = mid + 1;
      else return addr + len <= b.addr + b.size ? b : null;
    }
    return null;
  }

  /** @internal */
  insert(buf: HwBuffer): void {
    const bufs = this.buffers;
    let i = bufs.length;
    while (i > 0 && bufs[i - 1]!.addr > buf.addr) i--;
    bufs.splice(i, 0, buf);
  }

  /** @internal */
  remove(buf: HwBuffer): void {
    const i = this.buffers.indexOf(buf);
    if (i >= 0) this.buffers.splice(i, 1);
  }
}
