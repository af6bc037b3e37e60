// Public API of @dep/driver-panthor: explicit named re-exports only. Anything not exported
// here does not exist for other packages.
export { PanthorDevice, PanthorFile, type PanthorDeviceOptions, type PanthorStats } from './device.js';
export { CS_INSTR_BYTES, PanthorGroup, PanthorJob, PanthorQueue, type PanthorGroupFate } from './sched.js';
export { PanthorBindJob, PanthorVm, VM_BIND_QUEUE_CREDITS } from './vm.js';
export {
  PANTHOR_BO_CREATE,
  PANTHOR_GROUP_CREATE,
  PANTHOR_GROUP_DESTROY,
  PANTHOR_GROUP_GET_STATE,
  PANTHOR_GROUP_SUBMIT,
  PANTHOR_IOCTLS,
  PANTHOR_VM_BIND,
  PANTHOR_VM_CREATE,
  PANTHOR_VM_DESTROY,
  PanthorBoFlags,
  PanthorGroupPriority,
  PanthorGroupState,
  PanthorSyncOpFlags,
  PanthorVmBindFlags,
  PanthorVmBindOpFlags,
  queueCreate,
  queueSubmit,
  syncOp,
  vmBindOp,
} from './uapi.js';
