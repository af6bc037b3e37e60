// Public API of @dep/dma-resv: explicit named re-exports only. Anything not exported here
// does not exist for other packages.
export { DmaResvUsage, isUsage, usageName, usageRw, type DmaResvUsageName } from './usage.js';
export { DmaResv, type AddFenceOptions, type DmaResvOptions, type ResvWaitOptions } from './resv.js';
export { DmaResvIter } from './iter.js';
export { RESV_LOCK_CLASS, RESV_LOCKDEP_ORDER, reservationWwClass } from './runtime-state.js';
export { enablePreemptUsage, preemptUsageEnabled } from './preempt.js';
export { DrmExec, type DrmExecObject, type DrmExecOptions } from './exec.js';
