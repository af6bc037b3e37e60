// Public API of @dep/fence-preempt: explicit named re-exports only. Anything not exported
// here does not exist for other packages. The RFC scenarios are in '@dep/fence-preempt/scenarios'.
export {
  PREEMPT_FENCE_BRAND,
  PreemptFence,
  allocPreemptWorkqueue,
  isPreempt,
  type PreemptFenceOps,
  type PreemptFenceOptions,
  type PreemptOrdering,
  type PreemptResult,
  type PreemptStage,
} from './preempt-fence.js';
export { PreemptionManager, type PreemptionManagerOps, type PreemptionManagerOptions } from './manager.js';
export { SIGNAL_PATH_LOCK_CLASSES } from './lock-order.js';
