/**
 * The xe uAPI (include/uapi/drm/xe_drm.h) as the model takes it: constants and the
 * argument schemas of the driver's ioctls. Output fields (`vm_id`, `exec_queue_id` …) are
 * returned, not passed. Model-only fields are marked as such.
 */
import { array, countOf, defineIoctl, flags, handle, oneOf, pad, rule, struct, u16, u32, u64, type IoctlSchema, type Parsed } from '@dep/drm';

/** Every field optional, at every depth (absent reads as zero, as the validator treats it). */
export type XeDeepArgs<T> = T extends readonly (infer E)[]
  ? readonly XeDeepArgs<E>[]
  : T extends bigint | number | string | boolean
    ? T
    : T extends object
      ? { readonly [K in keyof T]?: XeDeepArgs<T[K]> }
      : T;

/**
 * The argument object of an xe ioctl: `@dep/drm`'s `IoctlArgs` makes only the top level
 * optional, while the elements of `syncs`, `binds` and `instances` are C structs whose
 * absent members read as zero too.
 */
export type XeIoctlArgs<S> = S extends IoctlSchema<infer F> ? XeDeepArgs<Parsed<F>> : never;

/** `DRM_XE_VM_CREATE_FLAG_*`. FAULT_MODE needs LR_MODE; page faults themselves are not modelled (every bound page is resident). */
export const XeVmCreateFlags = {
  SCRATCH_PAGE: 1 << 0,
  LR_MODE: 1 << 1,
  FAULT_MODE: 1 << 2,
} as const;

/** `DRM_XE_VM_BIND_OP_*` (MAP_USERPTR and PREFETCH are not modelled). */
export const XeVmBindOp = { MAP: 0, UNMAP: 1 } as const;

/** `DRM_XE_SYNC_TYPE_*`. */
export const XeSyncType = { SYNCOBJ: 0, TIMELINE_SYNCOBJ: 1, USER_FENCE: 2 } as const;

/** `DRM_XE_SYNC_FLAG_SIGNAL`: an out-sync (without it: an in-sync to wait for). */
export const XE_SYNC_FLAG_SIGNAL = 1 << 0;

/** `DRM_XE_ENGINE_CLASS_*`. */
export const XeEngineClass = { RENDER: 0, COPY: 1, VIDEO_DECODE: 2, VIDEO_ENHANCE: 3, COMPUTE: 4 } as const;

/** Model-side flag of the convert ioctl entries: export (memory → fence) when set, import (fence → memory) otherwise. */
export const XE_CONVERT_FLAG_SIGNAL = XE_SYNC_FLAG_SIGNAL;

/** `struct drm_xe_sync`. `addr` is a GPU VA in the queue's VM for USER_FENCE (8-byte aligned). */
export const xeSync = struct({
  type: oneOf([XeSyncType.SYNCOBJ, XeSyncType.TIMELINE_SYNCOBJ, XeSyncType.USER_FENCE]),
  flags: flags(XE_SYNC_FLAG_SIGNAL),
  handle: u32(),
  addr: u64(),
  timelineValue: u64(),
  pad: pad(),
});

/** `struct drm_xe_vm_create`. */
export const XE_VM_CREATE = defineIoctl('DRM_IOCTL_XE_VM_CREATE', {
  extensions: u64({ max: 0n }),
  flags: flags(XeVmCreateFlags.SCRATCH_PAGE | XeVmCreateFlags.LR_MODE | XeVmCreateFlags.FAULT_MODE),
  pad: pad(),
});

/** `struct drm_xe_vm_destroy`. */
export const XE_VM_DESTROY = defineIoctl('DRM_IOCTL_XE_VM_DESTROY', {
  vmId: handle('vm'),
  pad: pad(),
});

/** `struct drm_xe_vm_bind_op`. */
export const xeBindOp = struct({
  obj: handle('gem', { optional: true }),
  objOffset: u64(),
  range: u64(),
  addr: u64(),
  op: oneOf([XeVmBindOp.MAP, XeVmBindOp.UNMAP]),
  flags: flags(0),
  pad: pad(),
});

