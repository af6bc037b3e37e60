/**
 * `struct drm_gem_object` (drivers/gpu/drm/drm_gem.c): a buffer object with a size, a
 * backing store in the device's memory, a reservation object, a reference count, and the
 * bookkeeping of its userspace handles (handle count, flink name, exported dma-buf).
 */
import { DmaResv } from '@dep/dma-resv';
import type { HwBuffer } from '@dep/hw-sim';
import { DepError, GFP_KERNEL, Kref } from '@dep/kernel';
import type { DrmDevice } from './device.js';
import type { DrmFile } from './file.js';
import type { GpuVm } from './gpuvm.js';
import type { DmaBuf } from './prime.js';

/**
 * `struct drm_gem_object_funcs`: what a driver hooks into an object's life. Every hook is
 * optional.
 */
export interface GemObjectFuncs {
  /** `free`: the last reference is gone (after the core released backing, resv, attachment). */
  free?(obj: GemObject): void;
  /** `open`: a handle to `obj` was created in `file`; throwing makes the handle creation fail. */
  open?(obj: GemObject, file: DrmFile): void;
  /** `close`: a handle of `file` to `obj` was deleted. */
  close?(obj: GemObject, file: DrmFile): void;
  /**
   * `export` (the driver's `gem_prime_export` veto): throw `DepError` to refuse a prime
   * export. Without it a VM-private object is refused with EINVAL (panthor's rule; xe says
   * EPERM: give it this hook).
   */
  export?(obj: GemObject): void;
}

/** How a {@link GemObject} is made (`drm_gem_object_init` / `drm_gem_private_object_init`). */
export interface GemObjectInit {
  /** Size in bytes, a multiple of `PAGE_SIZE` (0 only for a resv-only object such as a VM's `r_obj`). */
  readonly size: bigint;
  /** The backing store (null: none, e.g. the VM's resv object). The object frees it on release unless imported. */
  readonly buffer?: HwBuffer | null;
  /**
   * VM-private: share this VM's reservation object (`drm_gpuvm_resv_obj`); the object then
   * holds a reference on the VM's resv object, never on the VM itself.
   */
  readonly vm?: GpuVm | null;
  /** @internal Import: the dma-buf this object is attached to (shares its resv and backing). */
  readonly importAttach?: DmaBuf | null;
  readonly funcs?: GemObjectFuncs;
  /** Name for traces and reports. */
  readonly name?: string;
}

/**
 * A GEM buffer object. Refcounted (`get`/`put`, `drm_gem_object_get/put`; tracked by
 * `rt.lifetimes` as `drm_gem_object`, so one never put is a leak report at
 * `rt.shutdown()`). Userspace reaches it only through handles of a `DrmFile`, which hold
 * one reference among them (`handle_count`).
 *
 * The reservation object is its own (`obj->_resv`), the VM's for a VM-private object, or
 * the exporter's for an object imported from another device's dma-buf.
 */
export class GemObject {
  readonly dev: DrmDevice;
  /** Device-wide serial number (for snapshots and traces). */
  readonly id: number;
  readonly size: bigint;
  readonly name: string;
  /** `obj->resv`. */
  readonly resv: DmaResv;
  /** The backing store, or null. */
  readonly buffer: HwBuffer | null;
  /** The VM this object is private to (shares its resv), or null. */
  readonly vm: GpuVm | null;
  /** `obj->import_attach`: the dma-buf this object was imported from (another device's), or null. */
  readonly importAttach: DmaBuf | null;
  readonly funcs: GemObjectFuncs;
  /** @internal `obj->handle_count`. */
  _handleCount = 0;
  /** @internal `obj->name`: the flink name, 0 if none. */
  _flinkName = 0;
  /** @internal `obj->dma_buf`: the exported (or imported) dma-buf while handles exist. */
  _dmaBuf: DmaBuf | null = null;
  readonly #kref: Kref;
  readonly #ownResv: boolean;
  /** The object whose resv is shared (a VM's resv object), referenced while we live. */
  readonly #resvHolder: GemObject | null;

