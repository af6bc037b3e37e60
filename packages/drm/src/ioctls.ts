/**
 * The argument schemas of the core ioctls (include/uapi/drm/drm.h structs), in the order
 * and with the errnos of drivers/gpu/drm/drm_gem.c, drm_prime.c and drm_syncobj.c. Output
 * fields of the structs (`handle` of a create, `fd` of an export, `first_signaled` …) are
 * returned, not passed.
 */
import { SyncFile, SyncobjCreateFlags, SyncobjQueryFlags, SyncobjWaitFlags } from '@dep/dma-fence';
import { isOpenDmaBufFd, type DmaBufFd } from './prime.js';
import { isOpenSyncobjFd, type SyncobjFd } from './syncobj-fd.js';
import { DRM_CLOEXEC, DRM_RDWR, GemCreateFlags, PAGE_SIZE, SyncobjFdToHandleFlags, SyncobjHandleToFdFlags } from './uapi.js';
import { array, countOf, defineIoctl, fd, flags, handle, pad, rule, s64, u32, u64 } from './validate.js';

const { WAIT_ALL, WAIT_FOR_SUBMIT, WAIT_AVAILABLE, WAIT_DEADLINE } = SyncobjWaitFlags;

/** Largest GEM object the model's `gemCreate` accepts (the device address space, 2^40). */
export const GEM_MAX_SIZE = 1n << 40n;

function isOpenSyncFile(v: unknown): v is SyncFile {
  return v instanceof SyncFile && !v.closed;
}

function isSyncToken(v: unknown): v is SyncobjFd | SyncFile {
  return isOpenSyncobjFd(v) || isOpenSyncFile(v);
}

/** EBADF for something that is no open file at all, EINVAL for an open file of another kind. */
function fdErrno(v: unknown): 'EBADF' | 'EINVAL' {
  const open = isOpenSyncobjFd(v) || isOpenSyncFile(v) || isOpenDmaBufFd(v);
  return open ? 'EINVAL' : 'EBADF';
}

/**
 * The model's generic GEM create: a driver's BO-create ioctl (`DRM_IOCTL_XE_GEM_CREATE`,
 * `DRM_IOCTL_PANTHOR_BO_CREATE`, `DRM_IOCTL_AMDXDNA_CREATE_BO`) reduced to what they share —
 * a page-aligned size, a placement flag, an optional VM the object is private to. Not a
 * core kernel ioctl (the core has only dumb buffers).
 */
export const GEM_CREATE = defineIoctl('DRM_IOCTL_GEM_CREATE', {
  size: u64({ min: 1n, max: GEM_MAX_SIZE, align: BigInt(PAGE_SIZE) }),
  flags: flags(GemCreateFlags.VRAM),
  vmId: handle('vm', { optional: true }),
  pad: pad(),
});

/** `struct drm_gem_close`. The kernel never checked `pad`; a handle naming nothing is EINVAL. */
export const GEM_CLOSE = defineIoctl('DRM_IOCTL_GEM_CLOSE', {
  handle: handle('gem', { missing: 'EINVAL' }),
  pad: u32(),
});

/** `struct drm_gem_flink` (in: handle; out: name). */
export const GEM_FLINK = defineIoctl('DRM_IOCTL_GEM_FLINK', {
  handle: handle('gem'),
});

/** `struct drm_gem_open` (in: name; out: handle, size). */
export const GEM_OPEN = defineIoctl('DRM_IOCTL_GEM_OPEN', {
  name: handle('flink'),
});

/** `struct drm_prime_handle`, handle → fd: flags may only be `DRM_CLOEXEC | DRM_RDWR`. */
export const PRIME_HANDLE_TO_FD = defineIoctl('DRM_IOCTL_PRIME_HANDLE_TO_FD', {
  handle: handle('gem'),
  flags: flags(DRM_CLOEXEC | DRM_RDWR),
});

/** `struct drm_prime_handle`, fd → handle: the kernel ignores `flags`. */
export const PRIME_FD_TO_HANDLE = defineIoctl('DRM_IOCTL_PRIME_FD_TO_HANDLE', {
  fd: fd<DmaBufFd>('dma-buf fd', isOpenDmaBufFd, { errno: fdErrno }),
  flags: u32(),
});

/** `struct drm_syncobj_create`. */
export const SYNCOBJ_CREATE = defineIoctl(
  'DRM_IOCTL_SYNCOBJ_CREATE',
  { flags: flags(SyncobjCreateFlags.SIGNALED) },
  { feature: 'syncobj' },
);

/** `struct drm_syncobj_destroy`: a handle naming nothing is EINVAL (`idr_remove` found nothing). */
export const SYNCOBJ_DESTROY = defineIoctl(
  'DRM_IOCTL_SYNCOBJ_DESTROY',
  { handle: handle('syncobj', { missing: 'EINVAL' }), pad: pad() },
  { feature: 'syncobj' },
);

