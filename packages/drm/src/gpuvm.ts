/**
 * A small GPU VM after `struct drm_gpuvm` (drivers/gpu/drm/drm_gpuvm.c): a VA range,
 * mappings of GEM object ranges at GPU virtual addresses, a reservation object shared by
 * the VM-private objects (held by a resv-only GEM object, `r_obj`), and the external
 * objects (mapped, with their own resv) that a submit must lock too.
 */
import type { Fence } from '@dep/dma-fence';
import { DrmExec, type DmaResv, type DmaResvUsage } from '@dep/dma-resv';
import { DepError, GFP_KERNEL, Kref } from '@dep/kernel';
import type { DrmDevice } from './device.js';
import { GemObject } from './gem.js';
import { U64_MAX } from './validate.js';

/** Options of a {@link GpuVm} (`drm_gpuvm_init`). */
export interface GpuVmOptions {
  /** Name for traces and messages. */
  readonly name?: string;
  /** `start_offset`: first usable address. Default 0. */
  readonly start?: bigint;
  /** `range`: size of the VA space. Default 2^48. */
  readonly range?: bigint;
  /** `reserve_offset` / `reserve_range`: a kernel-reserved node no mapping may touch. Default none. */
  readonly reserveStart?: bigint;
  readonly reserveRange?: bigint;
  /** Alignment of addresses, offsets and ranges. Default 4096. */
  readonly pageSize?: bigint;
}

/** `struct drm_gpuva`: `range` bytes of `bo` from `offset`, mapped at `va`. */
export interface GpuVa {
  readonly va: bigint;
  readonly range: bigint;
  readonly bo: GemObject;
  readonly offset: bigint;
}

/** `struct drm_gpuva_op`: what a map or unmap did, for the driver's page-table updates. */
export type GpuVaOp =
  | { readonly op: 'map'; readonly va: GpuVa }
  | { readonly op: 'unmap'; readonly va: GpuVa }
  /** A mapping cut by the new range: `unmap` it, keep `prev` (before) and `next` (after). */
  | { readonly op: 'remap'; readonly unmap: GpuVa; readonly prev: GpuVa | null; readonly next: GpuVa | null };

/** Options of {@link GpuVm.map}. */
export interface GpuVmMapOptions {
  /**
   * `drm_gpuvm_sm_map()` semantics: mappings overlapping the new range are unmapped or
   * split around it (what VM_BIND MAP does in xe and panthor). Default false:
   * `drm_gpuva_insert()` semantics, an overlap is EEXIST.
   */
  readonly replace?: boolean;
}

/** Options of {@link GpuVm.execLock}. */
export interface GpuVmExecLockOptions {
  /** Fence slots to reserve on every resv. Default 1. */
  readonly numFences?: number;
  /** More objects to lock (the submit's BOs). Duplicates and VM-private ones are fine. */
  readonly extra?: readonly GemObject[];
  /** Lock interruptibly (a `signal` abort fails with EINTR). */
  readonly interruptible?: boolean;
  readonly signal?: AbortSignal;
}

function hex(v: bigint): string {
  return `0x${v.toString(16)}`;
}

/**
 * A GPU virtual address space. Refcounted (`drm_gpuvm_get/put`, tracked as `drm_gpuvm`);
 * {@link GpuVm.close} unmaps everything (drops the mappings' object references) so the VM
 * and its objects can go. VM-private objects (made with `vm`) share {@link GpuVm.resv} and
 * hold a reference on the VM's resv object, never on the VM, so there is no cycle.
 */
export class GpuVm {
  readonly dev: DrmDevice;
  readonly name: string;
  readonly start: bigint;
  readonly range: bigint;
  readonly pageSize: bigint;
  readonly reserveStart: bigint;
  readonly reserveRange: bigint;
  /** `gpuvm->r_obj`: the resv-only GEM object whose resv the VM-private objects share. */
  readonly resvObj: GemObject;
  /** Sorted by `va`, non-overlapping. */
  #vas: GpuVa[] = [];
  /** External objects → number of mappings of them. */
  readonly #extobjs = new Map<GemObject, number>();
  readonly #kref: Kref;
  #closed = false;

