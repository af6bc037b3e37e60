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
// Containers (issue 3): array, chain, unwrap/merge/dedup, sync_file, syncobj.
export {
  ARRAY_LOCK_CLASS,
  DmaFenceArray,
  isDmaFenceArray,
  isDmaFenceContainer,
  toDmaFenceArray,
  type DmaFenceArrayOptions,
} from './array.js';
export {
  CHAIN_LOCK_CLASS,
  DmaFenceChain,
  isDmaFenceChain,
  toDmaFenceChain,
  type DmaFenceChainInitOptions,
  type FindSeqnoResult,
} from './chain.js';
export { dedupArray, unwrapCursor, unwrapFirst, unwrapForEach, unwrapMerge, unwrapNext, type FenceUnwrapCursor } from './unwrap.js';
export {
  EPOLLIN,
  SyncFile,
  type SyncFenceInfo,
  type SyncFileInfo,
  type SyncFileInfoRequest,
  type SyncFilePollOptions,
  type SyncMergeOptions,
} from './sync-file.js';
export {
  SYNCOBJ_WAIT_FOR_SUBMIT_TIMEOUT,
  Syncobj,
  SyncobjCreateFlags,
  SyncobjQueryFlags,
  SyncobjWaitFlags,
  type SyncobjCreateOptions,
  type SyncobjFindFenceOptions,
  type SyncobjWaitOptions,
  type SyncobjWaitResult,
} from './syncobj.js';