/**
 * `struct drm_syncobj_handle`, handle → fd (newest kernels: `TIMELINE` and `point`). A
 * handle naming nothing is EINVAL for a syncobj export, ENOENT for a sync_file export
 * (`drm_syncobj_find_fence`); a non-zero point without `EXPORT_SYNC_FILE` is EINVAL.
 */
export const SYNCOBJ_HANDLE_TO_FD = defineIoctl(
  'DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD',
  {
    handle: handle('syncobj', { missing: (a) => (((a.flags as number) & SyncobjHandleToFdFlags.EXPORT_SYNC_FILE) !== 0 ? 'ENOENT' : 'EINVAL') }),
    flags: flags(SyncobjHandleToFdFlags.EXPORT_SYNC_FILE | SyncobjHandleToFdFlags.TIMELINE),
    pad: pad(),
    point: u64(),
  },
  {
    feature: 'syncobj',
    rules: [
      rule('a point needs EXPORT_SYNC_FILE', 'EINVAL', (a) =>
        a.point !== 0n && (a.flags & SyncobjHandleToFdFlags.EXPORT_SYNC_FILE) === 0 ? `point ${a.point} is only meaningful with EXPORT_SYNC_FILE` : null,
      (v) => [{ why: 'a point without EXPORT_SYNC_FILE', args: { ...v, flags: 0, point: 1n } }]),
    ],
  },
);

/**
 * `struct drm_syncobj_handle`, fd → handle. With `IMPORT_SYNC_FILE` the fd is a sync_file
 * whose fence goes into the existing syncobj `handle` (ENOENT if it names nothing) at
 * `point` (with `TIMELINE`); without it the fd is a syncobj fd and a new handle is made.
 * Any other file is EINVAL, as the kernel says for both.
 */
export const SYNCOBJ_FD_TO_HANDLE = defineIoctl(
  'DRM_IOCTL_SYNCOBJ_FD_TO_HANDLE',
  {
    fd: fd<SyncobjFd | SyncFile>('syncobj fd or sync_file', isSyncToken, { errno: 'EINVAL' }),
    handle: handle('syncobj', { optional: true, missing: (a) => (((a.flags as number) & SyncobjFdToHandleFlags.IMPORT_SYNC_FILE) !== 0 ? 'ENOENT' : null) }),
    flags: flags(SyncobjFdToHandleFlags.IMPORT_SYNC_FILE | SyncobjFdToHandleFlags.TIMELINE),
    pad: pad(),
    point: u64(),
  },
  {
    feature: 'syncobj',
    rules: [
      rule('a point needs IMPORT_SYNC_FILE', 'EINVAL', (a) =>
        a.point !== 0n && (a.flags & SyncobjFdToHandleFlags.IMPORT_SYNC_FILE) === 0 ? `point ${a.point} is only meaningful with IMPORT_SYNC_FILE` : null,
      (v) => [{ why: 'a point without IMPORT_SYNC_FILE', args: { ...v, flags: 0, point: 1n } }]),
      rule('the fd matches the flags', 'EINVAL', (a) => {
        const importing = (a.flags & SyncobjFdToHandleFlags.IMPORT_SYNC_FILE) !== 0;
        if (importing && !(a.fd instanceof SyncFile)) return 'IMPORT_SYNC_FILE needs a sync_file fd';
        if (!importing && !isOpenSyncobjFd(a.fd)) return 'without IMPORT_SYNC_FILE the fd must be a syncobj fd';
        return null;
      }),
    ],
  },
);

const syncobjHandles = array(handle('syncobj'), { count: 'countHandles' });

/**
 * `struct drm_syncobj_wait`: `timeoutNsec` is absolute (runtime clock, ns; 0 polls);
 * `deadlineNsec` counts with `WAIT_DEADLINE`. The kernel does not check `pad`; a count of
 * 0 returns at once (success).
 */
export const SYNCOBJ_WAIT = defineIoctl(
  'DRM_IOCTL_SYNCOBJ_WAIT',
  {
    flags: flags(WAIT_ALL | WAIT_FOR_SUBMIT | WAIT_DEADLINE),
    countHandles: countOf('handles'),
    handles: syncobjHandles,
    timeoutNsec: s64(),
    pad: u32(),
    deadlineNsec: u64(),
  },
  { feature: 'syncobj' },
);