  /**
   * `drm_gpuvm_init()` with `drm_gpuvm_resv_object_alloc()`. EINVAL for a bad range
   * (overflowing u64, misaligned, a reserved node outside it); ENOMEM under fault
   * injection (`drm_gpuvm_init`, `drm_gem_object_init`).
   */
  constructor(dev: DrmDevice, options: GpuVmOptions = {}) {
    const who = 'drm_gpuvm_init';
    const { start = 0n, range = 1n << 48n, reserveStart = 0n, reserveRange = 0n, pageSize = 4096n } = options;
    for (const [k, v] of Object.entries({ start, range, reserveStart, reserveRange, pageSize })) {
      if (typeof v !== 'bigint' || v < 0n) throw new DepError('EINVAL', `${who}: ${k} must be a non-negative bigint, got ${String(v)}`);
    }
    if (pageSize === 0n || (pageSize & (pageSize - 1n)) !== 0n) throw new DepError('EINVAL', `${who}: pageSize must be a power of two`);
    if (range === 0n || start + range - 1n > U64_MAX) throw new DepError('EINVAL', `${who}: [${hex(start)}, +${hex(range)}) is empty or overflows u64`);
    if (start % pageSize !== 0n || range % pageSize !== 0n) throw new DepError('EINVAL', `${who}: start and range must be multiples of ${hex(pageSize)}`);
    if (reserveRange !== 0n && (reserveStart < start || reserveStart + reserveRange > start + range)) {
      throw new DepError('EINVAL', `${who}: the reserved node [${hex(reserveStart)}, +${hex(reserveRange)}) lies outside the VA space`);
    }
    const rt = dev.runtime;
    rt.alloc(GFP_KERNEL, who);
    this.dev = dev;
    this.start = start;
    this.range = range;
    this.pageSize = pageSize;
    this.reserveStart = reserveStart;
    this.reserveRange = reserveRange;
    this.resvObj = new GemObject(dev, { size: 0n, name: `${options.name ?? `${dev.name}:vm`}:r_obj` });
    this.name = options.name ?? `${dev.name}:vm${this.resvObj.id}`;
    this.#kref = new Kref(rt, () => this.#free(), { kind: 'drm_gpuvm', owner: this, site: this.name });
  }

  /** `drm_gpuvm_resv(gpuvm)`: the VM's reservation object (shared by its private objects). */
  get resv(): DmaResv {
    return this.resvObj.resv;
  }

  get refcount(): number {
    return this.#kref.read();
  }

  /** True once {@link GpuVm.close} ran. */
  get closed(): boolean {
    return this.#closed;
  }

  /** `drm_gpuvm_get()`. */
  get(): this {
    this.#kref.get();
    return this;
  }

  /** `drm_gpuvm_put()`. */
  put(): void {
    this.#kref.put();
  }

