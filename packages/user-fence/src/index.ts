// Public API of @dep/user-fence: explicit named re-exports only. Anything not exported here
// does not exist for other packages. Worker-thread code lives behind '@dep/user-fence/node'.
export { UserFence, type UserFenceAttachOptions, type UserFenceState, type UserFenceWriteMode } from './user-fence.js';
export {
  MemoryFenceDriver,
  USER_FENCE_POLL_INTERVAL,
  USER_FENCE_TIMEOUT,
  UserFenceTdr,
  type MemoryFenceDriverOptions,
  type UserFenceKill,
  type UserFenceTdrOptions,
} from './memory-fence.js';
export type { AtomicsWakeOptions } from './atomics-waiter.js';
export { Seq64Area, type Seq64AreaOptions, type Seq64Slot } from './seq64.js';
