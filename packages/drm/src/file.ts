/**
 * `struct drm_file`: one client's view of a device — its handle tables and the core
 * ioctls (GEM, PRIME, syncobj) as async methods taking validated argument objects.
 */
import {
  DmaFenceChain,
  SyncFile,
  Syncobj,
  SyncobjCreateFlags,
  SyncobjWaitFlags,
  getStub,
  type Fence,
  type SyncobjFindFenceOptions,
} from '@dep/dma-fence';
import { DepError, isDepError, type Runtime, type Waker } from '@dep/kernel';
import type { DrmDevice } from './device.js';
import { GemObject } from './gem.js';
import type { GpuVm } from './gpuvm.js';
import { HandleTable, type HandleTableOptions } from './handle-table.js';
import {
  GEM_CLOSE,
  GEM_CREATE,
  GEM_FLINK,
  GEM_OPEN,
  PRIME_FD_TO_HANDLE,
  PRIME_HANDLE_TO_FD,
  SYNCOBJ_CREATE,
  SYNCOBJ_DESTROY,
  SYNCOBJ_FD_TO_HANDLE,
  SYNCOBJ_HANDLE_TO_FD,
  SYNCOBJ_QUERY,
  SYNCOBJ_RESET,
  SYNCOBJ_SIGNAL,
  SYNCOBJ_TIMELINE_SIGNAL,
  SYNCOBJ_TIMELINE_WAIT,
  SYNCOBJ_TRANSFER,
  SYNCOBJ_WAIT,
} from './ioctls.js';
import { DmaBuf, DmaBufFd } from './prime.js';
import { SyncobjFd } from './syncobj-fd.js';
import { GemCreateFlags, SyncobjFdToHandleFlags, SyncobjHandleToFdFlags, nsToMs, timeoutAbsToMs, type DrmFeature } from './uapi.js';
import { U32_MAX, type Args, type Fields, type IoctlSchema, type Parsed } from './validate.js';

/** The argument object an ioctl schema takes. */
export type IoctlArgs<S> = S extends IoctlSchema<infer F> ? Args<F> : never;

/** Options of the ioctls that sleep interruptibly (the waits). */
export interface IoctlWaitOptions {
  /** A signal arriving: the wait ends with ERESTARTSYS. */
  readonly signal?: AbortSignal;
}

/** Result of {@link DrmFile.syncobjWait} / {@link DrmFile.syncobjTimelineWait}. */
export interface SyncobjWaitResult {
  /**
   * `first_signaled`: index of the first signalled (or, with WAIT_AVAILABLE, available)
   * syncobj; `0xffffffff` when none is meaningful (WAIT_ALL, or no handles).
   */
  readonly firstSignaled: number;
}

type FileState = 'open' | 'closing' | 'releasing' | 'closed';

const ETIME = -62;
const ERESTARTSYS = -512;

/**
 * A client file (`struct drm_file`). Handles are meaningful only here: another file's
 * handle names nothing in this file's tables (ENOENT on lookup, EINVAL where the kernel
 * says so: `GEM_CLOSE`, `SYNCOBJ_DESTROY`, syncobj `HANDLE_TO_FD`).
 *
 * Every core ioctl is an async method: its arguments are checked against the ioctl's
 * schema before anything changes, the body throws `DepError` with the kernel's errno,
 * and `drm:ioctl` is traced. Drivers add their ioctls the same way with
 * {@link DrmFile.ioctl}, and their own handle tables with {@link DrmFile.createTable}.
 *
 * {@link DrmFile.close} is `close(fd)`: new ioctls fail with EBADF at once; the release
 * (putting every handle's object, the driver's `postclose`) runs when the last ioctl in
 * flight returns, as `fput` defers it in the kernel.
 */
export class DrmFile {
  readonly dev: DrmDevice;
  /** The file's number on its device. */
  readonly id: number;
  /** `<device>/<id>`, for traces and messages. */
  readonly label: string;
  /** `file->object_idr`: GEM handles. */
  readonly gem: HandleTable<GemObject>;
  /** `file->syncobj_idr`: syncobj handles. */
  readonly syncobjs: HandleTable<Syncobj>;
  /** GPU VMs (`vm_id`s): a generic table the drivers' VM ioctls share; closing the file closes and puts them. */
  readonly vms: HandleTable<GpuVm>;
  readonly #tables = new Map<string, HandleTable<unknown>>();
  /** `file->prime`: dma-buf ↔ handle, each entry holding a dma-buf reference. */
  readonly #primeByBuf = new Map<DmaBuf, number>();
  readonly #primeByHandle = new Map<number, DmaBuf>();
  #state: FileState = 'open';
  #inflight = 0;
  readonly #releaseWaiters: Array<Waker<true>> = [];