  /**
   * `drm_gem_object_init()`: refcount 1. Goes through the allocation hook (GFP_KERNEL,
   * site `drm_gem_object_init`; ENOMEM under fault injection, nothing made). EINVAL for a
   * size that is negative or not page-aligned, a VM of another device.
   */
  constructor(dev: DrmDevice, init: GemObjectInit) {
    const who = 'drm_gem_object_init';
    if (typeof init !== 'object' || init === null) throw new DepError('EINVAL', `${who}: pass { size, buffer?, vm?, funcs?, name? }`);
    const { size, vm = null, importAttach = null, funcs = {} } = init;
    if (typeof size !== 'bigint' || size < 0n || size % 4096n !== 0n) {
      throw new DepError('EINVAL', `${who}: size must be a non-negative multiple of PAGE_SIZE (a bigint), got ${String(size)}`);
    }
    if (vm !== null && vm.dev !== dev) throw new DepError('EINVAL', `${who}: the VM belongs to another device`);
    if (vm !== null && importAttach !== null) throw new DepError('EINVAL', `${who}: an imported object cannot be VM-private`);
    const rt = dev.runtime;
    rt.alloc(GFP_KERNEL, who);
    this.dev = dev;
    this.id = dev._nextId();
    this.size = size;
    this.name = init.name ?? `${dev.name}:bo${this.id}`;
    this.buffer = init.buffer ?? null;
    this.vm = vm;
    this.importAttach = importAttach;
    this.funcs = funcs;
    if (vm !== null) {
      const holder = vm.resvObj;
      holder.get();
      this.#resvHolder = holder;
      this.resv = holder.resv;
      this.#ownResv = false;
    } else if (importAttach !== null) {
      importAttach.get();
      this.#resvHolder = null;
      this.resv = importAttach.resv;
      this.#ownResv = false;
    } else {
      this.#resvHolder = null;
      this.resv = new DmaResv({ runtime: rt, name: this.name });
      this.#ownResv = true;
    }
    this.#kref = new Kref(rt, () => this.#free(), { kind: 'drm_gem_object', owner: this, site: this.name });
    dev._objectCreated(this);
  }

  /** `kref_read(&obj->refcount)`. */
  get refcount(): number {
    return this.#kref.read();
  }

  /** `obj->handle_count`: handles to this object across every file. */
  get handleCount(): number {
    return this._handleCount;
  }

  /** The flink name (`obj->name`), 0 if it has none. */
  get flinkName(): number {
    return this._flinkName;
  }

  /** `obj->dma_buf`: the dma-buf exported from (or imported as) this object, while handles exist. */
  get dmaBuf(): DmaBuf | null {
    return this._dmaBuf;
  }

  /** True once the last reference was put. */
  get released(): boolean {
    return this.#kref.read() === 0;
  }

  /** `drm_gem_object_get()`: one more reference; returns the object. */
  get(): this {
    this.#kref.get();
    return this;
  }

  /** `drm_gem_object_put()`: drop a reference; the last one frees the object. */
  put(): void {
    this.#kref.put();
  }

  /** @internal Throw EINVAL if released (a use after the last put is also a lifetime report). */
  _alive(who: string): void {
    if (this.#kref.read() === 0) {
      const rt = this.dev.runtime;
      if (rt.checks !== 'off') rt.lifetimes.assertAlive(this, who);
      throw new DepError('EINVAL', `${who}: GEM object ${this.name} was freed (its last reference put)`);
    }
  }

  /** `drm_gem_object_free()` → `funcs->free` → `drm_gem_object_release()`. */
  #free(): void {
    const rt = this.dev.runtime;
    rt.reports.warnOn(this._dmaBuf !== null, `drm_gem_object_release(${this.name}): obj->dma_buf still set`);
    this.dev._objectFreed(this);
    if (this.buffer !== null && this.importAttach === null && !this.buffer.freed) this.buffer.free();
    if (this.#ownResv) this.resv.fini();
    this.#resvHolder?.put();
    // drm_prime_gem_destroy(): detach from the exporter's dma-buf.
    this.importAttach?.put();
    this.funcs.free?.(this);
  }

  toString(): string {
    return `GemObject ${this.name} (${this.size} bytes)`;
  }
}
