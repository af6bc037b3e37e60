import type { Gfp, Runtime } from '@dep/kernel';
import { checkAddr, checkInt, checkName, checkOneOf, checkOptions, checkPow2, checkU64, fail } from '../validate.js';
import { HwBuffer } from './buffer.js';
import { MemoryRegion } from './region.js';

/** The two regions: device-local memory and host memory the device can reach. */
export type RegionKind = 'vram' | 'system';

/** What an eviction callback is asked to make room for. */
export interface EvictRequest {
  readonly region: RegionKind;
  /** Size and alignment of the allocation that did not fit. */
  readonly size: number;
  readonly align: number;
  /** Free bytes and the largest hole right now. */
  readonly free: number;
  readonly largestHole: number;
}

/**
 * An eviction callback (the driver's TTM-style shrinker for a region): free buffers of the
 * region (wait for their work first if it must) and return true if it freed anything,
 * false if it has nothing left to evict. May be async (it may sleep); it is only called
 * from {@link DeviceMemory.alloc}, which is.
 */
export type Evictor = (request: EvictRequest) => boolean | Promise<boolean>;

/** Options of an allocation. */
export interface AllocOptions {
  /** Alignment in bytes, a power of two. Default 8. */
  readonly align?: number;
  /** Name for traces and diagnostics. */
  readonly name?: string;
  /**
   * Flags for the runtime's allocation hook (`rt.alloc`), which checks the context
   * (lockdep: no GFP_KERNEL in a fence-signalling section or on a reclaim worker) and
   * may fail the call with ENOMEM by fault injection (site `hw_sim_mem_alloc`). Default
   * `GFP_KERNEL` for {@link DeviceMemory.alloc}, `GFP_NOWAIT` for {@link DeviceMemory.allocNow}.
   */
  readonly gfp?: Gfp;
}

/** The allocation-hook site of device memory allocations. */
export const MEM_ALLOC_SITE = 'hw_sim_mem_alloc';

/** Size (and optional base address) of a region. */
export interface RegionConfig {
  readonly size: number;
  readonly base?: number;
}

/** Memory configuration of a device. */
export interface MemoryConfig {
  /** Device-local memory. Default 256 MiB at 0x1_0000_0000. */
  readonly vram?: number | RegionConfig;
  /** Host memory reachable by the device. Default 1 GiB at 0x10_0000_0000. */
  readonly system?: number | RegionConfig;
  /** Back buffers with `SharedArrayBuffer` (for cross-thread CPU views). Default false. */
  readonly shared?: boolean;
}

type Watcher = (addr: number) => void;

const REGIONS: readonly RegionKind[] = ['vram', 'system'];
const MAX_SIZE = 2 ** 40;

/**
 * The device's memory: two regions in one device address space, buffers with backing
 * stores, an allocator per region with eviction callbacks, and the memory controller the
 * device's own reads and writes go through (semaphore waits watch addresses here).
 *
 * Out of space without eviction: `ENOSPC` in `vram` (what TTM returns when nothing more
 * can be evicted), `ENOMEM` in `system`.
 */
export class DeviceMemory {
  readonly shared: boolean;
  readonly #rt: Runtime;
  readonly #dev: string;
  readonly #regions: Record<RegionKind, MemoryRegion>;
  readonly #evictors: Record<RegionKind, Evictor[]> = { vram: [], system: [] };
  readonly #watchers = new Map<number, Watcher[]>();
  #seq = 0;