  constructor(dev: DrmDevice, id: number) {
    this.dev = dev;
    this.id = id;
    this.label = `${dev.name}/${id}`;
    const rt = dev.runtime;
    this.gem = new HandleTable<GemObject>(rt, 'gem', { site: 'drm_gem_handle_create' });
    this.syncobjs = new HandleTable<Syncobj>(rt, 'syncobj', { site: 'drm_syncobj_get_handle' });
    this.vms = this.createTable<GpuVm>('vm', {
      release: (vm) => {
        vm.close();
        vm.put();
      },
    });
    this.#tables.set('gem', this.gem as HandleTable<unknown>);
    this.#tables.set('syncobj', this.syncobjs as HandleTable<unknown>);
  }

  get runtime(): Runtime {
    return this.dev.runtime;
  }

  /** True once {@link DrmFile.close} was called (the release may still be pending). */
  get closed(): boolean {
    return this.#state !== 'open';
  }

  /** True once the release ran (every handle put). */
  get released(): boolean {
    return this.#state === 'closed';
  }

  /** Ioctls of this file running right now. */
  get inflight(): number {
    return this.#inflight;
  }

  // --- tables ----------------------------------------------------------------------------

  /**
   * A new per-file handle table for a driver's objects (exec queues, contexts, VMs …),
   * released with `options.release` for each entry when the file is closed (after the
   * driver's {@link DrmFile.postclose}; newest table first). EEXIST if the name is taken.
   */
  createTable<T>(name: string, options: HandleTableOptions<T> = {}): HandleTable<T> {
    if (this.#tables.has(name)) throw new DepError('EEXIST', `${this.label}: a handle table named ${name} already exists`);
    const table = new HandleTable<T>(this.runtime, name, options);
    this.#tables.set(name, table as HandleTable<unknown>);
    return table;
  }

  /** The table named `name` (`gem`, `syncobj`, `vm`, or a driver's). ENOENT if there is none. */
  table<T = unknown>(name: string): HandleTable<T> {
    const t = this.#tables.get(name);
    if (t === undefined) throw new DepError('ENOENT', `${this.label}: no handle table named ${name} (tables: ${[...this.#tables.keys()].join(', ')})`);
    return t as HandleTable<T>;
  }

  /** Names of the tables, in creation order. */
  get tableNames(): readonly string[] {
    return [...this.#tables.keys()];
  }

  // --- the ioctl frame ------------------------------------------------------------------

  /**
   * Run one ioctl: EBADF on a closed file, EOPNOTSUPP when the device lacks the schema's
   * feature, then `schema.validate(args)` (nothing has changed if it throws), then `body`.
   * Traced as `drm:ioctl` (an `X` slice) when tracing is on. Drivers implement their
   * ioctls with it.
   */
  async ioctl<F extends Fields, R>(schema: IoctlSchema<F>, args: unknown, body: (args: Parsed<F>) => R | Promise<R>): Promise<R> {
    const rt = this.runtime;
    const start = rt.now();
    let ret = 0;
    this.#inflight++;
    try {
      if (this.#state !== 'open') throw new DepError('EBADF', `${schema.name}: file ${this.label} is closed`);
      if (schema.feature !== undefined && !this.dev.hasFeature(schema.feature as DrmFeature)) {
        throw new DepError('EOPNOTSUPP', `${schema.name}: ${this.dev.driverName} does not support ${schema.feature}`);
      }
      const a = schema.validate(args);
      return await body(a);
    } catch (e) {
      // A non-DepError is a bug in the body: traced as -EIO.
      ret = isDepError(e) ? e.errno : -5;
      throw e;
    } finally {
      this.#inflight--;
      if (rt.trace.enabled) rt.trace.emit('drm:ioctl', { file: this.label, ioctl: schema.name, ret }, { ph: 'X', ts: start, dur: rt.now() - start });
      if (this.#state === 'closing' && this.#inflight === 0) await this.#release();
    }
  }

  // --- GEM helpers (driver-facing) -------------------------------------------------------

  /** `drm_gem_object_lookup()`: the object behind `handle` with a new reference (put it), or null. */
  gemLookup(handle: number): GemObject | null {
    const obj = this.gem.lookup(handle);
    return obj === undefined ? null : obj.get();
  }

  /**
   * `drm_gem_objects_lookup()`: every object of `handles`, each with a reference (put them);
   * ENOENT (nothing held) if one names nothing.
   */
  gemLookupArray(handles: readonly number[]): GemObject[] {
    const out: GemObject[] = [];
    for (const h of handles) {
      const obj = this.gem.lookup(h);
      if (obj === undefined) {
        for (const o of out) o.put();
        throw new DepError('ENOENT', `${this.label}: GEM handle ${h} names no object of this file`);
      }
      out.push(obj.get());
    }
    return out;
  }

  /**
   * `drm_gem_handle_create()`: a new handle for `obj` in this file (the first handle of an
   * object takes the handles' reference). ENOMEM under fault injection
   * (`drm_gem_handle_create`), or whatever the driver's `open` hook throws: nothing changed.
   */
  gemHandleCreate(obj: GemObject): number {
    obj._alive('drm_gem_handle_create');
    if (obj._handleCount++ === 0) obj.get();
    let handle: number;
    try {
      handle = this.gem.alloc(obj);
    } catch (e) {
      this.#handlePut(obj);
      throw e;
    }
    try {
      obj.funcs.open?.(obj, this);
    } catch (e) {
      this.gem.remove(handle);
      this.#handlePut(obj);
      throw e;
    }
    return handle;
  }

  /** `drm_gem_handle_delete()`: EINVAL if `handle` names nothing. */
  gemHandleDelete(handle: number): void {
    const obj = this.gem.remove(handle);
    if (obj === undefined) throw new DepError('EINVAL', `DRM_IOCTL_GEM_CLOSE: GEM handle ${handle} names no object of ${this.label}`);
    this.#releaseHandle(handle, obj);
  }

  /** `drm_gem_object_release_handle()`. */
  #releaseHandle(handle: number, obj: GemObject): void {
    obj.funcs.close?.(obj, this);
    // drm_gem_remove_prime_handles()
    const buf = this.#primeByHandle.get(handle);
    if (buf !== undefined) {
      this.#primeByHandle.delete(handle);
      if (this.#primeByBuf.get(buf) === handle) {
        this.#primeByBuf.delete(buf);
        // another handle of this file may still cache the same dma-buf
        for (const [h, b] of this.#primeByHandle) {
          if (b === buf) {
            this.#primeByBuf.set(buf, h);
            break;
          }
        }
      }
      buf.put();
    }
    this.#handlePut(obj);
  }

  /** `drm_gem_object_handle_put_unlocked()`. */
  #handlePut(obj: GemObject): void {
    if (--obj._handleCount !== 0) return;
    this.dev._unname(obj);
    const buf = obj._dmaBuf;
    if (buf !== null) {
      obj._dmaBuf = null;
      buf.put();
    }
    obj.put();
  }

  // --- syncobj helpers (driver-facing) ---------------------------------------------------

  /** `drm_syncobj_find()`: the syncobj behind `handle` with a new reference (put it), or null. */
  syncobjFind(handle: number): Syncobj | null {
    const s = this.syncobjs.lookup(handle);
    return s === undefined ? null : s.get();
  }

  /** `drm_syncobj_get_handle()`: a new handle for `syncobj` (its own reference). ENOMEM under fault injection. */
  syncobjGetHandle(syncobj: Syncobj): number {
    syncobj.get();
    try {
      return this.syncobjs.alloc(syncobj);
    } catch (e) {
      syncobj.put();
      throw e;
    }
  }

  /**
   * `drm_syncobj_find_fence(file, handle, point, flags, &fence)`: the fence for `point` of
   * the syncobj `handle` (a reference: put it). EINVAL for flags other than
   * WAIT_FOR_SUBMIT; ENOENT for a handle naming nothing; then the container's rules (EINVAL
   * when there is no fence and no WAIT_FOR_SUBMIT, ETIME/ERESTARTSYS from the wait for
   * submission). What a driver's submit uses for its in-syncs.
   */
  async syncobjFindFence(handle: number, point: bigint, flags = 0, options: SyncobjFindFenceOptions = {}): Promise<Fence> {
    if (typeof flags !== 'number' || (flags & ~SyncobjWaitFlags.WAIT_FOR_SUBMIT) !== 0) throw new DepError('EINVAL', `drm_syncobj_find_fence: unknown flags ${String(flags)}`);
    const s = this.syncobjFind(handle);
    if (s === null) throw new DepError('ENOENT', `drm_syncobj_find_fence: syncobj handle ${handle} names nothing in ${this.label}`);
    try {
      return await s.findFence(point, flags, options);
    } finally {
      s.put();
    }
  }

  /** `drm_syncobj_array_find()`: references on every syncobj of `handles`; ENOENT (nothing held) if one names nothing. */
  #syncobjArrayFind(handles: readonly number[], who: string): Syncobj[] {
    const out: Syncobj[] = [];
    for (const h of handles) {
      const s = this.syncobjs.lookup(h);
      if (s === undefined) {
        for (const o of out) o.put();
        throw new DepError('ENOENT', `${who}: syncobj handle ${h} names nothing in ${this.label}`);
      }
      out.push(s.get());
    }
    return out;
  }

  // --- GEM ioctls --------------------------------------------------------------------------

  /**
   * The model's generic GEM create (a driver's BO-create ioctl): a new object of `size`
   * bytes in system memory (or vram with `GemCreateFlags.VRAM`), private to VM `vmId` if
   * non-zero (ENOENT if it names no VM), and a handle to it. ENOSPC/ENOMEM when memory is
   * short; nothing is left behind on any error.
   */
  async gemCreate(args: IoctlArgs<typeof GEM_CREATE>): Promise<{ readonly handle: number; readonly size: bigint }> {
    return this.ioctl(GEM_CREATE, args, async (a) => {
      let vm: GpuVm | null = null;
      if (a.vmId !== 0) {
        const v = this.vms.lookup(a.vmId);
        if (v === undefined) throw new DepError('ENOENT', `${GEM_CREATE.name}: vm_id ${a.vmId} names no VM of ${this.label}`);
        vm = v.get();
      }
      try {
        const obj = await this.dev.gemObjectCreate({ size: a.size, region: (a.flags & GemCreateFlags.VRAM) !== 0 ? 'vram' : 'system', vm });
        try {
          return { handle: this.gemHandleCreate(obj), size: obj.size };
        } finally {
          obj.put();
        }
      } finally {
        vm?.put();
      }
    });
  }

  /** `DRM_IOCTL_GEM_CLOSE`: delete the handle (EINVAL if it names nothing: the kernel's code). */
  async gemClose(args: IoctlArgs<typeof GEM_CLOSE>): Promise<void> {
    return this.ioctl(GEM_CLOSE, args, (a) => {
      this.gemHandleDelete(a.handle);
    });
  }

  /** `DRM_IOCTL_GEM_FLINK`: a device-wide name for the object (the same one on every call). ENOENT for a bad handle. */
  async gemFlink(args: IoctlArgs<typeof GEM_FLINK>): Promise<{ readonly name: number }> {
    return this.ioctl(GEM_FLINK, args, (a) => {
      const obj = this.gemLookup(a.handle);
      if (obj === null) throw new DepError('ENOENT', `${GEM_FLINK.name}: GEM handle ${a.handle} names no object of ${this.label}`);
      try {
        if (obj._handleCount === 0) throw new DepError('ENOENT', `${GEM_FLINK.name}: the object has no handle left`);
        return { name: this.dev._flink(obj) };
      } finally {
        obj.put();
      }
    });
  }

  /** `DRM_IOCTL_GEM_OPEN`: a handle in this file for a flink name (ENOENT if the name is unknown). */
  async gemOpen(args: IoctlArgs<typeof GEM_OPEN>): Promise<{ readonly handle: number; readonly size: bigint }> {
    return this.ioctl(GEM_OPEN, args, (a) => {
      const obj = this.dev.lookupName(a.name);
      if (obj === undefined) throw new DepError('ENOENT', `${GEM_OPEN.name}: no object is named ${a.name} on ${this.dev.name}`);
      obj.get();
      try {
        return { handle: this.gemHandleCreate(obj), size: obj.size };
      } finally {
        obj.put();
      }
    });
  }

  // --- PRIME ioctls ------------------------------------------------------------------------

  /**
   * `DRM_IOCTL_PRIME_HANDLE_TO_FD` (`drm_gem_prime_handle_to_dmabuf`): a dma-buf fd for
   * the object — the same dma-buf every time (cached on the object while it has handles;
   * an imported object re-exports the dma-buf it came from). ENOENT for a bad handle;
   * the driver's export veto (default: EINVAL for a VM-private object); ENOMEM.
   */
  async primeHandleToFd(args: IoctlArgs<typeof PRIME_HANDLE_TO_FD>): Promise<{ readonly fd: DmaBufFd }> {
    return this.ioctl(PRIME_HANDLE_TO_FD, args, (a) => {
      const rt = this.runtime;
      const obj = this.gemLookup(a.handle);
      if (obj === null) throw new DepError('ENOENT', `${PRIME_HANDLE_TO_FD.name}: GEM handle ${a.handle} names no object of ${this.label}`);
      try {
        const cached = this.#primeByHandle.get(a.handle);
        if (cached !== undefined) return { fd: new DmaBufFd(cached.get(), a.flags) };
        // The file's cache entry is allocated first, so a failure leaves nothing behind.
        rt.alloc('GFP_KERNEL', 'drm_prime_add_buf_handle');
        let buf = obj.importAttach ?? obj._dmaBuf;
        if (buf !== null) {
          buf.get();
        } else {
          if (obj._handleCount === 0) throw new DepError('ENOENT', `${PRIME_HANDLE_TO_FD.name}: the object has no handle left`);
          if (obj.funcs.export !== undefined) obj.funcs.export(obj);
          else if (obj.vm !== null) throw new DepError('EINVAL', `${PRIME_HANDLE_TO_FD.name}: ${obj.name} is private to a VM and cannot be exported`);
          buf = new DmaBuf(obj);
          obj._dmaBuf = buf.get();
        }
        this.#primeAdd(buf, a.handle);
        if (rt.trace.enabled) rt.trace.emit('drm:prime_export', { file: this.label, obj: obj.id, dmabuf: buf.id });
        return { fd: new DmaBufFd(buf, a.flags) };
      } finally {
        obj.put();
      }
    });
  }

  /**
   * `DRM_IOCTL_PRIME_FD_TO_HANDLE` (`drm_gem_prime_fd_to_handle`): a handle for the
   * dma-buf — the same handle if this file imported it before; the exporter's own object
   * when it comes from this device; else a new object attached to it, sharing its resv and
   * backing store (`drm_gem_prime_import`). EBADF for a closed or bogus fd, EINVAL for an
   * fd of another kind, ENOMEM; nothing changes on error.
   */
  async primeFdToHandle(args: IoctlArgs<typeof PRIME_FD_TO_HANDLE>): Promise<{ readonly handle: number }> {
    return this.ioctl(PRIME_FD_TO_HANDLE, args, (a) => {
      const rt = this.runtime;
      const buf = a.fd.dmaBuf;
      const known = this.#primeByBuf.get(buf);
      if (known !== undefined) return { handle: known };
      rt.alloc('GFP_KERNEL', 'drm_prime_add_buf_handle');
      const foreign = buf.exporter !== this.dev;
      let obj: GemObject;
      if (!foreign) {
        obj = buf.obj.get();
      } else {
        obj = new GemObject(this.dev, { size: buf.size, buffer: buf.buffer, importAttach: buf, name: `${this.dev.name}:import${buf.id}` });
      }
      if (obj._dmaBuf === null) obj._dmaBuf = buf.get();
      let handle: number;
      try {
        handle = this.gemHandleCreate(obj);
      } finally {
        obj.put();
      }
      this.#primeAdd(buf, handle);
      if (rt.trace.enabled) rt.trace.emit('drm:prime_import', { file: this.label, dmabuf: buf.id, handle, foreign });
      return { handle };
    });
  }

  /** `drm_prime_add_buf_handle()`: the cache entry holds a dma-buf reference (allocated by the caller beforehand). */
  #primeAdd(buf: DmaBuf, handle: number): void {
    this.#primeByHandle.set(handle, buf.get());
    if (!this.#primeByBuf.has(buf)) this.#primeByBuf.set(buf, handle);
  }

  /** @internal The prime cache (`handle → dma-buf id`), for snapshots. */
  _primeEntries(): Array<[number, DmaBuf]> {
    return [...this.#primeByHandle].sort((x, y) => x[0] - y[0]);
  }

  // --- syncobj ioctls ----------------------------------------------------------------------

  /** `DRM_IOCTL_SYNCOBJ_CREATE`: a new syncobj (signalled with `SIGNALED`) and its handle. */
  async syncobjCreate(args: IoctlArgs<typeof SYNCOBJ_CREATE> = {}): Promise<{ readonly handle: number }> {
    return this.ioctl(SYNCOBJ_CREATE, args, (a) => {
      const s = Syncobj.create({ flags: a.flags, runtime: this.runtime });
      let handle: number;
      try {
        handle = this.syncobjGetHandle(s);
      } finally {
        s.put();
      }
      const rt = this.runtime;
      if (rt.trace.enabled) rt.trace.emit('drm:syncobj_create', { file: this.label, handle, signaled: (a.flags & SyncobjCreateFlags.SIGNALED) !== 0 });
      return { handle };
    });
  }

  /** `DRM_IOCTL_SYNCOBJ_DESTROY`: drop the handle (EINVAL if it names nothing). */
  async syncobjDestroy(args: IoctlArgs<typeof SYNCOBJ_DESTROY>): Promise<void> {
    return this.ioctl(SYNCOBJ_DESTROY, args, (a) => {
      const s = this.syncobjs.remove(a.handle);
      if (s === undefined) throw new DepError('EINVAL', `${SYNCOBJ_DESTROY.name}: syncobj handle ${a.handle} names nothing in ${this.label}`);
      s.put();
      const rt = this.runtime;
      if (rt.trace.enabled) rt.trace.emit('drm:syncobj_destroy', { file: this.label, handle: a.handle });
    });
  }

  /**
   * `DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD`: without flags, a {@link SyncobjFd} for the syncobj
   * itself (EINVAL for a bad handle); with `EXPORT_SYNC_FILE`, a `SyncFile` snapshotting
   * its fence (at `point` with `TIMELINE`; ENOENT for a bad handle, EINVAL when there is no
   * fence).
   */
  async syncobjHandleToFd(args: IoctlArgs<typeof SYNCOBJ_HANDLE_TO_FD> & { readonly flags?: 0 | 2 }): Promise<{ readonly fd: SyncobjFd }>;
  async syncobjHandleToFd(args: IoctlArgs<typeof SYNCOBJ_HANDLE_TO_FD> & { readonly flags: 1 | 3 }): Promise<{ readonly fd: SyncFile }>;
  async syncobjHandleToFd(args: IoctlArgs<typeof SYNCOBJ_HANDLE_TO_FD>): Promise<{ readonly fd: SyncobjFd | SyncFile }>;
  async syncobjHandleToFd(args: IoctlArgs<typeof SYNCOBJ_HANDLE_TO_FD>): Promise<{ readonly fd: SyncobjFd | SyncFile }> {
    return this.ioctl(SYNCOBJ_HANDLE_TO_FD, args, (a) => {
      const exportSyncFile = (a.flags & SyncobjHandleToFdFlags.EXPORT_SYNC_FILE) !== 0;
      const s = this.syncobjFind(a.handle);
      if (s === null) {
        throw new DepError(exportSyncFile ? 'ENOENT' : 'EINVAL', `${SYNCOBJ_HANDLE_TO_FD.name}: syncobj handle ${a.handle} names nothing in ${this.label}`);
      }
      try {
        if (!exportSyncFile) return { fd: new SyncobjFd(s) };
        const point = (a.flags & SyncobjHandleToFdFlags.TIMELINE) !== 0 ? a.point : 0n;
        return { fd: s.exportSyncFile(point) };
      } finally {
        s.put();
      }
    });
  }

  /**
   * `DRM_IOCTL_SYNCOBJ_FD_TO_HANDLE`: without flags, a new handle to the syncobj of a
   * {@link SyncobjFd} (every import makes a new handle); with `IMPORT_SYNC_FILE`, the
   * sync_file's fence goes into the existing syncobj `handle` (ENOENT if it names nothing),
   * at `point` with `TIMELINE`. The returned handle is the one written.
   */
  async syncobjFdToHandle(args: IoctlArgs<typeof SYNCOBJ_FD_TO_HANDLE>): Promise<{ readonly handle: number }> {
    return this.ioctl(SYNCOBJ_FD_TO_HANDLE, args, (a) => {
      if ((a.flags & SyncobjFdToHandleFlags.IMPORT_SYNC_FILE) === 0) {
        return { handle: this.syncobjGetHandle((a.fd as SyncobjFd).syncobj) };
      }
      const s = this.syncobjFind(a.handle);
      if (s === null) throw new DepError('ENOENT', `${SYNCOBJ_FD_TO_HANDLE.name}: syncobj handle ${a.handle} names nothing in ${this.label}`);
      try {
        const point = (a.flags & SyncobjFdToHandleFlags.TIMELINE) !== 0 ? a.point : 0n;
        s.importSyncFile(a.fd as SyncFile, point);
        return { handle: a.handle };
      } finally {
        s.put();
      }
    });
  }

  async #arrayWait(who: string, handles: readonly number[], points: readonly bigint[] | null, flags: number, timeoutNsec: bigint, deadlineNsec: bigint, options: IoctlWaitOptions): Promise<SyncobjWaitResult> {
    if (handles.length === 0) return { firstSignaled: U32_MAX };
    const rt = this.runtime;
    const syncobjs = this.#syncobjArrayFind(handles, who);
    try {
      const timeout = timeoutAbsToMs(rt, timeoutNsec);
      const r = await Syncobj.arrayWaitTimeout(syncobjs, points, flags, timeout, {
        ...(options.signal === undefined ? {} : { signal: options.signal }),
        ...((flags & SyncobjWaitFlags.WAIT_DEADLINE) !== 0 ? { deadline: nsToMs(deadlineNsec) } : {}),
      });
      if (rt.trace.enabled) rt.trace.emit('drm:syncobj_wait', { file: this.label, handles: handles.join(','), flags, ret: r.ret < 0 ? r.ret : 0, first: r.first });
      if (r.ret === ETIME) throw new DepError('ETIME', `${who}: the syncobjs did not signal before the timeout`);
      if (r.ret === ERESTARTSYS) throw new DepError('ERESTARTSYS', `${who}: interrupted`);
      return { firstSignaled: r.first < 0 ? U32_MAX : r.first };
    } finally {
      for (const s of syncobjs) s.put();
    }
  }

  /**
   * `DRM_IOCTL_SYNCOBJ_WAIT`: wait until one (or, with WAIT_ALL, every) syncobj's fence has
   * signalled, or the absolute `timeoutNsec` passes (ETIME; 0 polls). A syncobj without a
   * fence is EINVAL unless WAIT_FOR_SUBMIT, which waits for one to be installed. Resolves
   * with the index of the first signalled one. ENOENT for a bad handle; ERESTARTSYS when
   * `options.signal` fires.
   */
  async syncobjWait(args: IoctlArgs<typeof SYNCOBJ_WAIT>, options: IoctlWaitOptions = {}): Promise<SyncobjWaitResult> {
    return this.ioctl(SYNCOBJ_WAIT, args, (a) => this.#arrayWait(SYNCOBJ_WAIT.name, a.handles, null, a.flags, a.timeoutNsec, a.deadlineNsec, options));
  }

  /** `DRM_IOCTL_SYNCOBJ_TIMELINE_WAIT`: {@link DrmFile.syncobjWait} at a point per syncobj, plus WAIT_AVAILABLE (wait until the point exists). */
  async syncobjTimelineWait(args: IoctlArgs<typeof SYNCOBJ_TIMELINE_WAIT>, options: IoctlWaitOptions = {}): Promise<SyncobjWaitResult> {
    return this.ioctl(SYNCOBJ_TIMELINE_WAIT, args, (a) => {
      const points = a.points.length === 0 ? null : a.points;
      return this.#arrayWait(SYNCOBJ_TIMELINE_WAIT.name, a.handles, points, a.flags, a.timeoutNsec, a.deadlineNsec, options);
    });
  }

  /** `DRM_IOCTL_SYNCOBJ_RESET`: empty every syncobj (ENOENT for a bad handle, nothing changed). */
  async syncobjReset(args: IoctlArgs<typeof SYNCOBJ_RESET>): Promise<void> {
    return this.ioctl(SYNCOBJ_RESET, args, (a) => {
      const syncobjs = this.#syncobjArrayFind(a.handles, SYNCOBJ_RESET.name);
      for (const s of syncobjs) {
        s.reset();
        s.put();
      }
      const rt = this.runtime;
      if (rt.trace.enabled) rt.trace.emit('drm:syncobj_reset', { file: this.label, handles: a.handles.join(',') });
    });
  }

  /**
   * `DRM_IOCTL_SYNCOBJ_SIGNAL`: give every syncobj a new signalled fence (ENOENT for a bad
   * handle, nothing changed). As in the kernel, an allocation failure (ENOMEM) stops the
   * loop: the syncobjs before it are signalled.
   */
  async syncobjSignal(args: IoctlArgs<typeof SYNCOBJ_SIGNAL>): Promise<void> {
    return this.ioctl(SYNCOBJ_SIGNAL, args, (a) => {
      const syncobjs = this.#syncobjArrayFind(a.handles, SYNCOBJ_SIGNAL.name);
      try {
        for (const s of syncobjs) s.signal();
      } finally {
        for (const s of syncobjs) s.put();
      }
      const rt = this.runtime;
      if (rt.trace.enabled) rt.trace.emit('drm:syncobj_signal', { file: this.label, handles: a.handles.join(','), points: '' });
    });
  }

  /**
   * `DRM_IOCTL_SYNCOBJ_TIMELINE_SIGNAL`: add a signalled point to each syncobj (points
   * absent: 0). Every chain node is allocated first, so ENOMEM changes nothing.
   */
  async syncobjTimelineSignal(args: IoctlArgs<typeof SYNCOBJ_TIMELINE_SIGNAL>): Promise<void> {
    return this.ioctl(SYNCOBJ_TIMELINE_SIGNAL, args, (a) => {
      const syncobjs = this.#syncobjArrayFind(a.handles, SYNCOBJ_TIMELINE_SIGNAL.name);
      try {
        const rt = this.runtime;
        const chains = syncobjs.map(() => DmaFenceChain.alloc(rt));
        for (let i = 0; i < syncobjs.length; i++) {
          const stub = getStub(rt);
          syncobjs[i]!.addPoint(stub, a.points[i] ?? 0n, chains[i]);
          stub.put();
        }
        if (rt.trace.enabled) rt.trace.emit('drm:syncobj_signal', { file: this.label, handles: a.handles.join(','), points: a.points.join(',') });
      } finally {
        for (const s of syncobjs) s.put();
      }
    });
  }

  /** `DRM_IOCTL_SYNCOBJ_QUERY`: the last signalled (or, with LAST_SUBMITTED, submitted) point of each syncobj. */
  async syncobjQuery(args: IoctlArgs<typeof SYNCOBJ_QUERY>): Promise<{ readonly points: readonly bigint[] }> {
    return this.ioctl(SYNCOBJ_QUERY, args, (a) => {
      const syncobjs = this.#syncobjArrayFind(a.handles, SYNCOBJ_QUERY.name);
      try {
        return { points: syncobjs.map((s) => s.query(a.flags)) };
      } finally {
        for (const s of syncobjs) s.put();
      }
    });
  }

  /**
   * `DRM_IOCTL_SYNCOBJ_TRANSFER`: take the fence of `srcHandle` at `srcPoint` (waiting for
   * it with WAIT_FOR_SUBMIT) and install it in `dstHandle` at `dstPoint` (0: replace the
   * binary fence). ENOENT for either bad handle (the destination is looked up first).
   */
  async syncobjTransfer(args: IoctlArgs<typeof SYNCOBJ_TRANSFER>): Promise<void> {
    return this.ioctl(SYNCOBJ_TRANSFER, args, async (a) => {
      const dst = this.syncobjFind(a.dstHandle);
      if (dst === null) throw new DepError('ENOENT', `${SYNCOBJ_TRANSFER.name}: destination handle ${a.dstHandle} names nothing in ${this.label}`);
      try {
        const src = this.syncobjFind(a.srcHandle);
        if (src === null) throw new DepError('ENOENT', `${SYNCOBJ_TRANSFER.name}: source handle ${a.srcHandle} names nothing in ${this.label}`);
        try {
          await Syncobj.transfer(src, a.srcPoint, dst, a.dstPoint, a.flags);
        } finally {
          src.put();
        }
        const rt = this.runtime;
        if (rt.trace.enabled) rt.trace.emit('drm:syncobj_transfer', { file: this.label, src: a.srcHandle, dst: a.dstHandle, srcPoint: a.srcPoint, dstPoint: a.dstPoint });
      } finally {
        dst.put();
      }
    });
  }

  // --- close -------------------------------------------------------------------------------

  /**
   * `close(fd)`: from now on every ioctl fails with EBADF. The release (`drm_file_free`:
   * put every syncobj and GEM handle, the driver's {@link DrmFile.postclose}, then every other
   * table's entries, newest table first) runs now if no ioctl is in flight — this promise
   * resolves when it is done — else when the last one returns. EBADF if already closed.
   */
  async close(): Promise<void> {
    if (this.#state !== 'open') throw new DepError('EBADF', `close: file ${this.label} is already closed`);
    this.#state = 'closing';
    const rt = this.runtime;
    if (rt.trace.enabled) rt.trace.emit('drm:file_close', { file: this.label });
    if (this.#inflight === 0) await this.#release();
  }

  /** Wait (sleeps) until the release ran (after a {@link DrmFile.close} with ioctls in flight). */
  async whenReleased(): Promise<void> {
    if (this.#state === 'closed') return;
    await this.runtime.sleepOn<true>(`release of ${this.label}`, (w) => {
      this.#releaseWaiters.push(w);
    });
  }

  /**
   * The driver's `postclose` hook: runs during the release, after the syncobj and GEM
   * handles were put and before the other tables are drained. Override it to tear down
   * what the driver keeps per file. May sleep.
   */
  protected async postclose(): Promise<void> {}

  async #release(): Promise<void> {
    if (this.#state !== 'closing') return;
    this.#state = 'releasing';
    // drm_syncobj_release()
    for (const [, s] of this.syncobjs._drain()) s.put();
    // drm_gem_release()
    for (const [h, obj] of this.gem._drain()) this.#releaseHandle(h, obj);
    await this.postclose();
    const tables = [...this.#tables.values()].filter((t) => t !== this.gem && t !== this.syncobjs).reverse();
    for (const t of tables) {
      for (const [h, obj] of t._drain()) await t._release?.(obj, h);
    }
    // drm_prime_destroy_file_private(): nothing should be left.
    for (const buf of this.#primeByHandle.values()) buf.put();
    this.#primeByHandle.clear();
    this.#primeByBuf.clear();
    this.#state = 'closed';
    this.dev._fileClosed(this);
    for (const w of this.#releaseWaiters.splice(0)) w.wake(true);
  }

  toString(): string {
    return `DrmFile ${this.label}${this.closed ? ' (closed)' : ''}`;
  }
}
