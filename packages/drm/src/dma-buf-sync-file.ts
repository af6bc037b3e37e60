/**
 * `DMA_BUF_IOCTL_EXPORT_SYNC_FILE` and `DMA_BUF_IOCTL_IMPORT_SYNC_FILE`
 * (drivers/dma-buf/dma-buf.c, include/uapi/linux/dma-buf.h): the bridge between a
 * dma-buf's implicit sync (the fences in its reservation object) and explicit sync
 * (sync_files). Export snapshots the fences an access must wait for into a sync_file;
 * import adds a sync_file's fences to the resv as if an implicitly synced access had made
 * them. This is how userspace that only speaks explicit sync (Vulkan, a driver that adds
 * only BOOKKEEP fences) takes part in implicit sync with others.
 */
import { DmaResvUsage, usageRw } from '@dep/dma-resv';
import { SyncFile, getStub, unwrapForEach, type Fence } from '@dep/dma-fence';
import { DepError, isDepError } from '@dep/kernel';
import type { DmaBuf } from './prime.js';
import { defineIoctl, fd, flags, rule, type Args, type Field, type Fields, type Rule } from './validate.js';

/** `DMA_BUF_SYNC_*` (include/uapi/linux/dma-buf.h): the access the sync_file is about. */
export const DmaBufSyncFlags = {
  /** `DMA_BUF_SYNC_READ`: a read access. */
  READ: 1,
  /** `DMA_BUF_SYNC_WRITE`: a write access. */
  WRITE: 2,
  /** `DMA_BUF_SYNC_RW`: both. */
  RW: 3,
} as const;

const { WRITE, RW } = DmaBufSyncFlags;

function isOpenSyncFile(v: unknown): v is SyncFile {
  return v instanceof SyncFile && !v.closed;
}

/** The check both ioctls make after the unknown-bits one: the access is READ, WRITE or both. */
function needsAccess<F extends { readonly flags: Field<number> } & Fields>(): Rule<F> {
  return rule<F>(
    'flags name READ or WRITE',
    'EINVAL',
    (a) => (((a.flags as number) & RW) === 0 ? 'flags must include DMA_BUF_SYNC_READ, DMA_BUF_SYNC_WRITE or both' : null),
    (v) => [{ why: 'flags 0 (neither READ nor WRITE)', args: { ...v, flags: 0 } }],
  );
}

/**
 * `struct dma_buf_export_sync_file` (in: flags; out: fd). Unknown flag bits and flags
 * naming neither READ nor WRITE are EINVAL.
 */
export const DMA_BUF_EXPORT_SYNC_FILE = defineIoctl('DMA_BUF_IOCTL_EXPORT_SYNC_FILE', { flags: flags(RW) }, { rules: [needsAccess()] });

/**
 * `struct dma_buf_import_sync_file` (flags, fd). Unknown flag bits and flags naming
 * neither READ nor WRITE are EINVAL (checked first, as the kernel does); an fd that is no
 * open sync_file is EINVAL (`sync_file_get_fence()` returned NULL).
 */
export const DMA_BUF_IMPORT_SYNC_FILE = defineIoctl(
  'DMA_BUF_IOCTL_IMPORT_SYNC_FILE',
  {
    flags: flags(RW),
    fd: fd<SyncFile>('sync_file', isOpenSyncFile, { errno: 'EINVAL' }),
  },
  { rules: [needsAccess()] },
);

/** The dma-buf ioctls, by kernel name (for conformance and fuzzing). */
export const DMA_BUF_IOCTLS = {
  DMA_BUF_IOCTL_EXPORT_SYNC_FILE: DMA_BUF_EXPORT_SYNC_FILE,
  DMA_BUF_IOCTL_IMPORT_SYNC_FILE: DMA_BUF_IMPORT_SYNC_FILE,
} as const;

