// Public API of @dep/driver-xe: explicit named re-exports only. Anything not exported here
// does not exist for other packages.
export { XeDevice, type XeDeviceOptions } from './device.js';
export { XeFile } from './file.js';
export {
  XE_G2H_TIMEOUT,
  XE_MAX_JOB_DWORDS,
  XE_RING_DWORDS,
  XE_TIMEOUT_SLACK,
  XeExecQueue,
  XeHwFence,
  XeJob,
  type XeExecQueueOptions,
  type XeExecQueueState,
} from './exec-queue.js';
export { XeVm, type XeVmOptions } from './vm.js';
export { XeEngineGroup, engineGroupOf, type XeExecMode } from './engine-group.js';
export {
  XE_CONVERT_FLAG_SIGNAL,
  XE_EXEC,
  XE_EXEC_QUEUE_CREATE,
  XE_EXEC_QUEUE_DESTROY,
  XE_SYNC_FLAG_SIGNAL,
  XE_VM_BIND,
  XE_VM_CONVERT_FENCE,
  XE_VM_CREATE,
  XE_VM_DESTROY,
  XeEngineClass,
  XeSyncType,
  XeVmBindOp,
  XeVmCreateFlags,
  xeBindOp,
  xeConvertEntry,
  xeEngineInstance,
  xeSync,
  type XeDeepArgs,
  type XeIoctlArgs,
} from './uapi.js';
