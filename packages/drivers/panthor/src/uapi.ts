/**
 * The panthor uAPI (include/uapi/drm/panthor_drm.h) as argument schemas for `@dep/drm`'s
 * validator, with the errnos of drivers/gpu/drm/panthor/panthor_drv.c. Output fields
 * (`id`, `handle`, `group_handle`, `state`, `fatal_queues`) are returned, not passed.
 * `drm_panthor_obj_array` (`stride`, `count`, `array`) is a plain array here.
 */
import { GEM_MAX_SIZE, array, defineIoctl, flags, handle, pad, rule, struct, u32, u64, u8 } from '@dep/drm';

/** `drm_panthor_sync_op.flags`: handle type (low byte) and the signal bit. */
export const PanthorSyncOpFlags = {
  HANDLE_TYPE_MASK: 0xff,
  HANDLE_TYPE_SYNCOBJ: 0,
  HANDLE_TYPE_TIMELINE_SYNCOBJ: 1,
  /** `DRM_PANTHOR_SYNC_OP_WAIT` is 0. */
  WAIT: 0,
  SIGNAL: 0x8000_0000,
} as const;

/** `drm_panthor_vm_bind_op.flags`. */
export const PanthorVmBindOpFlags = {
  MAP_READONLY: 1 << 0,
  MAP_NOEXEC: 1 << 1,
  MAP_UNCACHED: 1 << 2,
  TYPE_MASK: 0xf000_0000,
  TYPE_MAP: 0 << 28,
  TYPE_UNMAP: 1 << 28,
  TYPE_SYNC_ONLY: 2 << 28,
} as const;

/** `drm_panthor_vm_bind.flags`. */
export const PanthorVmBindFlags = {
  /** The ops are jobs on the VM bind queue, with syncs; without it they run in the ioctl. */
  ASYNC: 1 << 0,
} as const;

/** `drm_panthor_bo_flags`. */
export const PanthorBoFlags = {
  NO_MMAP: 1 << 0,
} as const;

/** `enum drm_panthor_group_priority`. */
export const PanthorGroupPriority = {
  LOW: 0,
  MEDIUM: 1,
  HIGH: 2,
  REALTIME: 3,
} as const;

/** `enum drm_panthor_group_state_flags` (the `state` DRM_IOCTL_PANTHOR_GROUP_GET_STATE returns). */
export const PanthorGroupState = {
  /** The group was killed by a job timeout (its own progress timeout). */
  TIMEDOUT: 1 << 0,
  /** A queue of the group hit a fatal fault (`fatalQueues` says which). */
  FATAL_FAULT: 1 << 1,
  /** The group was killed during a reset caused by other groups. */
  INNOCENT: 1 << 2,
} as const;

const SYNC_OP_FLAGS = (PanthorSyncOpFlags.HANDLE_TYPE_MASK | PanthorSyncOpFlags.SIGNAL) >>> 0;

/** `struct drm_panthor_sync_op`. Its checks (`panthor_check_sync_op`) are made by the ioctls. */
export const syncOp = struct({
  flags: flags(SYNC_OP_FLAGS),
  handle: handle('syncobj', { missing: 'EINVAL' }),
  timelineValue: u64(),
});

/** `DRM_IOCTL_PANTHOR_VM_CREATE`: no flags exist; `user_va_range` 0 means the default split. */
export const PANTHOR_VM_CREATE = defineIoctl('DRM_IOCTL_PANTHOR_VM_CREATE', {
  flags: flags(0),
  userVaRange: u64({ max: 1n << 48n, align: 4096n }),
});

/** `DRM_IOCTL_PANTHOR_VM_DESTROY`: a pad must be 0; an id naming no VM is EINVAL (`panthor_vm_pool_destroy_vm`). */
export const PANTHOR_VM_DESTROY = defineIoctl('DRM_IOCTL_PANTHOR_VM_DESTROY', {
  id: handle('vm', { missing: 'EINVAL' }),
  pad: pad(),
});

/** `DRM_IOCTL_PANTHOR_BO_CREATE`: size ≠ 0 (rounded up to pages), known flags, an exclusive VM (EINVAL if it names none). */
export const PANTHOR_BO_CREATE = defineIoctl('DRM_IOCTL_PANTHOR_BO_CREATE', {
  size: u64({ min: 1n, max: GEM_MAX_SIZE }),
  flags: flags(PanthorBoFlags.NO_MMAP),
  exclusiveVmId: handle('vm', { optional: true, missing: 'EINVAL' }),
  pad: pad(),
});

