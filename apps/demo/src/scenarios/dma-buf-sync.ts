/**
 * Userspace's implicit-sync bridge for drivers that do not do implicit sync themselves
 * (panthor adds its fences BOOKKEEP and waits for none): Mesa exports a sync_file from the
 * dma-buf for the access it is about to make and imports it into an in-syncobj of its
 * explicit-sync submit.
 *
 * `DMA_BUF_IOCTL_EXPORT_SYNC_FILE` (drivers/dma-buf/dma-buf.c, `dma_buf_export_sync_file`):
 * the singleton of the dma-buf resv's fences of `dma_resv_usage_rw(write)` — a reader gets
 * the WRITE fences, a writer READ and WRITE — or the signalled stub when there are none,
 * wrapped in a new sync_file. No lock is taken (an unlocked snapshot, as the kernel).
 */
import { SyncFile, getStub } from '@dep/dma-fence';
import { usageRw } from '@dep/dma-resv';
import type { DmaBufFd } from '@dep/drm';
import { DepError } from '@dep/kernel';

/** `DMA_BUF_SYNC_READ` / `DMA_BUF_SYNC_WRITE` of `struct dma_buf_export_sync_file`. */
export const DMA_BUF_SYNC_READ = 1;
export const DMA_BUF_SYNC_WRITE = 2;

/**
 * `DMA_BUF_IOCTL_EXPORT_SYNC_FILE` on a dma-buf fd. EINVAL for flags other than READ
 * and/or WRITE (or none of them), EBADF for a closed fd, ENOMEM (fault injection: the
 * fence array or the sync_file) with nothing held. Returns a sync_file the caller closes.
 */
export function dmaBufExportSyncFile(fd: DmaBufFd, flags: number): SyncFile {
  const who = 'DMA_BUF_IOCTL_EXPORT_SYNC_FILE';
  if (!Number.isInteger(flags) || (flags & ~(DMA_BUF_SYNC_READ | DMA_BUF_SYNC_WRITE)) !== 0 || flags === 0) {
    throw new DepError('EINVAL', `${who}: flags must be DMA_BUF_SYNC_READ and/or DMA_BUF_SYNC_WRITE, got ${String(flags)}`);
  }
  const buf = fd.dmaBuf; // EBADF once closed
  const fence = buf.resv.getSingleton(usageRw((flags & DMA_BUF_SYNC_WRITE) !== 0)) ?? getStub(buf.resv.runtime);
  try {
    return SyncFile.create(fence);
  } finally {
    fence.put();
  }
}