  constructor(rt: Runtime, devName: string, config: MemoryConfig = {}) {
    checkOptions('memory config', config);
    this.#rt = rt;
    this.#dev = devName;
    this.shared = config.shared ?? false;
    const vram = regionConfig('memory.vram', config.vram, 256 * 2 ** 20, 2 ** 32);
    const system = regionConfig('memory.system', config.system, 2 ** 30, 2 ** 36);
    if (vram.base < system.base + system.size && system.base < vram.base + vram.size) {
      fail('EINVAL', `memory regions overlap (vram [0x${vram.base.toString(16)}, +${vram.size}), system [0x${system.base.toString(16)}, +${system.size})); give them disjoint bases`);
    }
    this.#regions = {
      vram: new MemoryRegion('vram', vram.base, vram.size),
      system: new MemoryRegion('system', system.base, system.size),
    };
  }

  /** One region. */
  region(kind: RegionKind): MemoryRegion {
    return this.#regions[checkOneOf('region', kind, REGIONS)];
  }

  /**
   * Allocate a buffer without eviction (usable in any context with the default
   * `GFP_NOWAIT`). ENOSPC (`vram`) or ENOMEM (`system`) when no hole fits, ENOMEM when
   * fault injection fails the allocation hook; EINVAL for bad arguments.
   */
  allocNow(region: RegionKind, size: number, options: AllocOptions = {}): HwBuffer {
    const req = this.#check(region, size, options);
    this.#rt.alloc(options.gfp ?? 'GFP_NOWAIT', MEM_ALLOC_SITE);
    const buf = this.#tryAlloc(req.region, size, req.align, req.name);
    if (buf === null) this.#noSpace(req.region, size, req.align, false);
    return buf;
  }

  /**
   * Allocate a buffer; when it does not fit, call the region's eviction callbacks in the
   * order they were registered, retrying after each one that freed something, until it
   * fits or a whole round frees nothing (then ENOSPC/ENOMEM). Sleeps (the callbacks may).
   */
  async alloc(region: RegionKind, size: number, options: AllocOptions = {}): Promise<HwBuffer> {
    const req = this.#check(region, size, options);
    this.#rt.alloc(options.gfp ?? 'GFP_KERNEL', MEM_ALLOC_SITE);
    const r = this.#regions[req.region];
    for (;;) {
      const buf = this.#tryAlloc(req.region, size, req.align, req.name);
      if (buf !== null) return buf;
      let progress = false;
      for (const evict of [...this.#evictors[req.region]]) {
        const before = r.allocator.free;
        const request: EvictRequest = { region: req.region, size, align: req.align, free: before, largestHole: r.allocator.largestHole };
        if (this.#rt.trace.enabled) this.#rt.trace.emit('hw:mem', { dev: this.#dev, region: req.region, op: 'evict', addr: undefined, size }, { lane: `${this.#dev}:mem` });
        const said = await evict(request);
        if (said && r.allocator.free > before) {
          progress = true;
          break;
        }
      }
      if (!progress) this.#noSpace(req.region, size, req.align, true);
    }
  }

  /**
   * Register an eviction callback for a region (the drivers' memory pressure comes from
   * here). Returns a function that unregisters it.
   */
  onEvict(region: RegionKind, evictor: Evictor): () => void {
    const kind = checkOneOf('region', region, REGIONS);
    if (typeof evictor !== 'function') fail('EINVAL', 'onEvict(region, evictor): evictor must be a function returning whether it freed anything');
    const list = this.#evictors[kind];
    list.push(evictor);
    return () => {
      const i = list.indexOf(evictor);
      if (i >= 0) list.splice(i, 1);
    };
  }

  /** The live buffer holding `[addr, addr + len)`, or null (an unmapped address). */
  resolve(addr: number, len = 8): HwBuffer | null {
    const regions = this.#regions;
    if (regions.vram.contains(addr)) return regions.vram.find(addr, len);
    if (regions.system.contains(addr)) return regions.system.find(addr, len);
    return null;
  }

  /** Read 64 bits at a device address. EFAULT if unmapped. */
  read64(addr: number): bigint {
    const b = this.#map(addr, 8);
    return b.view().getBigUint64(addr - b.addr, true);
  }

  /** Write 64 bits at a device address; waits on it re-evaluate. EFAULT if unmapped. */
  write64(addr: number, value: bigint): void {
    checkU64('value', value);
    const b = this.#map(addr, 8);
    b.view().setBigUint64(addr - b.addr, value, true);
    this.notifyWrite(addr);
  }

  /** Read 32 bits at a device address. EFAULT if unmapped. */
  read32(addr: number): number {
    const b = this.#map(addr, 4);
    return b.view().getUint32(addr - b.addr, true);
  }

  /** Write 32 bits at a device address; waits on its qword re-evaluate. EFAULT if unmapped. */
  write32(addr: number, value: number): void {
    checkInt('value', value, 0, 0xffffffff);
    const b = this.#map(addr, 4);
    b.view().setUint32(addr - b.addr, value, true);
    this.notifyWrite(addr);
  }

  /**
   * Tell the memory controller that the qword holding `addr` changed (after a raw write
   * through `buffer.view()`), so semaphore waits on it re-evaluate. Any context.
   */
  notifyWrite(addr: number): void {
    if (this.#watchers.size === 0) return;
    const key = addr - (addr % 8);
    const list = this.#watchers.get(key);
    if (list === undefined) return;
    for (const w of [...list]) w(key);
  }

  /** @internal Device-side 64-bit write: false if the address is unmapped (a GPU page fault). */
  deviceWrite64(addr: number, value: bigint): boolean {
    const b = this.resolve(addr, 8);
    if (b === null) return false;
    b.view().setBigUint64(addr - b.addr, value, true);
    this.notifyWrite(addr);
    return true;
  }

  /** @internal Device-side 64-bit read: null if the address is unmapped. */
  deviceRead64(addr: number): bigint | null {
    const b = this.resolve(addr, 8);
    return b === null ? null : b.view().getBigUint64(addr - b.addr, true);
  }

  /** @internal Call `fn` after every write that touches the qword at `addr`. Returns the remover. */
  watch(addr: number, fn: Watcher): () => void {
    let list = this.#watchers.get(addr);
    if (list === undefined) {
      list = [];
      this.#watchers.set(addr, list);
    }
    list.push(fn);
    const l = list;
    return () => {
      const i = l.indexOf(fn);
      if (i >= 0) l.splice(i, 1);
      if (l.length === 0 && this.#watchers.get(addr) === l) this.#watchers.delete(addr);
    };
  }

  /** @internal Called by {@link HwBuffer.free}. */
  release(buf: HwBuffer): void {
    const r = this.#regions[buf.region];
    r.allocator.release(buf.range);
    r.remove(buf);
    if (this.#rt.trace.enabled) this.#rt.trace.emit('hw:mem', { dev: this.#dev, region: buf.region, op: 'free', addr: buf.addr, size: buf.size }, { lane: `${this.#dev}:mem` });
  }

  #check(region: RegionKind, size: number, options: AllocOptions): { region: RegionKind; align: number; name: string } {
    const kind = checkOneOf('region', region, REGIONS);
    checkInt(`${kind} allocation size`, size, 1, MAX_SIZE);
    checkOptions('alloc options', options);
    const align = options.align === undefined ? 8 : checkPow2('align', options.align, 1, 2 ** 30);
    const name = options.name === undefined ? `bo${this.#seq + 1}` : checkName('buffer name', options.name);
    return { region: kind, align, name };
  }

  #tryAlloc(kind: RegionKind, size: number, align: number, name: string): HwBuffer | null {
    const r = this.#regions[kind];
    const range = r.allocator.alloc(size, align);
    if (range === null) return null;
    this.#seq++;
    const buf = new HwBuffer(this, kind, r.base + range.offset, range, name);
    r.insert(buf);
    if (this.#rt.trace.enabled) this.#rt.trace.emit('hw:mem', { dev: this.#dev, region: kind, op: 'alloc', addr: buf.addr, size }, { lane: `${this.#dev}:mem` });
    return buf;
  }

  #noSpace(kind: RegionKind, size: number, align: number, evicted: boolean): never {
    const a = this.#regions[kind].allocator;
    const how = evicted ? 'after every eviction callback gave up' : 'without eviction (use alloc() to let eviction callbacks make room)';
    fail(kind === 'vram' ? 'ENOSPC' : 'ENOMEM', `no ${size}-byte hole (align ${align}) in ${kind} ${how}: ${a.free} of ${a.size} bytes free, largest hole ${a.largestHole}; free buffers or register an evictor with memory.onEvict()`);
  }

  #map(addr: number, len: number): HwBuffer {
    checkAddr('address', addr, len);
    const b = this.resolve(addr, len);
    if (b === null) fail('EFAULT', `address 0x${addr.toString(16)} (+${len}) is not inside a live buffer; allocate one with memory.allocNow()/alloc() and use buffer.addr + offset`);
    return b;
  }
}

function regionConfig(what: string, v: number | RegionConfig | undefined, defSize: number, defBase: number): { size: number; base: number } {
  if (v === undefined) return { size: defSize, base: defBase };
  if (typeof v === 'number') return { size: checkInt(`${what} size`, v, 4096, MAX_SIZE), base: defBase };
  checkOptions(what, v);
  const size = checkInt(`${what}.size`, v.size, 4096, MAX_SIZE);
  const base = v.base === undefined ? defBase : checkAddr(`${what}.base`, v.base, 4096);
  if (base + size > Number.MAX_SAFE_INTEGER) fail('EINVAL', `${what}: base + size exceeds 2^53; pick a lower base`);
  return { size, base };
}
