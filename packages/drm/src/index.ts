// Public API of @dep/drm: explicit named re-exports only. Anything not exported here
// does not exist for other packages.

// The drm:* tracepoints (declaration merging into @dep/kernel's TraceEventMap).
import './trace-events.js';
export type { DrmIoctlTraceArgs } from './trace-events.js';

// Device and file (the uAPI)
export { DrmDevice, type DrmDeviceOptions, type GemObjectCreateOptions } from './device.js';
export { DrmFile, type IoctlArgs, type IoctlWaitOptions, type SyncobjWaitResult } from './file.js';
export { HandleTable, type HandleTableOptions } from './handle-table.js';

// GEM, PRIME, syncobj fds
export { GemObject, type GemObjectFuncs, type GemObjectInit } from './gem.js';
export { DmaBuf, DmaBufFd, isOpenDmaBufFd } from './prime.js';
export {
  DMA_BUF_EXPORT_SYNC_FILE,
  DMA_BUF_IMPORT_SYNC_FILE,
  DMA_BUF_IOCTLS,
  DmaBufSyncFlags,
  dmaBufExportSyncFile,
  dmaBufImportSyncFile,
} from './dma-buf-sync-file.js';
export { SyncobjFd, isOpenSyncobjFd } from './syncobj-fd.js';

// GPU VM
export { GpuVm, type GpuVa, type GpuVaOp, type GpuVmExecLockOptions, type GpuVmMapOptions, type GpuVmOptions } from './gpuvm.js';

// Submit helpers
export {
  OutSyncs,
  addFenceToObjects,
  collectImplicitDeps,
  lockObjects,
  resolveInSyncs,
  type InSync,
  type LockObjectsOptions,
  type OutSync,
  type SubmitObject,
} from './submit.js';

// uAPI constants and time conversions
export {
  ALL_DRM_FEATURES,
  DRM_CLOEXEC,
  DRM_RDWR,
  DRM_TIMEOUT_INFINITE,
  GemCreateFlags,
  PAGE_SIZE,
  SyncobjFdToHandleFlags,
  SyncobjHandleToFdFlags,
  absTimeoutNs,
  ktimeGetNs,
  nsToMs,
  timeoutAbsToMs,
  type DrmFeature,
} from './uapi.js';

// Ioctl schemas and the validator
export {
  DRM_CORE_IOCTLS,
  GEM_CLOSE,
  GEM_CREATE,
  GEM_FLINK,
  GEM_MAX_SIZE,
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
export {
  IoctlSchema,
  S64_MAX,
  S64_MIN,
  U32_MAX,
  U64_MAX,
  array,
  bool,
  countOf,
  defineIoctl,
  fd,
  flags,
  handle,
  noOverflow,
  oneOf,
  pad,
  pad64,
  rule,
  s32,
  s64,
  string,
  struct,
  u16,
  u32,
  u64,
  u8,
  type Args,
  type ArgsMutation,
  type ArrayOptions,
  type BigIntOptions,
  type CountOptions,
  type FdOptions,
  type Field,
  type FieldDescription,
  type FieldKind,
  type FieldMutation,
  type Fields,
  type FlagsOptions,
  type HandleOptions,
  type IntOptions,
  type IoctlOptions,
  type ParseContext,
  type Parsed,
  type Rule,
} from './validate.js';

// Snapshots
export { describeFence, describeResv, type DrmDeviceSnapshot, type DrmFileSnapshot, type GemObjectSnapshot } from './snapshot.js';
