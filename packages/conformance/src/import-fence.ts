/**
 * Helpers for adapters: turning the kit's in-fences into what a submit ioctl takes.
 */
import { SyncFile, type Fence } from '@dep/dma-fence';
import { SyncobjFdToHandleFlags, type DrmFile } from '@dep/drm';

/**
 * Put `fence` into a new binary syncobj of `file` the way userspace would (create a
 * syncobj, `SYNCOBJ_FD_TO_HANDLE` with `IMPORT_SYNC_FILE` from a sync_file of the fence)
 * and return its handle, for an in-sync / wait sync op. The caller destroys the syncobj
 * after the submit. The caller keeps its reference to `fence`. Process context; may throw
 * `DepError` (ENOMEM) with nothing left behind.
 */
export async function importFence(file: DrmFile, fence: Fence): Promise<number> {
  const { handle } = await file.syncobjCreate();
  const sync = SyncFile.create(fence);
  try {
    await file.syncobjFdToHandle({ fd: sync, handle, flags: SyncobjFdToHandleFlags.IMPORT_SYNC_FILE });
  } catch (e) {
    await file.syncobjDestroy({ handle });
    throw e;
  } finally {
    sync.close();
  }
  return handle;
}