/** `struct drm_xe_vm_bind` (binds run on the CPU in the model: no bind queue). */
export const XE_VM_BIND = defineIoctl('DRM_IOCTL_XE_VM_BIND', {
  vmId: handle('vm'),
  execQueueId: u32({ max: 0 }),
  numBinds: countOf('binds', { min: 1, max: 512 }),
  binds: array(xeBindOp, { count: 'numBinds' }),
  numSyncs: countOf('syncs', { max: 1024 }),
  syncs: array(xeSync, { count: 'numSyncs' }),
  pad: pad(),
});

/** `struct drm_xe_engine_class_instance`. */
export const xeEngineInstance = struct({
  engineClass: oneOf([XeEngineClass.RENDER, XeEngineClass.COPY, XeEngineClass.VIDEO_DECODE, XeEngineClass.VIDEO_ENHANCE, XeEngineClass.COMPUTE]),
  engineInstance: u16(),
  gtId: u16({ max: 0 }),
  pad: pad(),
});

/** `struct drm_xe_exec_queue_create` (width 1: parallel submission is not modelled; no extensions). */
export const XE_EXEC_QUEUE_CREATE = defineIoctl('DRM_IOCTL_XE_EXEC_QUEUE_CREATE', {
  extensions: u64({ max: 0n }),
  width: u16({ min: 1, max: 1 }),
  numPlacements: u16({ min: 1, max: 1 }),
  vmId: handle('vm'),
  flags: flags(0),
  instances: array(xeEngineInstance, { min: 1, max: 1 }),
  /** Model-only: the GuC priority (0 highest … 3). Default 2 (KMD_NORMAL, xe's default for user queues). */
  priority: u32({ max: 3 }),
});

/** `struct drm_xe_exec_queue_destroy`. */
export const XE_EXEC_QUEUE_DESTROY = defineIoctl('DRM_IOCTL_XE_EXEC_QUEUE_DESTROY', {
  execQueueId: handle('exec_queue'),
  pad: pad(),
});

/** `struct drm_xe_exec`. `units` is model-only: the work the batch at `address` does (hw-sim cost units). */
export const XE_EXEC = defineIoctl(
  'DRM_IOCTL_XE_EXEC',
  {
    extensions: u64({ max: 0n }),
    execQueueId: handle('exec_queue'),
    numSyncs: countOf('syncs', { max: 1024 }),
    syncs: array(xeSync, { count: 'numSyncs' }),
    address: u64(),
    /** 1 (the queue's width), or 0: no job — the out-syncs get the in-fences and the queue's last fence. */
    numBatchBuffer: u16({ max: 1 }),
    units: u32({ max: 1_000_000 }),
    pad: pad(),
  },
  {
    rules: [
      rule('at most one user-fence sync', 'EINVAL', (a) => (a.syncs.filter((s) => s.type === XeSyncType.USER_FENCE).length > 1 ? 'xe allows one DRM_XE_SYNC_TYPE_USER_FENCE per exec' : null)),
    ],
  },
);

/** One entry of the user-fence convert ioctl (rfc-designs C.2): a syncobj paired with a 64-bit location of a BO. */
export const xeConvertEntry = struct({
  handle: u32(),
  flags: flags(XE_CONVERT_FLAG_SIGNAL),
  bo: handle('gem'),
  offset: u64(),
  value: u64(),
  pad: pad(),
});

/** The user-fence convert ioctl of the Xe UMD-submission RFC (patches 21/22): both directions. */
export const XE_VM_CONVERT_FENCE = defineIoctl('DRM_IOCTL_XE_VM_CONVERT_FENCE', {
  vmId: handle('vm'),
  numSyncs: countOf('syncs', { min: 1, max: 1024 }),
  syncs: array(xeConvertEntry, { count: 'numSyncs' }),
  pad: pad(),
});
