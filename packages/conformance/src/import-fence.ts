/**
 * Helpers for adapters: turning the kit's in-fences into what a submit ioctl takes.
 */
import { SyncFile, type Fence } from '@dep/dma-fence';
import { SyncobjFdToHandleFlags, type DrmFile } from '@dep/drm';
import { DepError } from '@dep/kernel';

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

/**
 * The submit of a syncobj uAPI, as userspace does it: each of `deps` imported into a new
 * in-syncobj ({@link importFence}), a new out-syncobj, then `submit(ins, out)` — the
 * driver's submit ioctl naming them — and the fence the out-syncobj then holds (a new
 * reference) is returned. Every syncobj made here is destroyed again, also when the submit
 * throws. Process context; the submit's `DepError` propagates; an out-syncobj the submit
 * left empty is an adapter bug (EINVAL).
 */
export async function submitWithSyncobjs(
  file: DrmFile,
  deps: readonly Fence[],
  submit: (ins: readonly number[], out: number) => Promise<unknown>,
): Promise<Fence> {
  const ins: number[] = [];
  let out = 0;
  try {
    for (const d of deps) ins.push(await importFence(file, d));
    out = (await file.syncobjCreate()).handle;
    await submit(ins, out);
    const fence = file.syncobjs.lookup(out)?.fenceGet() ?? null;
    if (fence === null) throw new DepError('EINVAL', `${file.label}: the submit left out-syncobj ${out} without a fence`);
    return fence;
  } finally {
    for (const handle of ins) await file.syncobjDestroy({ handle });
    if (out !== 0) await file.syncobjDestroy({ handle: out });
  }
}
