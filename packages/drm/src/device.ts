/**
 * `struct drm_device`: what files are opened on. It owns the device-wide GEM state (flink
 * names, the object list), the memory GEM objects are backed by, and the driver features
 * the core ioctls check.
 */
import type { Syncobj } from '@dep/dma-fence';
import type { DeviceMemory, RegionKind } from '@dep/hw-sim';
import { DepError, GFP_KERNEL, type Runtime } from '@dep/kernel';
import { DrmFile } from './file.js';
import { GemObject, type GemObjectFuncs } from './gem.js';
import { HandleTable } from './handle-table.js';
import type { GpuVm } from './gpuvm.js';
import { snapshotDevice, type DrmDeviceSnapshot } from './snapshot.js';
import './trace-events.js';
import { ALL_DRM_FEATURES, PAGE_SIZE, type DrmFeature } from './uapi.js';

/** Options of a {@link DrmDevice}. */
export interface DrmDeviceOptions {
  /** The runtime every object of the device belongs to. */
  readonly runtime: Runtime;
  /** The memory GEM objects are backed by (a hw-sim device's `memory`). */
  readonly memory: DeviceMemory;
  /**
   * Device name (`card0`, `renderD128`, `accel0`). Default `<minorPrefix><N>`, N counting
   * the devices of that prefix made on this runtime (one runtime is one machine), so the
   * same program gets the same names however many runtimes the process made before.
   */
  readonly name?: string;
  /**
   * The minor's prefix for the default name: `card` (DRM, the default) or `accel` (the
   * compute accelerator subsystem, `/dev/accel/accel<N>`).
   */
  readonly minorPrefix?: 'card' | 'accel';
  /** The driver's name (`xe`, `panthor`, `amdxdna`). Default `drm`. */
  readonly driverName?: string;
  /** `driver_features`. Default: all of {@link ALL_DRM_FEATURES}. */
  readonly features?: readonly DrmFeature[];
}

/** Options of {@link DrmDevice.gemObjectCreate}. */
export interface GemObjectCreateOptions {
  /** Size in bytes: a positive multiple of `PAGE_SIZE`. */
  readonly size: bigint;
  /** Where the backing store goes. Default `system`. */
  readonly region?: RegionKind;
  /** Make it private to this VM (shares the VM's resv). */
  readonly vm?: GpuVm | null;
  readonly funcs?: GemObjectFuncs;
  readonly name?: string;
}

const MINORS = Symbol('@dep/drm:minors');

/** The next default device name of `prefix` on `rt` (`drm_minor_alloc()`'s index, per runtime). */
function nextMinorName(rt: Runtime, prefix: 'card' | 'accel'): string {
  const minors = rt.subsystem(MINORS, () => ({ card: 0, accel: 0 }));
  return `${prefix}${minors[prefix]++}`;
}

/**
 * A DRM device. `open()` makes a client file (`DrmFile`); drivers subclass both — the
 * device overrides {@link DrmDevice.createFile} to return its own file class, the file adds
 * the driver's ioctls and tables.
 */
export class DrmDevice<F extends DrmFile = DrmFile> {
  readonly runtime: Runtime;
  readonly name: string;
  readonly driverName: string;
  readonly memory: DeviceMemory;
  readonly features: ReadonlySet<DrmFeature>;
  /** `dev->object_name_idr`: flink name → object (the name holds no reference). */
  readonly #names: HandleTable<GemObject>;
  readonly #files = new Set<F>();
  readonly #objects = new Set<GemObject>();
  #nextFileId = 1;
  #nextId = 1;
  readonly #ids = new WeakMap<object, number>();

  constructor(options: DrmDeviceOptions) {
    if (typeof options !== 'object' || options === null) throw new DepError('EINVAL', 'new DrmDevice(options): pass { runtime, memory, name?, driverName?, features? }');
    const { runtime, memory, features = ALL_DRM_FEATURES } = options;
    if (runtime === undefined || typeof runtime.alloc !== 'function') throw new DepError('EINVAL', 'new DrmDevice: pass the runtime');
    if (memory === undefined || typeof memory.alloc !== 'function') throw new DepError('EINVAL', 'new DrmDevice: pass the DeviceMemory GEM objects are backed by');
    for (const f of features) {
      if (!ALL_DRM_FEATURES.includes(f)) throw new DepError('EINVAL', `new DrmDevice: unknown feature ${String(f)}; known: ${ALL_DRM_FEATURES.join(', ')}`);
    }
    this.runtime = runtime;
    this.memory = memory;
    const prefix = options.minorPrefix ?? 'card';
    if (prefix !== 'card' && prefix !== 'accel') throw new DepError('EINVAL', `new DrmDevice: minorPrefix must be 'card' or 'accel', got ${String(prefix)}`);
    this.name = options.name ?? nextMinorName(runtime, prefix);
    this.driverName = options.driverName ?? 'drm';
    this.features = new Set(features);
    this.#names = new HandleTable<GemObject>(runtime, 'flink', { site: 'drm_gem_flink' });
  }

  /** `drm_core_check_feature()`. */
  hasFeature(feature: DrmFeature): boolean {
    return this.features.has(feature);
  }