/** `struct drm_syncobj_timeline_wait`: {@link SYNCOBJ_WAIT} with a point per handle (absent: all 0) and `WAIT_AVAILABLE`. */
export const SYNCOBJ_TIMELINE_WAIT = defineIoctl(
  'DRM_IOCTL_SYNCOBJ_TIMELINE_WAIT',
  {
    flags: flags(WAIT_ALL | WAIT_FOR_SUBMIT | WAIT_AVAILABLE | WAIT_DEADLINE),
    countHandles: countOf('handles'),
    handles: syncobjHandles,
    points: array(u64(), { count: 'countHandles', nullable: true }),
    timeoutNsec: s64(),
    pad: u32(),
    deadlineNsec: u64(),
  },
  { feature: 'syncobjTimeline' },
);

/** `struct drm_syncobj_array` of `DRM_IOCTL_SYNCOBJ_RESET`: at least one handle, `pad` 0. */
export const SYNCOBJ_RESET = defineIoctl(
  'DRM_IOCTL_SYNCOBJ_RESET',
  { countHandles: countOf('handles', { min: 1 }), handles: syncobjHandles, pad: pad() },
  { feature: 'syncobj' },
);

/** `struct drm_syncobj_array` of `DRM_IOCTL_SYNCOBJ_SIGNAL`. */
export const SYNCOBJ_SIGNAL = defineIoctl(
  'DRM_IOCTL_SYNCOBJ_SIGNAL',
  { countHandles: countOf('handles', { min: 1 }), handles: syncobjHandles, pad: pad() },
  { feature: 'syncobj' },
);

/** `struct drm_syncobj_timeline_array` of `DRM_IOCTL_SYNCOBJ_TIMELINE_SIGNAL`: `flags` must be 0; absent points are 0. */
export const SYNCOBJ_TIMELINE_SIGNAL = defineIoctl(
  'DRM_IOCTL_SYNCOBJ_TIMELINE_SIGNAL',
  {
    countHandles: countOf('handles', { min: 1 }),
    handles: syncobjHandles,
    points: array(u64(), { count: 'countHandles', nullable: true }),
    flags: flags(0),
  },
  { feature: 'syncobjTimeline' },
);

/** `struct drm_syncobj_timeline_array` of `DRM_IOCTL_SYNCOBJ_QUERY` (the points are returned). */
export const SYNCOBJ_QUERY = defineIoctl(
  'DRM_IOCTL_SYNCOBJ_QUERY',
  { countHandles: countOf('handles', { min: 1 }), handles: syncobjHandles, flags: flags(SyncobjQueryFlags.LAST_SUBMITTED) },
  { feature: 'syncobjTimeline' },
);

/** `struct drm_syncobj_transfer`: `flags` go to `drm_syncobj_find_fence` (WAIT_FOR_SUBMIT only). */
export const SYNCOBJ_TRANSFER = defineIoctl(
  'DRM_IOCTL_SYNCOBJ_TRANSFER',
  {
    srcHandle: handle('syncobj'),
    dstHandle: handle('syncobj'),
    srcPoint: u64(),
    dstPoint: u64(),
    flags: flags(WAIT_FOR_SUBMIT),
    pad: pad(),
  },
  { feature: 'syncobjTimeline' },
);

/** Every core ioctl schema, by kernel name (what a conformance kit iterates). */
export const DRM_CORE_IOCTLS = {
  DRM_IOCTL_GEM_CREATE: GEM_CREATE,
  DRM_IOCTL_GEM_CLOSE: GEM_CLOSE,
  DRM_IOCTL_GEM_FLINK: GEM_FLINK,
  DRM_IOCTL_GEM_OPEN: GEM_OPEN,
  DRM_IOCTL_PRIME_HANDLE_TO_FD: PRIME_HANDLE_TO_FD,
  DRM_IOCTL_PRIME_FD_TO_HANDLE: PRIME_FD_TO_HANDLE,
  DRM_IOCTL_SYNCOBJ_CREATE: SYNCOBJ_CREATE,
  DRM_IOCTL_SYNCOBJ_DESTROY: SYNCOBJ_DESTROY,
  DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD: SYNCOBJ_HANDLE_TO_FD,
  DRM_IOCTL_SYNCOBJ_FD_TO_HANDLE: SYNCOBJ_FD_TO_HANDLE,
  DRM_IOCTL_SYNCOBJ_WAIT: SYNCOBJ_WAIT,
  DRM_IOCTL_SYNCOBJ_TIMELINE_WAIT: SYNCOBJ_TIMELINE_WAIT,
  DRM_IOCTL_SYNCOBJ_RESET: SYNCOBJ_RESET,
  DRM_IOCTL_SYNCOBJ_SIGNAL: SYNCOBJ_SIGNAL,
  DRM_IOCTL_SYNCOBJ_TIMELINE_SIGNAL: SYNCOBJ_TIMELINE_SIGNAL,
  DRM_IOCTL_SYNCOBJ_QUERY: SYNCOBJ_QUERY,
  DRM_IOCTL_SYNCOBJ_TRANSFER: SYNCOBJ_TRANSFER,
} as const;
