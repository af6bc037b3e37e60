// Public API of @dep/queue: explicit named re-exports only. Anything not exported here
// does not exist for other packages.
export { DepQueue } from './queue.js';
export { DepJob, type DepJobOptions } from './job.js';
export { PREEMPT_FENCE_BRAND, isPreemptFence } from './fence.js';
export {
  DepEntity,
  DepPriority,
  DepRing,
  type DepEntityOptions,
  type DepRingOps,
  type DepRingOptions,
  type DepRingPolicy,
  type DepRingStats,
} from './ring.js';
export type {
  ArmedDepJob,
  DepCollectMethod,
  DepJobState,
  DepQueueOps,
  DepQueueOptions,
  DepQueueStats,
  DepTeardown,
  DepTimeoutStatus,
  PushedDepJob,
} from './types.js';
import './trace-events.js';