/** `struct drm_panthor_vm_bind_op`. */
export const vmBindOp = struct({
  flags: flags((PanthorVmBindOpFlags.MAP_READONLY | PanthorVmBindOpFlags.MAP_NOEXEC | PanthorVmBindOpFlags.MAP_UNCACHED | PanthorVmBindOpFlags.TYPE_MASK) >>> 0),
  boHandle: handle('gem', { optional: true, missing: 'EINVAL' }),
  boOffset: u64(),
  va: u64(),
  size: u64(),
  syncs: array(syncOp, { max: 64 }),
});

/** `DRM_IOCTL_PANTHOR_VM_BIND`. */
export const PANTHOR_VM_BIND = defineIoctl('DRM_IOCTL_PANTHOR_VM_BIND', {
  vmId: handle('vm', { missing: 'EINVAL' }),
  flags: flags(PanthorVmBindFlags.ASYNC),
  ops: array(vmBindOp, { max: 256 }),
});

/** `struct drm_panthor_queue_create`: `ringbuf_size` a power of two in 4 KiB … 64 KiB. */
export const queueCreate = struct({
  priority: u8({ max: 15 }),
  pad: u8({ max: 0 }),
  ringbufSize: u32({ min: 4096, max: 65536 }),
});

/** `DRM_IOCTL_PANTHOR_GROUP_CREATE` (core masks and counts are not modelled). */
export const PANTHOR_GROUP_CREATE = defineIoctl(
  'DRM_IOCTL_PANTHOR_GROUP_CREATE',
  {
    queues: array(queueCreate, { min: 1, max: 32 }),
    priority: u8({ max: PanthorGroupPriority.REALTIME }),
    pad: pad(),
    vmId: handle('vm', { missing: 'EINVAL' }),
  },
  {
    rules: [
      rule('ringbuf_size is a power of two', 'EINVAL', (a) => {
        const bad = a.queues.findIndex((q) => (q.ringbufSize & (q.ringbufSize - 1)) !== 0);
        return bad < 0 ? null : `queues[${bad}].ringbufSize ${a.queues[bad]!.ringbufSize} is not a power of two`;
      }),
    ],
  },
);

/** `DRM_IOCTL_PANTHOR_GROUP_DESTROY`: a handle naming no group is EINVAL. */
export const PANTHOR_GROUP_DESTROY = defineIoctl('DRM_IOCTL_PANTHOR_GROUP_DESTROY', {
  groupHandle: handle('group', { missing: 'EINVAL' }),
  pad: pad(),
});

/**
 * `struct drm_panthor_queue_submit`. The user command stream is modelled by its size: one
 * instruction (8 bytes) is one unit of the compute cost model. `stream_addr` must lie in a
 * mapping of the group's VM when the job runs, or the queue page-faults (a fatal fault).
 */
export const queueSubmit = struct({
  queueIndex: u32(),
  streamSize: u32(),
  streamAddr: u64(),
  latestFlush: u32(),
  pad: pad(),
  syncs: array(syncOp, { max: 64 }),
});

/** `DRM_IOCTL_PANTHOR_GROUP_SUBMIT`. */
export const PANTHOR_GROUP_SUBMIT = defineIoctl('DRM_IOCTL_PANTHOR_GROUP_SUBMIT', {
  groupHandle: handle('group', { missing: 'EINVAL' }),
  pad: pad(),
  queueSubmits: array(queueSubmit, { max: 64 }),
});

/** `DRM_IOCTL_PANTHOR_GROUP_GET_STATE` (in: group_handle, pad; out: state, fatal_queues). */
export const PANTHOR_GROUP_GET_STATE = defineIoctl('DRM_IOCTL_PANTHOR_GROUP_GET_STATE', {
  groupHandle: handle('group', { missing: 'EINVAL' }),
  pad: pad(),
});

/** Every panthor ioctl schema, by name. */
export const PANTHOR_IOCTLS = {
  VM_CREATE: PANTHOR_VM_CREATE,
  VM_DESTROY: PANTHOR_VM_DESTROY,
  BO_CREATE: PANTHOR_BO_CREATE,
  VM_BIND: PANTHOR_VM_BIND,
  GROUP_CREATE: PANTHOR_GROUP_CREATE,
  GROUP_DESTROY: PANTHOR_GROUP_DESTROY,
  GROUP_SUBMIT: PANTHOR_GROUP_SUBMIT,
  GROUP_GET_STATE: PANTHOR_GROUP_GET_STATE,
} as const;