  /** The open files. */
  get files(): readonly F[] {
    return [...this.#files];
  }

  /** GEM objects alive on this device (created here, not yet freed), oldest first. */
  get objects(): readonly GemObject[] {
    return [...this.#objects];
  }

  /**
   * `drm_open()`: a new client file. Allocates (site `drm_file_alloc`; ENOMEM under fault
   * injection, nothing made).
   */
  open(): F {
    this.runtime.alloc(GFP_KERNEL, 'drm_file_alloc');
    const file = this.createFile(this.#nextFileId++);
    this.#files.add(file);
    const rt = this.runtime;
    if (rt.trace.enabled) rt.trace.emit('drm:file_open', { file: file.label });
    return file;
  }

  /**
   * Make the file object for {@link DrmDevice.open} (the driver's `open` hook). Drivers override it
   * to return their `DrmFile` subclass; the base makes a plain `DrmFile`.
   */
  protected createFile(id: number): F {
    return new DrmFile(this, id) as F;
  }

  /**
   * A new GEM object with a backing store of `size` bytes in `region` (`system` by
   * default), refcount 1, no handle yet (give it one with `file.gemHandleCreate(obj)`,
   * then `put()` the creation reference). The memory allocation may evict (it sleeps);
   * ENOSPC (vram) / ENOMEM (system) when nothing fits; ENOMEM under fault injection at
   * `hw_sim_mem_alloc` or `drm_gem_object_init`. Nothing is left behind on failure.
   */
  async gemObjectCreate(options: GemObjectCreateOptions): Promise<GemObject> {
    const who = 'drm_gem_object_create';
    if (typeof options !== 'object' || options === null) throw new DepError('EINVAL', `${who}: pass { size, region?, vm?, funcs?, name? }`);
    const { size, region = 'system', vm = null } = options;
    if (typeof size !== 'bigint' || size <= 0n || size % BigInt(PAGE_SIZE) !== 0n) {
      throw new DepError('EINVAL', `${who}: size must be a positive multiple of PAGE_SIZE (${PAGE_SIZE}), as a bigint; got ${String(size)}`);
    }
    if (size > BigInt(Number.MAX_SAFE_INTEGER)) throw new DepError('EINVAL', `${who}: size ${size} is beyond what the device can address`);
    if (vm !== null) vm._alive(who);
    const buffer = await this.memory.alloc(region, Number(size), { align: PAGE_SIZE, ...(options.name === undefined ? {} : { name: options.name }) });
    try {
      return new GemObject(this, {
        size,
        buffer,
        vm,
        ...(options.funcs === undefined ? {} : { funcs: options.funcs }),
        ...(options.name === undefined ? {} : { name: options.name }),
      });
    } catch (e) {
      buffer.free();
      throw e;
    }
  }

  /** `idr_find(&dev->object_name_idr, name)`: the object a flink name refers to, or undefined. */
  lookupName(name: number): GemObject | undefined {
    return this.#names.lookup(name);
  }

  /**
   * A snapshot of every piece of state a client can observe (objects, names, files and
   * their tables, syncobj fences, resv fences, VM mappings), as plain data: compare two to
   * prove a failed ioctl changed nothing.
   */
  snapshot(): DrmDeviceSnapshot {
    return snapshotDevice(this);
  }

  /** A stable per-device number for any object (snapshots label table entries with it). */
  idOf(obj: object): number {
    let id = this.#ids.get(obj);
    if (id === undefined) {
      id = this._nextId();
      this.#ids.set(obj, id);
    }
    return id;
  }

  /** The number {@link DrmDevice.idOf} gives a syncobj (a shorthand). */
  syncobjId(syncobj: Syncobj): number {
    return this.idOf(syncobj);
  }

  // --- internals shared with the other modules ---------------------------------------

  /** @internal */
  _nextId(): number {
    return this.#nextId++;
  }

  /** @internal */
  _objectCreated(obj: GemObject): void {
    this.#objects.add(obj);
    this.#ids.set(obj, obj.id);
    const rt = this.runtime;
    if (rt.trace.enabled) rt.trace.emit('drm:gem_create', { dev: this.name, obj: obj.id, size: obj.size, imported: obj.importAttach !== null });
  }

  /** @internal */
  _objectFreed(obj: GemObject): void {
    this.#objects.delete(obj);
    const rt = this.runtime;
    if (rt.trace.enabled) rt.trace.emit('drm:gem_free', { dev: this.name, obj: obj.id });
  }

  /** @internal `idr_alloc(&dev->object_name_idr, obj, 1, 0, GFP_KERNEL)` (site `drm_gem_flink`). */
  _flink(obj: GemObject): number {
    if (obj._flinkName !== 0) return obj._flinkName;
    const name = this.#names.alloc(obj);
    obj._flinkName = name;
    return name;
  }

  /** @internal `drm_gem_object_handle_free()`: the last handle went, so does the name. */
  _unname(obj: GemObject): void {
    if (obj._flinkName === 0) return;
    this.#names.remove(obj._flinkName);
    obj._flinkName = 0;
  }

  /** @internal flink names in name order. */
  _names(): Array<[number, GemObject]> {
    return this.#names.entries();
  }

  /** @internal Called by a file's release. */
  _fileClosed(file: DrmFile): void {
    this.#files.delete(file as F);
  }

  toString(): string {
    return `DrmDevice ${this.name} (${this.driverName})`;
  }
}
