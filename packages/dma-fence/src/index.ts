// Public API of @dep/dma-fence: explicit named re-exports only. Anything not exported here
// does not exist for other packages.
export { DmaFence, type Fence, type FenceInitOptions, type FenceWaitOptions } from './fence.js';
export type { DmaFenceOps, FenceFunc } from './fence-ops.js';
export { FenceFlag, FENCE_FLAG_USER_MAX } from './flags.js';
export { U64_MAX, seqnoIsLater } from './seqno.js';
export { contextAlloc } from './context.js';
export { getStub, allocatePrivateStub } from './stub.js';
export { ERESTARTSYS, defaultWait, waitAnyTimeout, type WaitAnyResult } from './wait.js';
export { assertActive, isActive } from './inactive.js';
export { beginSignalling, endSignalling } from './signalling.js';
export { fenceWaitsOn, removeFenceWait, fenceWaitsOf, type FenceWait } from './wait-for-graph.js';
export { INLINE_LOCK_CLASS, fenceLabel } from './locking.js';
export type { DmaFenceTraceArgs } from './trace-events.js';
