/**
 * PRIME (drivers/gpu/drm/drm_prime.c) and the dma-buf it exports: a buffer shared across
 * files and devices, with the exporter's reservation object, passed around as a
 * file-descriptor-like token ({@link DmaBufFd}).
 */
import type { SyncFile } from '@dep/dma-fence';
import type { DmaResv } from '@dep/dma-resv';
import type { HwBuffer } from '@dep/hw-sim';
import { DepError, GFP_KERNEL, Kref } from '@dep/kernel';
import type { DrmDevice } from './device.js';
import { dmaBufExportSyncFile, dmaBufImportSyncFile, type DMA_BUF_EXPORT_SYNC_FILE, type DMA_BUF_IMPORT_SYNC_FILE } from './dma-buf-sync-file.js';
import type { GemObject } from './gem.js';
import type { Args } from './validate.js';

/**
 * `struct dma_buf` exported from a GEM object (`drm_gem_prime_export`): it holds a
 * reference on the exporter's object, shares its reservation object and backing store.
 * Refcounted like the kernel's `struct file` behind it (`get_dma_buf` / `dma_buf_put`):
 * each fd, each file's prime cache entry and the object's `dma_buf` pointer hold one.
 */
export class DmaBuf {
  /** The exporting device. */
  readonly exporter: DrmDevice;
  /** The exporter's object (`dmabuf->priv`). */
  readonly obj: GemObject;
  readonly size: bigint;
  /** `dmabuf->resv`: the exporter's object's reservation object. */
  readonly resv: DmaResv;
  /** Device-wide serial of the exporter (snapshots, traces). */
  readonly id: number;
  readonly #kref: Kref;

  /** @internal `dma_buf_export()`: made by the exporting file's prime export. */
  constructor(obj: GemObject) {
    const rt = obj.dev.runtime;
    rt.alloc(GFP_KERNEL, 'dma_buf_export');
    this.exporter = obj.dev;
    this.obj = obj.get();
    this.size = obj.size;
    this.resv = obj.resv;
    this.id = obj.dev._nextId();
    this.#kref = new Kref(rt, () => this.#release(), { kind: 'dma_buf', owner: this, site: `dma-buf of ${obj.name}` });
  }

  /** The exporter's backing store (an importer's device reaches it through its attachment). */
  get buffer(): HwBuffer | null {
    return this.obj.buffer;
  }

  /** `file_count(dmabuf->file)`. */
  get refcount(): number {
    return this.#kref.read();
  }

  /** True once the last reference went. */
  get released(): boolean {
    return this.#kref.read() === 0;
  }

  /** `get_dma_buf()`. */
  get(): this {
    this.#kref.get();
    return this;
  }

  /** `dma_buf_put()`: the last one releases the dma-buf (`drm_gem_dmabuf_release`: put the exporter's object). */
  put(): void {
    this.#kref.put();
  }

  #release(): void {
    this.obj.put();
  }

  toString(): string {
    return `DmaBuf #${this.id} of ${this.obj.name}`;
  }
}

/**
 * A file descriptor referring to a {@link DmaBuf} (what `DRM_IOCTL_PRIME_HANDLE_TO_FD`
 * returns and `DRM_IOCTL_PRIME_FD_TO_HANDLE` takes). Pass it to another client to share the
 * buffer; {@link DmaBufFd.close} drops its reference (a second close is EBADF).
 */
export class DmaBufFd {
  #buf: DmaBuf | null;
  /** Whether `DRM_CLOEXEC` was asked for (informational). */
  readonly cloexec: boolean;
  /** Whether `DRM_RDWR` was asked for (informational). */
  readonly rdwr: boolean;

  /** @internal Takes over one reference of `buf`. */
  constructor(buf: DmaBuf, flags = 0) {
    this.#buf = buf;
    this.cloexec = (flags & 0o2000000) !== 0;
    this.rdwr = (flags & 2) !== 0;
  }

  /** True once closed. */
  get closed(): boolean {
    return this.#buf === null;
  }

  /** The dma-buf (EBADF once closed). */
  get dmaBuf(): DmaBuf {
    const b = this.#buf;
    if (b === null) throw new DepError('EBADF', 'dma-buf fd: it was closed; keep it open while you use it');
    return b;
  }

  /**
   * `DMA_BUF_IOCTL_EXPORT_SYNC_FILE` on this fd: `{ flags }` (`DmaBufSyncFlags` READ,
   * WRITE or RW) → `{ fd: SyncFile }` holding the fences an access of that kind must wait
   * for (see {@link dmaBufExportSyncFile}). EBADF once closed, EINVAL for bad flags,
   * ENOMEM under fault injection; nothing changes on error.
   */
  async exportSyncFile(args: Args<typeof DMA_BUF_EXPORT_SYNC_FILE.spec>): Promise<{ readonly fd: SyncFile }> {
    return dmaBufExportSyncFile(this.dmaBuf, args);
  }

  /**
   * `DMA_BUF_IOCTL_IMPORT_SYNC_FILE` on this fd: `{ flags, fd: SyncFile }` adds the
   * sync_file's fences to the dma-buf's resv as WRITE (flags has WRITE) or READ fences
   * (see {@link dmaBufImportSyncFile}). Sleeps (the resv lock). EBADF once closed, EINVAL
   * for bad flags or a closed/non sync_file, ENOMEM when the slots cannot be reserved;
   * nothing changes on error. The sync_file stays open (the caller closes it).
   */
  async importSyncFile(args: Args<typeof DMA_BUF_IMPORT_SYNC_FILE.spec>): Promise<void> {
    return dmaBufImportSyncFile(this.dmaBuf, args);
  }

  /** `close(fd)`: drop this fd's reference. EBADF if already closed. */
  close(): void {
    const b = this.dmaBuf;
    this.#buf = null;
    b.put();
  }

  toString(): string {
    return this.#buf === null ? 'DmaBufFd (closed)' : `DmaBufFd → ${this.#buf.toString()}`;
  }
}

/** True for an open {@link DmaBufFd}. */
export function isOpenDmaBufFd(v: unknown): v is DmaBufFd {
  return v instanceof DmaBufFd && !v.closed;
}