  /** @internal EINVAL if released, ENOENT if closed. */
  _alive(who: string): void {
    if (this.#kref.read() === 0) {
      const rt = this.dev.runtime;
      if (rt.checks !== 'off') rt.lifetimes.assertAlive(this, who);
      throw new DepError('EINVAL', `${who}: VM ${this.name} was freed`);
    }
    if (this.#closed) throw new DepError('ENOENT', `${who}: VM ${this.name} is closed`);
  }

  /** The mappings, by address. */
  mappings(): readonly GpuVa[] {
    return [...this.#vas];
  }

  /** `drm_gpuva_find_first()`-style lookup: the mapping containing `va`, or null. */
  find(va: bigint): GpuVa | null {
    for (const m of this.#vas) if (m.va <= va && va < m.va + m.range) return m;
    return null;
  }

  /** `drm_gpuvm_is_extobj()`: true if `bo` is mapped here and has its own resv. */
  isExtobj(bo: GemObject): boolean {
    return this.#extobjs.has(bo);
  }

  /** The external objects (mapped objects with their own resv), in first-mapping order. */
  extobjs(): readonly GemObject[] {
    return [...this.#extobjs.keys()];
  }

  /**
   * `drm_gpuvm_range_valid()` + alignment: EINVAL unless `[va, va + range)` is non-empty,
   * aligned, does not overflow u64, lies inside the VA space and misses the reserved node.
   */
  checkRange(va: bigint, range: bigint, who = 'drm_gpuvm_range_valid'): void {
    if (typeof va !== 'bigint' || typeof range !== 'bigint' || va < 0n || range < 0n || va > U64_MAX || range > U64_MAX) {
      throw new DepError('EINVAL', `${who}: va and range must be u64 bigints`);
    }
    const p = this.pageSize;
    if (va % p !== 0n || range % p !== 0n) throw new DepError('EINVAL', `${who}: va ${hex(va)} and range ${hex(range)} must be multiples of ${hex(p)}`);
    if (range === 0n) throw new DepError('EINVAL', `${who}: an empty range`);
    if (va + range - 1n > U64_MAX) throw new DepError('EINVAL', `${who}: ${hex(va)} + ${hex(range)} overflows u64`);
    if (va < this.start || va + range > this.start + this.range) {
      throw new DepError('EINVAL', `${who}: [${hex(va)}, +${hex(range)}) is outside the VA space [${hex(this.start)}, +${hex(this.range)})`);
    }
    const rs = this.reserveStart;
    const rr = this.reserveRange;
    if (rr !== 0n && va < rs + rr && rs < va + range) throw new DepError('EINVAL', `${who}: [${hex(va)}, +${hex(range)}) touches the kernel-reserved node`);
  }

  /**
   * Map `range` bytes of `bo` from `offset` at `va`; returns the ops (the `map`, and with
   * `replace` the `unmap`/`remap` of what it overlapped). Takes a reference on `bo` per
   * mapping. Errors, all before any change: EINVAL for a bad range (see {@link GpuVm.checkRange}),
   * a misaligned `offset`, `offset + range` beyond the object, an object of another device
   * or private to another VM; EEXIST for an overlap without `replace`; ENOENT on a closed
   * VM; ENOMEM under fault injection (`drm_gpuva_alloc`, once per new mapping).
   */
  map(bo: GemObject, va: bigint, offset: bigint, range: bigint, options: GpuVmMapOptions = {}): GpuVaOp[] {
    const who = 'drm_gpuvm_map';
    this._alive(who);
    if (!(bo instanceof GemObject)) throw new DepError('EINVAL', `${who}: pass a GemObject`);
    bo._alive(who);
    this.checkRange(va, range, who);
    if (typeof offset !== 'bigint' || offset < 0n || offset % this.pageSize !== 0n) {
      throw new DepError('EINVAL', `${who}: offset ${String(offset)} must be a non-negative multiple of ${hex(this.pageSize)}`);
    }
    if (offset + range > bo.size) throw new DepError('EINVAL', `${who}: offset ${hex(offset)} + range ${hex(range)} is beyond ${bo.name} (${hex(bo.size)} bytes)`);
    if (bo.dev !== this.dev) throw new DepError('EINVAL', `${who}: ${bo.name} belongs to another device (import it first)`);
    if (bo.vm !== null && bo.vm !== this) throw new DepError('EINVAL', `${who}: ${bo.name} is private to another VM`);
    const replace = options.replace ?? false;
    const end = va + range;
    const hit = this.#vas.filter((m) => m.va < end && va < m.va + m.range);
    if (hit.length > 0 && !replace) {
      const m = hit[0]!;
      throw new DepError('EEXIST', `${who}: [${hex(va)}, +${hex(range)}) overlaps the mapping [${hex(m.va)}, +${hex(m.range)}) of ${m.bo.name}`);
    }
    const ops = this.#cut(va, end, hit, who, 1);
    const mapped: GpuVa = { va, range, bo: bo.get(), offset };
    this.#insert(mapped);
    ops.push({ op: 'map', va: mapped });
    const rt = this.dev.runtime;
    if (rt.trace.enabled) rt.trace.emit('drm:gpuvm_map', { vm: this.name, va, range, obj: bo.id, offset });
    return ops;
  }

  /**
   * `drm_gpuvm_sm_unmap()`: unmap `[va, va + range)`: mappings inside it go, mappings
   * straddling an edge are split (a `remap` keeping the parts outside). Nothing mapped there
   * is no error (no ops). EINVAL for a bad range; ENOMEM (nothing changed) under fault
   * injection when a split needs new mappings.
   */
  unmap(va: bigint, range: bigint): GpuVaOp[] {
    const who = 'drm_gpuvm_unmap';
    this._alive(who);
    this.checkRange(va, range, who);
    const end = va + range;
    const hit = this.#vas.filter((m) => m.va < end && va < m.va + m.range);
    const ops = this.#cut(va, end, hit, who, 0);
    const rt = this.dev.runtime;
    if (rt.trace.enabled) rt.trace.emit('drm:gpuvm_unmap', { vm: this.name, va, range, ops: ops.length });
    return ops;
  }

  /** Remove `[va, end)` from the mappings `hit`; `extra` more allocations are needed by the caller. */
  #cut(va: bigint, end: bigint, hit: readonly GpuVa[], who: string, extra: number): GpuVaOp[] {
    const rt = this.dev.runtime;
    let allocs = extra;
    for (const m of hit) {
      if (m.va < va) allocs++;
      if (m.va + m.range > end) allocs++;
    }
    for (let i = 0; i < allocs; i++) rt.alloc(GFP_KERNEL, 'drm_gpuva_alloc');
    const ops: GpuVaOp[] = [];
    for (const m of hit) {
      const mEnd = m.va + m.range;
      const prev: GpuVa | null = m.va < va ? { va: m.va, range: va - m.va, bo: m.bo.get(), offset: m.offset } : null;
      const next: GpuVa | null = mEnd > end ? { va: end, range: mEnd - end, bo: m.bo.get(), offset: m.offset + (end - m.va) } : null;
      this.#remove(m);
      if (prev !== null) this.#insert(prev);
      if (next !== null) this.#insert(next);
      ops.push(prev === null && next === null ? { op: 'unmap', va: m } : { op: 'remap', unmap: m, prev, next });
      m.bo.put();
    }
    return ops;
  }

  #insert(m: GpuVa): void {
    const vas = this.#vas;
    let i = vas.length;
    while (i > 0 && vas[i - 1]!.va > m.va) i--;
    vas.splice(i, 0, m);
    if (m.bo.resv !== this.resv) this.#extobjs.set(m.bo, (this.#extobjs.get(m.bo) ?? 0) + 1);
  }

  #remove(m: GpuVa): void {
    const i = this.#vas.indexOf(m);
    if (i >= 0) this.#vas.splice(i, 1);
    const n = this.#extobjs.get(m.bo);
    if (n !== undefined) {
      if (n <= 1) this.#extobjs.delete(m.bo);
      else this.#extobjs.set(m.bo, n - 1);
    }
  }

  /**
   * `drm_gpuvm_prepare_vm()` + `drm_gpuvm_prepare_objects()`, inside an
   * `exec.untilAllLocked()` body: lock the VM's resv and every external object's resv,
   * reserving `numFences` slots on each. Returns the first non-zero result (-EALREADY,
   * -ENOMEM, -EINTR); contention is retried by the exec.
   */
  async lockAll(exec: DrmExec<GemObject>, numFences = 1): Promise<0 | -114 | -12 | -4> {
    this._alive('drm_gpuvm_prepare_objects');
    let r = await exec.prepareObj(this.resvObj, numFences);
    if (r !== 0) return r;
    for (const bo of this.#extobjs.keys()) {
      r = await exec.prepareObj(bo, numFences);
      if (r !== 0) return r;
    }
    return 0;
  }

  /**
   * `drm_gpuvm_exec_lock()`: make a `DrmExec` (duplicates ignored), lock the VM resv, every
   * external object and `extra` with `numFences` slots each, retrying on contention.
   * Resolves with the exec holding the locks (call `exec.fini()` when done); on failure the
   * locks are dropped and `DepError` thrown (ENOMEM, EINTR). Sleeps.
   */
  async execLock(options: GpuVmExecLockOptions = {}): Promise<DrmExec<GemObject>> {
    const numFences = options.numFences ?? 1;
    const extra = options.extra ?? [];
    const exec = new DrmExec<GemObject>(this.dev.runtime, {
      ignoreDuplicates: true,
      ...(options.interruptible === undefined ? {} : { interruptible: options.interruptible }),
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
    let r: number;
    try {
      r = await exec.untilAllLocked(async (ex) => {
        const a = await this.lockAll(ex, numFences);
        if (a !== 0) return a;
        for (const bo of extra) {
          const b = await ex.prepareObj(bo, numFences);
          if (b !== 0) return b;
        }
        return 0;
      });
    } catch (e) {
      exec.fini();
      throw e;
    }
    if (r !== 0) {
      exec.fini();
      throw DepError.fromErrno(r, `drm_gpuvm_exec_lock(${this.name}): locking failed`);
    }
    return exec;
  }

  /**
   * `drm_gpuvm_resv_add_fence()`: add `fence` to the VM's resv with `privateUsage` and to
   * every external object's with `extobjUsage` (panthor: BOOKKEEP for both). Every resv
   * must be locked with a slot reserved ({@link GpuVm.lockAll}).
   */
  resvAddFence(fence: Fence, privateUsage: DmaResvUsage, extobjUsage: DmaResvUsage): void {
    this.resv.addFence(fence, privateUsage);
    for (const bo of this.#extobjs.keys()) bo.resv.addFence(fence, extobjUsage);
  }

  /**
   * Close the VM (the VM_DESTROY ioctl / file close): unmap every mapping (putting its
   * object reference) and refuse further maps (ENOENT). Idempotent. Returns the unmap ops.
   */
  close(): GpuVaOp[] {
    if (this.#closed || this.#kref.read() === 0) return [];
    this.#closed = true;
    return this.#unmapAll();
  }

  #unmapAll(): GpuVaOp[] {
    const ops: GpuVaOp[] = [];
    for (const m of [...this.#vas]) {
      this.#remove(m);
      ops.push({ op: 'unmap', va: m });
      m.bo.put();
    }
    return ops;
  }

  /** `drm_gpuvm_free()`: WARN if mappings are left (then drop them), put the resv object. */
  #free(): void {
    const rt = this.dev.runtime;
    if (this.#vas.length > 0) {
      rt.reports.warnOn(true, `drm_gpuvm_fini(${this.name}): GPUVA tree is not empty, potentially leaking memory; close() the VM before its last put`);
      this.#unmapAll();
    }
    this.resvObj.put();
  }

  toString(): string {
    return `GpuVm ${this.name}`;
  }
}
