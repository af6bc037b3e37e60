/**
 * The syncobj file (`anon_inode_getfile("syncobj_file", …)`) behind
 * `DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD`: a file-descriptor-like token that holds a reference on
 * the syncobj, so another client can import the very same syncobj.
 */
import type { Syncobj } from '@dep/dma-fence';
import { DepError, GFP_KERNEL } from '@dep/kernel';

/**
 * A file descriptor referring to a syncobj. Every export makes a new one (as the kernel
 * makes a new anon file), each with its own reference; importing one creates a new handle
 * (no de-duplication, unlike dma-bufs). {@link SyncobjFd.close} drops the reference; a
 * second close is EBADF.
 */
export class SyncobjFd {
  #syncobj: Syncobj | null;

  /** @internal `drm_syncobj_get_fd()`: allocates the file (site `anon_inode_getfile`), takes a reference. */
  constructor(syncobj: Syncobj) {
    syncobj.runtime.alloc(GFP_KERNEL, 'anon_inode_getfile');
    this.#syncobj = syncobj.get();
  }

  /** True once closed. */
  get closed(): boolean {
    return this.#syncobj === null;
  }

  /** The syncobj (EBADF once closed). */
  get syncobj(): Syncobj {
    const s = this.#syncobj;
    if (s === null) throw new DepError('EBADF', 'syncobj fd: it was closed; keep it open while you use it');
    return s;
  }

  /** `close(fd)` (`drm_syncobj_file_release`): drop the reference. EBADF if already closed. */
  close(): void {
    const s = this.syncobj;
    this.#syncobj = null;
    s.put();
  }

  toString(): string {
    return this.#syncobj === null ? 'SyncobjFd (closed)' : 'SyncobjFd';
  }
}

/** True for an open {@link SyncobjFd}. */
export function isOpenSyncobjFd(v: unknown): v is SyncobjFd {
  return v instanceof SyncobjFd && !v.closed;
}