/** Trace one dma-buf ioctl as a `drm:ioctl` slice (file: `<exporter>/dmabuf<id>`). */
async function traced<R>(buf: DmaBuf, name: string, body: () => R | Promise<R>): Promise<R> {
  const rt = buf.exporter.runtime;
  const start = rt.now();
  let ret = 0;
  try {
    return await body();
  } catch (e) {
    ret = isDepError(e) ? e.errno : -5;
    throw e;
  } finally {
    if (rt.trace.enabled) rt.trace.emit('drm:ioctl', { file: `${buf.exporter.name}/dmabuf${buf.id}`, ioctl: name, ret }, { ph: 'X', ts: start, dur: rt.now() - start });
  }
}

/**
 * `dma_buf_export_sync_file()`: a new sync_file holding the fences an access of the given
 * kind must wait for — `dma_resv_usage_rw(flags & WRITE)`: for READ the KERNEL and WRITE
 * fences (a reader waits for writers), for WRITE (or RW) every fence up to READ (a writer
 * waits for readers too). BOOKKEEP fences are never part of it. Several fences come as
 * one `dma_resv_get_singleton()` array (flat: a resv holds leaves only), none as the
 * always-signalled stub.
 *
 * Process context; takes no lock (the resv is read with the unlocked iterator). Fails
 * with DepError, changing nothing: EBADF for a closed fd (at the caller), EINVAL for bad
 * flags, ENOMEM from the allocation hook (sites `dma_resv_get_fences`, the array's,
 * `sync_file_alloc`).
 */
export async function dmaBufExportSyncFile(buf: DmaBuf, args: Args<typeof DMA_BUF_EXPORT_SYNC_FILE.spec>): Promise<{ readonly fd: SyncFile }> {
  return traced(buf, DMA_BUF_EXPORT_SYNC_FILE.name, () => {
    const a = DMA_BUF_EXPORT_SYNC_FILE.validate(args);
    const usage = usageRw((a.flags & WRITE) !== 0);
    const fence: Fence = buf.resv.getSingleton(usage) ?? getStub(buf.exporter.runtime);
    try {
      return { fd: SyncFile.create(fence) };
    } finally {
      fence.put();
    }
  });
}

/**
 * `dma_buf_import_sync_file()`: add every fence of the sync_file (unwrapped: the leaves
 * of its arrays and chains, since a resv holds leaves only) to the dma-buf's resv with
 * usage WRITE when `flags` has `DMA_BUF_SYNC_WRITE`, else READ. Under the resv lock
 * (`dma_resv_lock(resv, NULL)`), after reserving a slot per leaf. The fences are foreign
 * to the caller (it is not on their completion path), so no fence-signalling section
 * begins.
 *
 * Process context; sleeps (the resv lock, the slot allocation). Fails with DepError,
 * changing nothing: EBADF for a closed fd (at the caller), EINVAL for bad flags or an fd
 * that is no open sync_file, EINVAL for a fence of another runtime, ENOMEM when reserving
 * the slots fails (site `dma_resv_reserve_fences`: the resv keeps its fences).
 */
export async function dmaBufImportSyncFile(buf: DmaBuf, args: Args<typeof DMA_BUF_IMPORT_SYNC_FILE.spec>): Promise<void> {
  return traced(buf, DMA_BUF_IMPORT_SYNC_FILE.name, async () => {
    const a = DMA_BUF_IMPORT_SYNC_FILE.validate(args);
    const who = DMA_BUF_IMPORT_SYNC_FILE.name;
    const fence = a.fd.getFence();
    try {
      const resv = buf.resv;
      if (fence.runtime !== resv.runtime) throw new DepError('EINVAL', `${who}: the sync_file's fence belongs to another runtime than ${buf.toString()}`);
      const usage = (a.flags & WRITE) !== 0 ? DmaResvUsage.WRITE : DmaResvUsage.READ;
      let numFences = 0;
      for (const f of unwrapForEach(fence)) {
        void f;
        ++numFences;
      }
      if (numFences === 0) return;
      await resv.lock(null);
      try {
        if (resv.reserveFences(numFences) !== 0) {
          throw new DepError('ENOMEM', `${who}: could not reserve ${numFences} fence slot(s) in ${buf.toString()}; nothing was added`);
        }
        for (const f of unwrapForEach(fence)) resv.addFence(f, usage, { foreign: true });
      } finally {
        resv.unlock();
      }
    } finally {
      fence.put();
    }
  });
}
